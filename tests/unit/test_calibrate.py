"""Cross-sensor calibration recovers a known relation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vegcube import calibrate, indices, mask
from vegcube.errors import DataError


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


def _paired_eras(offsets: np.ndarray, *, noise: float, pairs: int, seed: int = 0) -> xr.Dataset:
    """`pairs` same-day scenes of two sensors on a (y, x) grid: the newer = 0.9 × older + 1.0
    + each pixel's `offsets` + noise of sd `noise` in both; dims (time, y, x)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2021-01-01", periods=pairs, freq="8D")
    truth = rng.uniform(290, 310, (pairs, *offsets.shape))
    old = truth + rng.normal(0, noise, truth.shape)
    new = 0.9 * truth + 1.0 + offsets + rng.normal(0, noise, truth.shape)
    time = np.concatenate([days.values, days.values])
    return xr.Dataset(
        {"lst": (("time", "y", "x"), np.concatenate([old, new]))},
        coords={"time": time, "sensor": ("time", ["modis21a2"] * pairs + ["slstr"] * pairs)},
    )


def test_per_pixel_offsets_recover_each_pixel_s_bias_and_vanish_without_one():
    rng = np.random.default_rng(1)
    bias = rng.normal(0, 0.6, (20, 30))  # footprints: a lasting per-pixel bias of sd 0.6 K
    ds = _paired_eras(bias, noise=0.3, pairs=40)
    f = calibrate.fit(
        ds, index="lst", sensor="slstr", reference="modis21a2", method="ols", per_pixel=True
    )
    assert f.per_pixel and f.offsets is not None and f.offsets.shape == (20, 30)
    # the line's intercept takes the mean bias; each pixel's offset the rest of its bias
    centred = bias - bias.mean()
    assert np.corrcoef(f.offsets.ravel(), centred.ravel())[0, 1] > 0.97
    assert np.abs(f.offsets - centred).max() < 0.35 and abs(f.offset_sd - centred.std()) < 0.05
    # applied, the newer sensor equals the older's truth up to noise: no per-pixel bias left
    out = calibrate.apply(ds, [f]).lst.values
    left = (out[40:] - out[:40]).mean(axis=0)  # per-pixel mean difference, newer − older
    assert np.abs(left).max() < 0.3 and left.std() < 0.12
    line = calibrate.apply(ds, [calibrate.Fit(**f.to_dict())]).lst.values  # the line alone
    assert ((line[40:] - line[:40]).mean(axis=0)).std() > 0.5
    # no per-pixel bias, only noise: the offsets shrink to almost nothing
    g = calibrate.fit(
        _paired_eras(np.zeros((20, 30)), noise=0.3, pairs=40), index="lst", sensor="slstr",
        reference="modis21a2", method="ols", per_pixel=True,
    )  # fmt: skip
    assert g.offsets is not None and np.abs(g.offsets).max() < 0.05  # raw means scatter ~0.07
    # too few pairs per pixel: the line alone
    few = calibrate.pixel_offsets(
        ds.lst.values, list(range(4)), list(range(40, 44)), f.slope, f.intercept
    )
    assert not few.any()


def test_known_per_pixel_fits_need_and_apply_their_offsets():
    ds = _paired_eras(np.zeros((2, 3)), noise=0.0, pairs=6)
    off = np.arange(6.0).reshape(2, 3)
    fit = calibrate.Fit("lst", "slstr", "modis21a2", 2.0, 1.0, 1.0, 99, 9, applied=True,
                        per_pixel=True, offsets=off)  # fmt: skip
    known = [fit.to_dict()]
    assert "offsets" not in known[0] and known[0]["per_pixel"]
    with pytest.raises(DataError, match=r"lst_slstr.*calibration\.zarr"):
        calibrate.harmonise(ds, reference="modis21a2", known=known)
    out, (f,) = calibrate.harmonise(
        ds, reference="modis21a2", known=known, offsets={"lst_slstr": off}
    )
    new = ds.sensor.values == "slstr"
    np.testing.assert_allclose(out.lst.values[new], (ds.lst.values[new] - 1.0 - off) / 2.0)
    np.testing.assert_array_equal(out.lst.values[~new], ds.lst.values[~new])
    with pytest.raises(DataError, match="2 × 3 px"):  # offsets of another grid
        calibrate.apply(ds.isel(x=slice(0, 2)), [f])
