"""Sensor continuity: an older sensor's series continued by a newer one from a switch day,
the newer calibrated onto the older over the years both observed (MODIS → VIIRS is the case
in production; here Landsat → Sentinel-2, whose generated archives have a known NDVI relation).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import vegcube
from vegcube import calibrate
from vegcube.testing.demo import generate_archive
from vegcube.testing.landsat import generate_landsat_archive
from vegcube.testing.truth import truth_masks

GAIN, OFFSET = 0.85, -0.03  # on the ground NDVI_landsat = GAIN × NDVI_s2 + OFFSET
SWITCH = "2022-01-01"
LAND = (1, 2, 3, 5)


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    root = tmp_path_factory.mktemp("continuity")
    period = {"start": "2021-01-01", "end": "2023-04-30"}
    s2 = generate_archive(root, size=42, revisit_days=10, **period)
    ls = generate_landsat_archive(root, size=42, ndvi_gain=GAIN, ndvi_offset=OFFSET, **period)
    return root, s2, ls


def _recipe(s2, out, *, apply: bool) -> dict:
    return {
        "name": "continuity",
        "aoi": {"bbox": list(s2.bbox)},
        "time": {"start": s2.start, "end": s2.end},
        "source": {
            "catalog": str(s2.catalog),
            "collection": ["landsat-c2-l2", "sentinel-2-l2a"],
            "max_cloud_cover": 90,
            "calibrate": {"reference": "landsat-c2-l2", "switch": SWITCH, "apply": apply},
        },
        "grid": {"resolution": 30},
        "mask": {"dilate_m": 30, "landsat_qa": ["fill", "dilated_cloud", "cloud", "shadow"]},
        "indices": ["ndvi"],
        "composite": {"period": "month", "reducer": "median"},
        "reference": {"start": "2021-01-01", "end": "2022-12-31", "min_years": 2, "pool": 0},
        "indicators": ["vci", "zscore", "anomaly", "drought_class"],
        "output": {"dir": str(out), "formats": ["zarr"]},
    }


@pytest.fixture(scope="module")
def runs(archives):
    root, s2, _ = archives
    vegcube.run(_recipe(s2, root / "calibrated", apply=True))
    vegcube.run(_recipe(s2, root / "raw", apply=False))
    return {k: root / k for k in ("calibrated", "raw")}


def test_one_series_with_a_sensor_per_period(runs):
    comp = xr.open_zarr(runs["calibrated"] / "composites.zarr")
    before = pd.DatetimeIndex(comp.time.values) < pd.Timestamp(SWITCH)
    sensors = np.asarray(comp.sensor.values).astype(str)
    assert set(sensors[before]) <= {"landsat", ""} and "landsat" in sensors[before]
    assert set(sensors[~before]) <= {"sentinel2", ""} and "sentinel2" in sensors[~before]
    run = json.loads((runs["calibrated"] / "run.json").read_text())
    assert any(i.startswith("S2") for i in run["items"])


def test_the_newer_sensor_is_fitted_over_the_overlap_and_mapped_onto_the_older(runs):
    (fit,) = calibrate.from_store(runs["calibrated"] / "composites.zarr")
    # Sentinel-2 = slope × Landsat + intercept, with Landsat = GAIN × S2 + OFFSET
    assert fit["sensor"] == "sentinel2" and fit["reference"] == "landsat" and fit["applied"]
    assert fit["slope"] == pytest.approx(1 / GAIN, abs=0.03)
    assert fit["intercept"] == pytest.approx(-OFFSET / GAIN, abs=0.02)
    cal = xr.open_zarr(runs["calibrated"] / "composites.zarr").ndvi.load()
    raw = xr.open_zarr(runs["raw"] / "composites.zarr").ndvi.load()
    after = pd.DatetimeIndex(cal.time.values) >= pd.Timestamp(SWITCH)
    # the median commutes with an increasing linear map: calibrated = (raw − b) / a
    expected = (raw[after] - fit["intercept"]) / fit["slope"]
    np.testing.assert_allclose(cal[after], expected, atol=2e-6)
    xr.testing.assert_equal(cal[~after], raw[~after])  # the older era is left as it was


def _step(out, s2) -> tuple[float, float]:
    """Mean anomaly on land outside the drought's place: the 6 months after the switch minus
    the 6 months before it; and the share of those pixel-periods classed moderate or worse."""
    ind = xr.open_zarr(out / "indicators.zarr").load()
    lc, place = truth_masks(s2, ind.ndvi_anomaly.isel(time=0))
    stable = np.isin(lc, LAND) & ~place
    t = pd.DatetimeIndex(ind.time.values)
    sw = pd.Timestamp(SWITCH)
    before = (t >= sw - pd.DateOffset(months=6)) & (t < sw)
    after = (t >= sw) & (t < sw + pd.DateOffset(months=6))
    anom = ind.ndvi_anomaly.values[:, stable]
    step = float(np.nanmean(anom[after]) - np.nanmean(anom[before]))
    cls = ind.ndvi_drought_class.values[:, stable][before | after]
    flagged = float(np.mean(cls[np.isfinite(cls) & (cls >= 0)] >= 2))
    return step, flagged


def test_no_step_and_no_false_drought_at_the_switch(runs, archives):
    _, s2, _ = archives
    step, flagged = _step(runs["calibrated"], s2)
    raw_step, _ = _step(runs["raw"], s2)
    assert abs(step) <= 0.02  # the target on stable land
    assert raw_step > 0.04  # without calibration Sentinel-2 looks greener: a false greening
    assert flagged <= 0.05


def test_an_update_after_the_switch_applies_the_history_s_fit(runs, archives, tmp_path):
    """With per-pixel offsets too: the update reads them from OUT/calibration.zarr."""
    _, s2, _ = archives
    out = tmp_path / "routine"
    rc = _recipe(s2, out, apply=True)
    rc["source"]["calibrate"]["per_pixel"] = True
    rc["time"]["end"] = "2023-01-31"
    vegcube.run(rc)
    (fit,) = calibrate.from_store(out / "composites.zarr")
    assert fit["per_pixel"] and fit["offset_sd"] > 0
    offsets = xr.open_zarr(out / "calibration.zarr")["ndvi_sentinel2"].values
    assert np.isfinite(offsets).all() and offsets.std() == pytest.approx(fit["offset_sd"], rel=1e-3)
    rc["time"]["end"] = s2.end
    vegcube.update(rc)
    assert calibrate.from_store(out / "composites.zarr") == [fit]
    new = xr.open_zarr(out / "composites.zarr").ndvi.sel(time=slice("2023-02-01", None))
    raw = xr.open_zarr(runs["raw"] / "composites.zarr").ndvi.sel(time=new.time)
    assert new.sizes["time"] == 3
    np.testing.assert_allclose(new, (raw - fit["intercept"] - offsets) / fit["slope"], atol=2e-6)


# --------------------------------------------------------------------------- temperature

LST_SWITCH = "2022-04-01"


@pytest.fixture(scope="module")
def lst_runs(tmp_path_factory):
    """Landsat surface temperature continued by SLSTR from LST_SWITCH, calibrated or not."""
    from vegcube.testing.slstr import generate_slstr_archive

    root = tmp_path_factory.mktemp("lst-continuity")
    period = {"start": "2021-07-01", "end": "2022-09-30"}
    s2 = generate_archive(root, size=42, revisit_days=20, **period)
    generate_landsat_archive(root, size=42, **period)
    s3 = generate_slstr_archive(root, size=42, revisit_days=6, **period)
    outs = {}
    for name, apply in (("calibrated", True), ("raw", False)):
        rc = s2.recipe(root / name)
        rc.update(indices=["ndvi"], indicators=[], reference=None, gapfill=None)
        rc["grid"]["resolution"] = 30
        rc["composite"] = {"period": "month", "reducer": "median"}
        rc["output"] = {"dir": str(root / name), "formats": ["zarr"]}
        rc["lst"] = {
            "collection": ["landsat-c2-l2", "sentinel-3-slstr-lst-l2-netcdf"],
            "band": {"landsat-c2-l2": "lwir", "sentinel-3-slstr-lst-l2-netcdf": "lst"},
            "calibrate": {
                "reference": "landsat-c2-l2",
                "switch": LST_SWITCH,
                "max_days": 2,
                "apply": apply,
            },
        }  # fmt: skip  (Landsat and SLSTR items in the source's catalog)
        outs[name] = (rc, root / name)
        vegcube.run(rc)
    return s2, s3, outs


def test_temperature_continued_by_a_newer_sensor(lst_runs):
    _, _, outs = lst_runs
    cal = xr.open_zarr(outs["calibrated"][1] / "composites.zarr")
    raw = xr.open_zarr(outs["raw"][1] / "composites.zarr")
    after = pd.DatetimeIndex(cal.time.values) >= pd.Timestamp(LST_SWITCH)
    sensors = np.asarray(cal.lst_sensor.values).astype(str)
    assert set(sensors[~after]) <= {"landsat", ""} and "landsat" in sensors[~after]
    assert set(sensors[after]) <= {"slstr", ""} and "slstr" in sensors[after]
    (fit,) = calibrate.from_store(outs["calibrated"][1] / "composites.zarr")
    assert fit["index"] == "lst" and fit["sensor"] == "slstr" and fit["applied"]
    assert fit["scene_pairs"] >= 10 and 0.5 < fit["slope"] < 2  # kelvin against kelvin
    # the mean commutes with a linear map: calibrated = (raw − b) / a after the switch
    expected = (raw.lst[after] - fit["intercept"]) / fit["slope"]
    np.testing.assert_allclose(cal.lst[after], expected, rtol=1e-6)
    xr.testing.assert_allclose(cal.lst[~after], raw.lst[~after])
