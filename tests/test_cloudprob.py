"""s2cloudless cloud probability from Sentinel-2 L1C (the `s2cloudless` extra).

The L1C scenes are generated from the L2A demo scenes of the same days, so the generator's
truth (clouds, cirrus, and the cloud-edge halo the SCL leaves unflagged) is known per pixel.
"""

from __future__ import annotations

import datetime as dt

import dask.array as darr
import numpy as np
import pytest
import xarray as xr
import yaml

from vegcube import aoi, catalog, composite, cube, mask
from vegcube.errors import BandError, VegcubeError
from vegcube.runner import plan, run
from vegcube.testing import cloud_truth, generate_archive, generate_l1c_archive

pytest.importorskip("s2cloudless")

START, END = "2021-12-01", "2022-03-31"  # across the 2022-01-25 baseline switch (DN + 1000)
MISSING = "2022-02-06"  # an L2A scene without its L1C


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    demo = generate_archive(
        tmp_path_factory.mktemp("cloudprob"), size=60, start=START, end=END, raster_bands=False
    )
    generate_l1c_archive(demo, missing=[MISSING])
    return demo


@pytest.fixture(scope="module")
def cubes(archive):
    """(L2A scenes, lazy L1C probability) on the run's grid."""
    geom = aoi.read_aoi(list(archive.bbox))
    grid = aoi.grid(geom, resolution=10)
    d0, d1 = dt.date.fromisoformat(START), dt.date.fromisoformat(END)

    def items(coll):
        bbox = tuple(geom.boundingbox)
        return catalog.search(str(archive.catalog), collection=coll, bbox=bbox, start=d0, end=d1)

    l1c = cube.load(
        items("sentinel-2-l1c"), list(mask.CLOUD_PROBABILITY_BANDS), grid=grid, chunk=32
    )
    scenes = cube.load(items("sentinel-2-l2a"), ["red", "nir", "scl"], grid=grid)
    return scenes, l1c, mask.cloud_probability(l1c)


def _truth(archive, like: xr.DataArray) -> np.ndarray:
    """Truth classes (time, y, x) of the scenes of `like` (UTC acquisition days)."""
    days = np.asarray(like.time.values).astype("datetime64[D]").astype(str)
    return np.stack([cloud_truth(archive, d).sel(y=like.y, x=like.x).values for d in days])


def test_probability_is_lazy_and_bounded(cubes):
    _, l1c, prob = cubes
    assert isinstance(prob.data, darr.Array)
    assert prob.dims == ("time", "y", "x") and prob.sizes["time"] == l1c.sizes["time"]
    values = prob.isel(time=slice(0, 3)).values
    assert np.nanmin(values) >= 0 and np.nanmax(values) <= 1


def test_probability_finds_the_clouds_scl_misses(archive, cubes):
    scenes, _, prob = cubes
    p = prob.values
    truth = _truth(archive, prob)
    data = truth != 5
    flagged = (p > 0.4) & data
    cloud, halo, clear = np.isin(truth, (1, 2)), truth == 3, truth == 0
    contaminated = cloud | halo
    # the same scenes' SCL (L2A has one more scene: the one without L1C)
    scl = scenes.scl.sel(time=scenes.solar_day.isin(prob.solar_day.values)).values
    scl_flagged = np.isin(scl, (8, 9, 10)) & data

    def rate(a, b):
        return float((a & b).sum() / b.sum())

    far = clear & ~np.stack([_grow(c) for c in contaminated | (truth == 4)])
    figures = {
        "recall clouds+cirrus": rate(flagged, cloud),
        "recall halo": rate(flagged, halo),
        "recall halo (SCL)": rate(scl_flagged, halo),
        "recall contaminated": rate(flagged, contaminated),
        "recall contaminated (SCL)": rate(scl_flagged, contaminated),
        "recall contaminated (SCL or prob)": rate(scl_flagged | flagged, contaminated),
        "precision": float((flagged & contaminated).sum() / flagged.sum()),
        "false positives, clear": rate(flagged, clear),
        "false positives, clear >60 m from clouds/shadows": rate(flagged, far),
    }
    print({k: round(v, 3) for k, v in figures.items()})
    assert figures["recall clouds+cirrus"] > 0.95  # measured 0.99
    assert figures["recall halo (SCL)"] == 0  # the SCL leaves the halo unflagged …
    assert figures["recall halo"] > 0.8  # … s2cloudless finds it (measured 0.97)
    assert (
        figures["recall contaminated (SCL or prob)"] > figures["recall contaminated (SCL)"] + 0.05
    )
    assert figures["precision"] > 0.75  # measured 0.85 (shadows and cloud edges count as errors)
    assert figures["false positives, clear >60 m from clouds/shadows"] < 0.01  # measured 0.0


def _grow(a: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(a, iterations=6)


def test_probable_clouds_pairs_by_solar_day(cubes):
    scenes, _, prob = cubes
    flag = mask.probable_clouds(scenes, prob, threshold=0.4)
    assert isinstance(flag.data, darr.Array) and flag.sizes == scenes.scl.sizes
    days = np.asarray(scenes.solar_day.values).astype("datetime64[D]").astype(str)
    missing = days == "2022-02-07"  # the local solar day of the 2022-02-06 UTC scene
    assert missing.sum() == 1
    values = flag.values
    assert not values[missing].any()  # no L1C: only its SCL masks it
    assert values[~missing].any()


def _recipe(archive, out, **cloud):
    rc = archive.recipe(out)
    for key in ("reference", "indicators"):
        rc.pop(key)
    rc["indices"] = ["ndvi"]
    rc["output"]["formats"] = ["zarr"]
    if cloud:
        rc["mask"]["cloud_probability"] = cloud
    return rc


def test_run_masks_more_cloud(archive, cubes, tmp_path):
    """Without dilation (the SCL misses the halo), s2cloudless removes the halo's values.

    (With the demo recipe's dilate_m: 40 the grown SCL clouds already cover the halo.)
    """
    scenes, _, _ = cubes
    rc = _recipe(archive, tmp_path / "scl")
    rc["mask"]["dilate_m"] = 0
    without = run(rc)
    rc = _recipe(archive, tmp_path / "prob", threshold=0.4)
    rc["mask"]["dilate_m"] = 0
    with_ = run(rc)
    a = xr.open_zarr(without.outputs["composites"])
    b = xr.open_zarr(with_.outputs["composites"])
    # reference: the composites of the truly clear observations
    truth = _truth(archive, scenes)
    ndvi = (scenes.nir - scenes.red) / (scenes.nir + scenes.red)
    clear = ndvi.where(truth == 0).rename("ndvi").to_dataset()
    ref = composite.composite(clear, period="dekad", reducer="median", start=START, end=END)
    ref = ref.ndvi.sel(x=a.x, y=a.y)

    def rmse(ds):
        return float(np.sqrt(((ds.ndvi - ref) ** 2).mean()))

    def off(ds):  # composite values depressed by cloud contamination
        return int(((ds.ndvi - ref) < -0.05).sum())

    n_a, n_b = int(a.ndvi_count.sum()), int(b.ndvi_count.sum())
    print({"count": (n_a, n_b), "rmse": (rmse(a), rmse(b)), "depressed": (off(a), off(b))})
    assert n_b < n_a
    assert off(b) < 0.5 * off(a)
    assert rmse(b) < 0.8 * rmse(a)


@pytest.mark.parametrize(
    ("cloud", "field"),
    [
        ({"threshold": 1.5}, "mask.cloud_probability.threshold"),
        ({"colour": "grey"}, "mask.cloud_probability.colour"),
        ({"collection": "landsat-c2-l2"}, "mask.cloud_probability.collection"),
    ],
)
def test_bad_recipe(archive, tmp_path, cloud, field):
    with pytest.raises(VegcubeError, match=field) as err:
        plan(_recipe(archive, tmp_path, **cloud))
    assert err.value.exit_code == 2


def test_collection_without_the_bands(archive, tmp_path):
    from typer.testing import CliRunner

    from vegcube.cli import app

    rc = _recipe(archive, tmp_path / "out", collection="sentinel-2-l2a")
    with pytest.raises(BandError, match=r"mask\.cloud_probability\.collection: band 'coastal'"):
        plan(rc)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(rc))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "mask.cloud_probability.collection" in result.output
    assert not (tmp_path / "out").exists()
