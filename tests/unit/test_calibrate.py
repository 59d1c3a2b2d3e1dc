"""Cross-sensor calibration recovers a known relation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vegcube import calibrate, indices, mask


def test_calibration_recovers_the_known_relation(s2_landsat, s2_landsat_scenes):
    _, ls = s2_landsat  # NDVI_landsat = ndvi_gain × NDVI_s2 + ndvi_offset on the ground
    _, c = s2_landsat_scenes
    idx = indices.per_scene(mask.apply(c, mask.valid(c, dilate_m=30)), ["ndvi"])
    f = calibrate.fit(idx, index="ndvi", sensor="landsat", reference="sentinel-2-l2a")
    assert f.slope == pytest.approx(ls.ndvi_gain, abs=0.02)
    assert f.intercept == pytest.approx(ls.ndvi_offset, abs=0.02)
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


def _two_eras() -> xr.Dataset:
    """Scenes of two sensors every 4 days (the newer offset by 2), 2021-12-01 … 2022-01-28."""
    old = pd.date_range("2021-12-01", periods=15, freq="4D")
    new = old + pd.Timedelta(days=2)
    time = np.concatenate([old.values, new.values])
    sensor = np.array(["landsat"] * 15 + ["sentinel2"] * 15)
    order = np.argsort(time, kind="stable")
    return xr.Dataset(
        {"ndvi": (("time",), np.arange(30.0)[order])},
        coords={"time": time[order], "sensor": ("time", sensor[order])},
    )


def test_continuity_keeps_the_older_sensor_before_the_switch_and_the_newer_from_it():
    ds = _two_eras()
    kept = calibrate.continuity(ds, reference="landsat-c2-l2", switch=dt.date(2022, 1, 1))
    t = pd.DatetimeIndex(kept.time.values)
    s = kept.sensor.values.astype(str)
    assert (s[t < "2022-01-01"] == "landsat").all() and (s[t >= "2022-01-01"] == "sentinel2").all()
    # every scene of the right era is kept: 8 Landsat (to 2021-12-29), 7 Sentinel-2 (from 01-02)
    assert (s == "landsat").sum() == 8 and (s == "sentinel2").sum() == 7
    comp = xr.Dataset(
        coords={
            "time": pd.to_datetime(["2021-12-21", "2022-01-01", "2022-01-11", "2022-02-01"]),
            "period_end": (
                "time",
                pd.to_datetime(["2021-12-31", "2022-01-10", "2022-01-20", "2022-02-10"]),
            ),
        }
    )
    assert calibrate.period_sensors(kept, comp).tolist() == [
        "landsat",
        "sentinel2",
        "sentinel2",
        "",
    ]
    both = calibrate.period_sensors(ds, comp)
    assert both[0] == "landsat+sentinel2"  # without continuity a period mixes the two


def test_known_fits_are_applied_not_refitted():
    ds = _two_eras()
    known = [calibrate.Fit("ndvi", "sentinel2", "landsat", 2.0, 1.0, 1.0, 99, 9, applied=True)]
    out, fits = calibrate.harmonise(
        ds, reference="landsat-c2-l2", known=[f.to_dict() for f in known]
    )
    assert fits == known
    new = ds.sensor.values == "sentinel2"
    np.testing.assert_allclose(out.ndvi.values[new], (ds.ndvi.values[new] - 1.0) / 2.0)
    np.testing.assert_array_equal(out.ndvi.values[~new], ds.ndvi.values[~new])
