"""Sentinel-2 + Landsat in one cube, per-sensor masks, cross-sensor calibration, and a run."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import vegcube
from vegcube import aoi, calibrate, catalog, cube, indices, mask
from vegcube.errors import RecipeError
from vegcube.recipe import load_recipe
from vegcube.testing.demo import generate_archive
from vegcube.testing.landsat import generate_landsat_archive

GAIN, OFFSET = 0.9, 0.05  # NDVI_landsat = GAIN × NDVI_s2 + OFFSET on the ground
START, END = "2021-11-01", "2022-03-31"
COLLS = ["sentinel-2-l2a", "landsat-c2-l2"]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One static catalog holding both archives over the same land (seed, size)."""
    root = tmp_path_factory.mktemp("s2_landsat")
    s2 = generate_archive(root, size=60, revisit_days=5, start=START, end=END)
    ls = generate_landsat_archive(
        root, size=60, start=START, end=END, ndvi_gain=GAIN, ndvi_offset=OFFSET
    )
    assert ls.bbox == s2.bbox
    return s2, ls


@pytest.fixture(scope="module")
def scenes(both):
    s2, _ = both
    items = []
    for coll in COLLS:
        items += catalog.search(
            str(s2.catalog),
            collection=coll,
            bbox=s2.bbox,
            start=dt.date(2021, 11, 1),
            end=dt.date(2022, 3, 31),
        )
    grid = aoi.grid(aoi.read_aoi(s2.bbox), resolution=30)
    bands = {"sentinel-2-l2a": ["red", "nir", "scl"], "landsat-c2-l2": ["red", "nir", "qa_pixel"]}
    return items, cube.load(items, bands, grid=grid).compute()


def test_one_cube_with_a_sensor_coordinate(scenes):
    items, c = scenes
    sensor = c.sensor.values
    assert set(sensor) == {"sentinel2", "landsat"}
    assert (sensor == "landsat").sum() == sum(it.collection_id == "landsat-c2-l2" for it in items)
    assert (np.diff(c.time.values.astype("int64")) >= 0).all()  # scenes in time order
    assert set(c.platform.values) >= {"sentinel-2a", "landsat-8", "landsat-9", "landsat-7"}
    # each sensor's QA band holds its nodata on the other sensor's scenes
    assert (c.scl.values[sensor == "landsat"] == 0).all()
    assert (c.qa_pixel.values[sensor == "sentinel2"] == 1).all()
    assert c.scl.dtype == np.uint8 and c.qa_pixel.dtype == np.uint16


def test_masks_decoded_per_sensor(scenes):
    _, c = scenes
    ok = mask.valid(c).values
    ls = c.sensor.values == "landsat"
    qa = c.qa_pixel.values[ls]
    cloud = (qa & 0b111010) != 0  # dilated cloud, cloud, shadow, snow
    assert not ok[ls][cloud].any()
    clear = (qa == 21824) & np.isfinite(c.red.values[ls])
    assert ok[ls][clear].all()
    scl = c.scl.values[~ls]
    assert not ok[~ls][np.isin(scl, [0, 1, 3, 8, 9, 10])].any()
    assert ok[~ls][(scl == 4) & np.isfinite(c.nir.values[~ls])].all()
    # the same per sensor, one sensor at a time
    for name in ("landsat", "sentinel2"):
        sub = c.isel(time=c.sensor.values == name)
        np.testing.assert_array_equal(mask.valid(sub).values, ok[c.sensor.values == name])


def test_calibration_recovers_the_known_relation(scenes):
    _, c = scenes
    idx = indices.per_scene(mask.apply(c, mask.valid(c, dilate_m=30)), ["ndvi"])
    f = calibrate.fit(idx, index="ndvi", sensor="landsat", reference="sentinel-2-l2a")
    assert f.slope == pytest.approx(GAIN, abs=0.02)
    assert f.intercept == pytest.approx(OFFSET, abs=0.02)
    assert f.r2 > 0.95 and f.n > 500 and f.scene_pairs >= 5 and f.ok
    # applied, Landsat NDVI lies on the Sentinel-2 scale: a refit is the identity
    fixed = calibrate.apply(idx, [f])
    g = calibrate.fit(fixed, index="ndvi", sensor="landsat", reference="sentinel2")
    assert g.slope == pytest.approx(1, abs=0.005) and g.intercept == pytest.approx(0, abs=0.005)
    s2 = c.sensor.values == "sentinel2"
    np.testing.assert_array_equal(fixed.ndvi.values[s2], idx.ndvi.values[s2])
    # pairs are only scenes at most max_days apart: none at zero days with another sensor
    _, _, n_same_day = calibrate.pairs(
        idx, index="ndvi", sensor="landsat", reference="sentinel2", max_days=0
    )
    assert 0 < n_same_day < f.scene_pairs


def test_fit_line_rma_recovers_slope_with_noise_in_both():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 0.8, 20000)
    ref = truth + rng.normal(0, 0.05, truth.size)
    sen = 0.8 * truth + 0.1 + rng.normal(0, 0.04, truth.size)
    sen[:300] = -0.5  # residual clouds: outliers
    slope, intercept, r2, n = calibrate.fit_line(ref, sen)
    assert slope == pytest.approx(0.8, abs=0.02) and intercept == pytest.approx(0.1, abs=0.01)
    assert n < truth.size - 250 and 0.8 < r2 < 1
    ols, *_ = calibrate.fit_line(ref, sen, method="ols")
    assert ols < 0.78  # regression dilution: why RMA is the default
    assert np.isnan(calibrate.fit_line(ref[:2], sen[:2])[0])


def test_run_mixes_sensors_and_records_the_calibration(both, tmp_path):
    s2, _ = both
    recipe = {
        "name": "s2-landsat",
        "aoi": {"bbox": list(s2.bbox)},
        "time": {"start": START, "end": END},
        "source": {
            "catalog": str(s2.catalog),
            "collection": COLLS,
            "max_cloud_cover": 90,
            "calibrate": {"reference": "sentinel-2-l2a"},
        },
        "grid": {"resolution": 30},
        "mask": {"dilate_m": 30, "landsat_qa": ["fill", "dilated_cloud", "cloud", "shadow"]},
        "indices": ["ndvi"],
        "composite": {"period": "month", "reducer": "median"},
        "output": {"dir": str(tmp_path / "out"), "formats": ["zarr"]},
    }
    result = vegcube.run(recipe)
    comp = xr.open_zarr(result.outputs["composites"])
    (fit,) = calibrate.from_attrs(comp.attrs)
    assert fit["sensor"] == "landsat" and fit["applied"]
    assert fit["slope"] == pytest.approx(GAIN, abs=0.02)
    assert fit["intercept"] == pytest.approx(OFFSET, abs=0.02)
    assert calibrate.from_store(result.outputs["composites"]) == [fit]
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["calibration"] == [fit]  # slope, intercept, r², pairs in run.json
    assert {"slope", "intercept", "r2"} <= set(fit)
    assert any(i.startswith("LC09_") for i in run["items"])
    assert any(i.startswith("S2") for i in run["items"])
    # composites mix sensors: more valid observations in a month than Sentinel-2 scenes in it
    days = pd.DatetimeIndex([i.split("_")[2] for i in run["items"] if i.startswith("S2")])
    s2_per_month = days.to_period("M").value_counts()
    months = pd.DatetimeIndex(comp.time.values).to_period("M")
    most = comp.ndvi_count.max(dim=("y", "x")).values
    assert any(n > s2_per_month.get(m, 0) for m, n in zip(months, most, strict=True))


def test_recipe_collections_and_calibrate_keys():
    base = {
        "name": "t",
        "aoi": {"bbox": [165.3, -21.6, 165.6, -21.4]},
        "time": {"start": "2022-01-01", "end": "2022-02-01"},
        "output": {"dir": "out"},
    }
    one = load_recipe({**base, "source": {"catalog": "earth-search"}})
    assert one.source.collection == "sentinel-2-l2a" and one.source.collections == [
        "sentinel-2-l2a"
    ]
    single = load_recipe({**base, "source": {"catalog": "x", "collection": ["landsat-c2-l2"]}})
    assert single.source.collection == "landsat-c2-l2"
    with pytest.raises(RecipeError, match=r"calibrate\.reference: 'modis-13Q1-061' is not one"):
        load_recipe(
            {
                **base,
                "source": {
                    "catalog": "x",
                    "collection": COLLS,
                    "calibrate": {"reference": "modis-13Q1-061"},
                },
            }
        )
    with pytest.raises(RecipeError, match="needs two or more collections"):
        load_recipe({**base, "source": {"catalog": "x", "calibrate": {"reference": "x"}}})
    with pytest.raises(RecipeError, match=r"source\.collection.*repeated"):
        load_recipe({**base, "source": {"catalog": "x", "collection": COLLS + COLLS[:1]}})
