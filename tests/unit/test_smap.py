"""SMAP sensors, the EASE-Grid 2.0 global 9 km grid and the granule → COG conversion (no
server): values equal the HDF5 files' on the exact grid cells, fills become nodata, L4's
3-hourly granules average into a day, and the quality flags mask what they should."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr
from pyproj import Transformer

from vegcube import indices, sensors
from vegcube.download import ease
from vegcube.download.jobs import Job, window
from vegcube.errors import RecipeError
from vegcube.recipe import load_recipe
from vegcube.sensors.smap import (
    EASE2_CELL,
    EASE2_M09,
    EASE2_SHAPE,
    SMAP_L3,
    SMAP_L4,
    smap_product,
)
from vegcube.testing.smap import L3, L4, generate_smap_archive

h5py = pytest.importorskip("h5py")


def test_ease2_global_9km_grid_is_nsidc_s_and_epsg_6933_s():
    # NSIDC (nsidc.org/ease/ease-grid-projection-gt): 3856 × 1624 cells, outer upper-left
    # corner −17367530.45, 7314540.83 m (given to the cm), cells of 9008.055210146 m
    assert EASE2_SHAPE == (1624, 3856) and EASE2_CELL == 9008.055210146
    assert EASE2_M09.c == pytest.approx(-17367530.45, abs=0.01)
    assert EASE2_M09.f == pytest.approx(7314540.83, abs=0.01)
    # the grid spans the globe's width in EPSG:6933 (cylindrical equal-area, lat_ts 30°)
    to_ease = Transformer.from_crs(4326, 6933, always_xy=True)
    assert to_ease.transform(180, 0)[0] == pytest.approx(-EASE2_M09.c, abs=1e-3)
    # a known place → (row, col): the affine inverse agrees with NSIDC's ease2 formula
    # (cell centres: col = (cols − 1)/2 + x/scale, row = (rows − 1)/2 − y/scale)
    for lon, lat in [(165.49, -21.57), (-105.27, 40.01), (0.01, 0.01), (2.35, 48.85)]:
        x, y = to_ease.transform(lon, lat)
        col, row = (int(np.floor(v)) for v in ~EASE2_M09 * (x, y))
        assert col == round((3856 - 1) / 2 + x / EASE2_CELL)
        assert row == round((1624 - 1) / 2 - y / EASE2_CELL)
    x, y = to_ease.transform(165.49, -21.57)
    assert [int(np.floor(v)) for v in ~EASE2_M09 * (x, y)] == [3700, 1110]


def test_sensors_are_registered_with_mask_keys_and_ready_made_indices():
    assert sensors.for_collection("SPL4SMGP_008") is SMAP_L4
    assert sensors.for_collection("SPL3SMP_E_006") is SMAP_L3
    assert indices.bands_for("SPL4SMGP_008", ["sm_rootzone"]) == ["sm_rootzone", "granule_count"]
    assert indices.bands_for("SPL3SMP_E_006", ["soil_moisture_am"]) == [
        "soil_moisture_am",
        "retrieval_qual_flag_am",
    ]
    assert indices.resolve("sm_rootzone_pctl").bands == ("sm_rootzone_pctl",)
    assert indices.resolve("evi").spyndex_name == "EVI"  # spyndex names stay computed
    assert SMAP_L3.qa_for("soil_moisture_pm") == "retrieval_qual_flag_pm"
    rc = load_recipe({
        "name": "sm", "aoi": {"bbox": [165.3, -21.7, 165.6, -21.4]},
        "time": {"start": "2023-01-01", "end": "2023-01-31"},
        "source": {"catalog": "https://cmr.earthdata.nasa.gov/stac/NSIDC_CPRD",
                   "collection": "SPL4SMGP_008"},
        "indices": ["sm_rootzone"], "composite": {"period": "dekad", "reducer": "mean"},
        "mask": {"smap_l3_qa": ["fill", "not_recommended"], "smap_l4_qa": ["fill"]},
        "output": {"dir": "out"},
    })  # fmt: skip
    assert rc.mask.qa_flags["smap_l3"] == ["fill", "not_recommended"]
    with pytest.raises(RecipeError, match="smap_l3_qa"):
        load_recipe({**rc.model_dump(mode="json"), "mask": {"smap_l3_qa": ["cloudy"]}})


def test_l3_retrieval_quality_bits_0_and_2_and_fill_are_masked():
    q = xr.DataArray(np.array([[0, 1, 2, 4], [5, 8, 9, 65534]], np.uint16), dims=("y", "x"))
    bad, cloud = SMAP_L3.invalid(q)
    assert bad.values.tolist() == [[False, True, False, True], [True, False, True, True]]
    assert not cloud.values.any()
    bad, _ = SMAP_L3.invalid(q, flags=["not_attempted"])  # bit 1 only when asked
    assert bad.values.tolist() == [[False, False, True, False], [False, False, False, False]]
    n = xr.DataArray(np.array([0, 1, 7, 8], np.uint8), dims="x")
    assert SMAP_L4.invalid(n)[0].values.tolist() == [True, False, False, False]
    assert SMAP_L4.invalid(n, flags=["incomplete_day"])[0].values.tolist() == [
        False, True, True, False
    ]  # fmt: skip


def _jobs(product_id: str, keys: list[str], folder, bbox) -> tuple[list[Job], object]:
    product = smap_product(product_id)
    grid = product.global_grid
    qa = set(sensors.for_collection(product_id).qa_bands)
    item = pystac.Item("day", None, None, dt.datetime(2023, 1, 1, 12), {})
    jobs = [Job(item, k, "", folder / f"{k}.tif", True, k in qa, None, None, grid)
            for k in keys]  # fmt: skip
    return jobs, window(grid, bbox, 2)


def test_l3_granule_layers_convert_as_stored_on_the_exact_cells(tmp_path):
    a = generate_smap_archive(tmp_path / "a", product=L3, end="2023-01-02")
    keys = ["soil_moisture_am", "soil_moisture_pm", "retrieval_qual_flag_am"]
    jobs, win = _jobs(L3, keys, tmp_path / "out", a.bbox)
    done = ease.convert_day([a.h5(a.ids[0])], jobs, smap_product(L3), window=win)
    assert [f.mode for f in done] == ["hdf5"] * 3
    (r0, r1), (c0, c1) = win.toranges()
    with h5py.File(a.h5(a.ids[0]), "r") as f:
        am = f["Soil_Moisture_Retrieval_Data_AM/soil_moisture"][r0:r1, c0:c1]
        pm = f["Soil_Moisture_Retrieval_Data_PM/soil_moisture_pm"][r0:r1, c0:c1]
        flag = f["Soil_Moisture_Retrieval_Data_AM/retrieval_qual_flag"][r0:r1, c0:c1]
    for job, want in zip(jobs, (am, pm, flag), strict=True):
        with rasterio.open(job.dest) as ds:
            got = ds.read(1)
            assert ds.crs.to_epsg() == 6933 and ds.dtypes[0] == str(want.dtype)
            assert ds.transform.almost_equals(EASE2_M09 * EASE2_M09.translation(c0, r0))
        np.testing.assert_array_equal(got, want)  # fills already the COG nodata
    assert (am == -9999).any() and (flag == 65534).any() and (am > 0).any()
    # the site's cell is where pyproj puts the site
    x, y = Transformer.from_crs(4326, 6933, always_xy=True).transform(165.49, -21.57)
    with rasterio.open(jobs[0].dest) as ds:
        row, col = ds.index(x, y)
    assert (r0 + row, c0 + col) == a.site


def test_l4_three_hourly_granules_average_into_the_day(tmp_path):
    a = generate_smap_archive(tmp_path / "a", product=L4, end="2023-01-01")
    assert len(a.ids) == 8
    keys = ["sm_rootzone", "sm_surface", "granule_count"]
    jobs, win = _jobs(L4, keys, tmp_path / "out", a.bbox)
    ease.convert_day([a.h5(g) for g in a.ids], jobs, smap_product(L4), window=win)
    (r0, r1), (c0, c1) = win.toranges()
    stack = {}
    for name in ("sm_rootzone", "sm_surface"):
        vals = []
        for g in a.ids:
            with h5py.File(a.h5(g), "r") as f:
                vals.append(f[f"Geophysical_Data/{name}"][r0:r1, c0:c1].astype("float64"))
        stack[name] = np.where(np.stack(vals) == -9999, np.nan, np.stack(vals))
    ok = np.isfinite(stack["sm_rootzone"]) & np.isfinite(stack["sm_surface"])
    count = ok.sum(0)
    got = {}
    for job in jobs:
        with rasterio.open(job.dest) as ds:
            got[job.key] = ds.read(1)
            assert ds.nodata == (255 if job.key == "granule_count" else -9999)
    np.testing.assert_array_equal(got["granule_count"], count)
    for name in ("sm_rootzone", "sm_surface"):
        total = np.where(ok, stack[name], 0).sum(0)
        want = np.where(count > 0, total / np.maximum(count, 1), -9999)
        np.testing.assert_allclose(got[name], want.astype("float32"), rtol=0, atol=1e-7)
    assert (count == 0).any() and (count == 8).any() and ((count > 0) & (count < 8)).any()
