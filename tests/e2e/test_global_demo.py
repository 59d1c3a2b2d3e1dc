"""The global chain (issue 15) on a small global demo archive: MODIS NDVI continued by VIIRS
(granules served behind a token, mirrored by `vegcube download`) and MODIS LST continued by
Sentinel-3 SLSTR, each calibrated onto MODIS at its switch; the generators' relations are
known (VIIRS NDVI = GAIN × MODIS + OFFSET, SLSTR = MODIS + LST_OFFSET K)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import ndimage

import vegcube
from vegcube import calibrate
from vegcube.testing.global_demo import generate_global_archive, lst_anomaly, truth_masks

pytest.importorskip("h5py")

# the demo's NDVI relation; a larger LST offset than the demo's 1.5 K: with two reference
# years, one of them SLSTR's, an uncalibrated step is only about half the offset
GAIN, OFFSET, LST_OFFSET = 0.95, 0.07, 2.5
NDVI_SWITCH, LST_SWITCH = "2022-01-01", "2022-04-01"
LAND, GRASS_CROP = (1, 2, 3, 5), (2, 3)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return generate_global_archive(
        tmp_path_factory.mktemp("global") / "archive", model_size=500, start="2021-01-01",
        end="2023-04-30", ndvi_switch=NDVI_SWITCH, lst_switch=LST_SWITCH, overlap_days=122,
        reference=("2021-01-01", "2022-12-31"), min_years=2, ndvi_gain=GAIN,
        ndvi_offset=OFFSET, lst_offset=LST_OFFSET,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(archive):
    outs = {"calibrated": archive.path.parent / "calibrated", "raw": archive.path.parent / "raw"}
    for name, out in outs.items():
        rc = archive.recipe(out, apply=name == "calibrated")
        rc["output"]["report"] = False
        vegcube.run(rc)
    return outs


def _stable(archive, like) -> np.ndarray:
    """Land one cell or more away from the drought's place."""
    lc, place = truth_masks(archive, like)
    return np.isin(lc, LAND) & ~ndimage.binary_dilation(place, np.ones((3, 3), bool))


def _step(anom: xr.DataArray, stable: np.ndarray, switch: str, months: int = 3) -> float:
    """Mean anomaly on stable land in the `months` from the switch minus the months before."""
    t, sw = pd.DatetimeIndex(anom.time.values), pd.Timestamp(switch)
    before = (t >= sw - pd.DateOffset(months=months)) & (t < sw)
    after = (t >= sw) & (t < sw + pd.DateOffset(months=months))
    a = anom.values[:, stable]
    return float(np.nanmean(a[after]) - np.nanmean(a[before]))


def test_viirs_comes_through_the_download_mirror_into_one_catalog(archive, runs):
    mirror = archive.path / "mirror"
    assert not list(archive.path.rglob("*.h5"))  # granules converted, then removed
    granules = sorted(p.name for p in (mirror / "VJ113A1_002").iterdir() if p.is_dir())
    assert len(granules) == archive.items["VJ113A1_002"] >= 30  # September 2021 → April 2023
    for g in granules:  # the layers the recipe needs, as COGs
        assert {f.name for f in (mirror / "VJ113A1_002" / g).glob("*.tif")} == {
            "500_m_16_days_NDVI.tif", "500_m_16_days_VI_Quality.tif"
        }  # fmt: skip
    items = json.loads((runs["calibrated"] / "run.json").read_text())["items"]
    assert sum(i.startswith("MOD13Q1.") for i in items) == archive.items["modis-13Q1-061"]
    assert sum(i.startswith("VJ113A1.") for i in items) == len(granules)


def test_one_series_per_variable_with_its_sensor_per_period(runs):
    comp = xr.open_zarr(runs["calibrated"] / "composites.zarr")
    t = pd.DatetimeIndex(comp.time.values)
    ndvi_after, lst_after = t >= NDVI_SWITCH, t >= LST_SWITCH
    np.testing.assert_array_equal(
        comp.sensor.values.astype(str), np.where(ndvi_after, "viirs13a1", "modis13q1")
    )
    np.testing.assert_array_equal(
        comp.lst_sensor.values.astype(str), np.where(lst_after, "slstr", "modis21a2")
    )


def test_the_fits_find_the_generators_relations(runs):
    fits = {f["index"]: f for f in calibrate.from_store(runs["calibrated"] / "composites.zarr")}
    ndvi, lst = fits["ndvi"], fits["lst"]
    assert (ndvi["sensor"], ndvi["reference"], lst["sensor"], lst["reference"]) == (
        "viirs13a1", "modis13q1", "slstr", "modis21a2"
    )  # fmt: skip
    assert ndvi["applied"] and lst["applied"] and lst["method"] == "ols"
    assert ndvi["slope"] == pytest.approx(GAIN, abs=0.03)
    assert ndvi["intercept"] == pytest.approx(OFFSET, abs=0.02)
    # SLSTR − MODIS at the pairs' typical 298 K: the generator's offset; the slope is loose
    # (a 5 km area in the wet season: 1.3 K of spread between pixels, 1.1 K between sensors)
    assert lst["slope"] * 298 + lst["intercept"] - 298 == pytest.approx(LST_OFFSET, abs=0.35)
    assert 0.6 < lst["slope"] < 1.4  # OLS, diluted by MODIS noise (0.99 on the demo)
    raw = {f["index"]: f for f in calibrate.from_store(runs["raw"] / "composites.zarr")}
    assert not raw["ndvi"]["applied"] and not raw["lst"]["applied"]
    # each pixel's own offset from the line: SLSTR's swath footprints leave tenths of a K
    offsets = xr.open_zarr(runs["calibrated"] / "calibration.zarr")
    assert set(offsets.data_vars) == {"ndvi_viirs13a1", "lst_slstr"}
    assert lst["per_pixel"] and 0.1 < lst["offset_sd"] < 1.0
    assert float(offsets.lst_slstr.std()) == pytest.approx(lst["offset_sd"], rel=1e-3)
    assert ndvi["offset_sd"] < 0.02  # VIIRS's 500 m cell is the grid's: little to correct
    ref = xr.open_zarr(runs["calibrated"] / "reference.zarr")
    noise = ref.lst_era_noise.median(("y", "x")).to_series()
    assert list(noise.index) == ["modis21a2", "slstr"] and noise["slstr"] > noise["modis21a2"]


def test_calibration_removes_the_steps_at_the_switches(archive, runs):
    steps = {}
    for name, out in runs.items():
        ind = xr.open_zarr(out / "indicators.zarr").load()
        stable = _stable(archive, ind.ndvi_anomaly.isel(time=0))
        assert stable.sum() >= 40
        steps[name] = (
            _step(ind.ndvi_anomaly, stable, NDVI_SWITCH),
            _step(lst_anomaly(out).load(), stable, LST_SWITCH),
        )
    (ndvi, lst), (raw_ndvi, raw_lst) = steps["calibrated"], steps["raw"]
    assert abs(ndvi) <= 0.02 and abs(lst) <= 0.5  # the targets
    assert raw_ndvi > 0.035 and raw_lst > 0.65  # uncalibrated: greener, warmer from the switch


def test_no_false_drought_at_the_switches_and_vhi_finds_the_drought(archive, runs):
    ind = xr.open_zarr(runs["calibrated"] / "indicators.zarr").load()
    like = ind.ndvi_anomaly.isel(time=0)
    stable, (lc, place) = _stable(archive, like), truth_masks(archive, like)
    t = pd.DatetimeIndex(ind.time.values)
    cls = ind.ndvi_drought_class.values
    for switch in (NDVI_SWITCH, LST_SWITCH):
        k = int(np.searchsorted(t.values, np.datetime64(switch)))
        near = cls[max(k - 3, 0) : k + 3][:, stable]
        known = np.isfinite(near) & (near >= -2)  # not monitorable: shown unflagged
        assert known.sum() >= 100 and np.mean(near[known] >= 2) <= 0.05
    # the heat classes: per-pixel offsets and each sensor era's own noise keep SLSTR's
    # footprint bias and scatter from reading as heat, at the switch and after the reference
    k = int(np.searchsorted(t.values, np.datetime64(LST_SWITCH)))
    near, after = np.zeros(t.size, bool), np.asarray(t > "2022-12-31")
    near[max(k - 3, 0) : k + 3] = True
    for name in ("lst_tci_drought_class", "ndvi_vhi_drought_class"):
        for when in (near, after):
            c = ind[name].values[when][:, stable]
            shown = np.isfinite(c) & (c >= -2)  # not monitorable: shown unflagged
            assert shown.sum() >= 100 and np.mean(c[shown] >= 2) <= 0.05, name
    dry = np.asarray((t >= archive.drought_start) & (t < "2023-05-01"))
    assert dry.sum() == 3  # February, March, April 2023
    vhi = ind.ndvi_vhi.values[dry]
    inside, outside = place & np.isin(lc, GRASS_CROP), ~place & np.isin(lc, GRASS_CROP)
    assert inside.sum() >= 8 and outside.sum() >= 8
    assert np.nanmean(vhi[:, inside]) < 15 and np.nanmean(vhi[:, outside]) > 35
    assert np.mean(vhi[:, inside][np.isfinite(vhi[:, inside])] < 30) > 0.9  # recall
