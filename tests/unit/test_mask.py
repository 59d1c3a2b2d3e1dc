"""Masks: SCL classes and dilation in metres, per-sensor QA, s2cloudless cloud probability."""

from __future__ import annotations

import dask.array as darr
import numpy as np
import xarray as xr

from vegcube import mask
from vegcube.testing import cloud_truth


def test_scl_mask_and_dilation_by_metres():
    scl = np.full((1, 21, 21), 4, dtype="uint8")
    scl[0, 10, 10] = 9  # one cloud pixel
    scl[0, 0, 0] = 0  # no data: masked, never grown
    ds = xr.Dataset(
        {
            "scl": (("time", "y", "x"), scl),
            "red": (("time", "y", "x"), np.full((1, 21, 21), 0.1, "float32")),
        },
        coords={
            "time": [np.datetime64("2020-01-01")],
            "y": np.arange(21) * -10.0,
            "x": np.arange(21) * 10.0,
        },
    )
    ok = mask.valid(ds, scl_classes=[0, 9], dilate_m=30).values[0]
    yy, xx = np.mgrid[:21, :21]
    grown = (yy - 10) ** 2 + (xx - 10) ** 2 <= 9  # disk of 3 px = 30 m
    expected = ~grown
    expected[0, 0] = False
    np.testing.assert_array_equal(ok, expected)
    assert ok[1, 1] and ok[0, 1]  # no-data pixel not dilated
    # the same lazily, with chunks smaller than the kernel's reach
    lazy = mask.valid(ds.chunk(y=7, x=7), scl_classes=[0, 9], dilate_m=30)
    np.testing.assert_array_equal(lazy.values[0], expected)


def test_nan_reflectance_is_invalid_and_apply_drops_qa():
    ds = xr.Dataset(
        {
            "scl": (("time", "y", "x"), np.full((1, 2, 2), 4, "uint8")),
            "red": (("time", "y", "x"), np.array([[[0.1, np.nan], [0.2, 0.3]]], "float32")),
        },
    )
    ok = mask.valid(ds)
    assert ok.values.tolist() == [[[True, False], [True, True]]]
    out = mask.apply(ds, ok)
    assert "scl" not in out and np.isnan(out.red.values[0, 0, 1])


def _truth(l1c_archive, like: xr.DataArray) -> np.ndarray:
    """Truth classes (time, y, x) of the scenes of `like` (UTC acquisition days)."""
    days = np.asarray(like.time.values).astype("datetime64[D]").astype(str)
    return np.stack([cloud_truth(l1c_archive, d).sel(y=like.y, x=like.x).values for d in days])


def test_probability_is_lazy_and_bounded(l1c_cubes):
    _, l1c, prob = l1c_cubes
    assert isinstance(prob.data, darr.Array)
    assert prob.dims == ("time", "y", "x") and prob.sizes["time"] == l1c.sizes["time"]
    values = prob.isel(time=slice(0, 3)).values
    assert np.nanmin(values) >= 0 and np.nanmax(values) <= 1


def test_probability_finds_the_clouds_scl_misses(l1c_archive, l1c_cubes):
    scenes, _, prob = l1c_cubes
    p = prob.values
    truth = _truth(l1c_archive, prob)
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


def test_probable_clouds_pairs_by_solar_day(l1c_cubes):
    scenes, _, prob = l1c_cubes
    flag = mask.probable_clouds(scenes, prob, threshold=0.4)
    assert isinstance(flag.data, darr.Array) and flag.sizes == scenes.scl.sizes
    days = np.asarray(scenes.solar_day.values).astype("datetime64[D]").astype(str)
    missing = days == "2022-02-07"  # the local solar day of the 2022-02-06 UTC scene
    assert missing.sum() == 1
    values = flag.values
    assert not values[missing].any()  # no L1C: only its SCL masks it
    assert values[~missing].any()


def test_masks_decoded_per_sensor(s2_landsat_scenes):
    _, c = s2_landsat_scenes
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
