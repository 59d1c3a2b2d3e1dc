"""Level-3 syntheses (WASP weighted average, FORCE best available pixel), checked by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import ndimage

from vegcube import aoi, catalog, composite, cube, indices, mask
from vegcube.composite.synthesis import FLAGS, best_available_pixel, weighted_synthesis

N = 12  # pixels a side, 10 m


def scenes(dates, ndvi, red, scl, platform=None):
    """A (time, y, x) scene cube of 10 m pixels; `solar_day` one day after `time` (UTC)."""
    days = pd.DatetimeIndex(dates)
    coords = {
        "time": days - pd.Timedelta(hours=13),  # UTC the evening before: solar_day must win
        "solar_day": ("time", days),
        "y": 7_500_000 - 10 * np.arange(N) - 5.0,
        "x": 600_000 + 10 * np.arange(N) + 5.0,
    }
    if platform is not None:
        coords["platform"] = ("time", platform)
    dims = ("time", "y", "x")
    ds = xr.Dataset(
        {
            "ndvi": (dims, np.asarray(ndvi, "float32")),
            "red": (dims, np.asarray(red, "float32")),
        },
        coords=coords,
    )
    return ds, xr.DataArray(np.asarray(scl, "uint8"), dims=dims, coords=ds.coords, name="scl")


def cloud_weight(scl_scene, d_max, w_min):
    """Hand-made WASP cloud weight: distance (m) to the nearest cloud/shadow, linear, floored."""
    cloudy = np.isin(scl_scene, [3, 8, 9, 10])
    if not cloudy.any():
        return np.ones(scl_scene.shape)
    d = ndimage.distance_transform_edt(~cloudy, sampling=(10.0, 10.0))
    return np.clip(d / d_max, w_min, 1.0)


@pytest.fixture
def wasp_case():
    dates = ["2021-01-08", "2021-01-13", "2021-01-16", "2021-01-22", "2021-01-30"]
    rng = np.random.default_rng(42)
    ndvi = rng.uniform(0.2, 0.8, (5, N, N))
    red = rng.uniform(0.02, 0.2, (5, N, N))
    scl = np.full((5, N, N), 4)
    scl[1, 2:5, 2:5] = 9  # a cloud blob on Jan 13 ...
    scl[1, 5, 2:5] = 3  # ... and its shadow
    scl[:, 10, 10] = 6  # water
    scl[:, 11, 0] = 11  # snow
    scl[1:3, 11, 1] = 11  # snow twice, land twice: the class of most weight wins
    scl[:4, 0, 11] = 8  # cloud on every date in the window
    scl[:4, 0, 10] = 0  # no data in the window; land on Jan 30, outside it
    red[2, 6, 6] = np.nan  # red invalid, ndvi fine: the two weights differ
    platform = ["sentinel-2a", "sentinel-2b", "sentinel-2a", "sentinel-2b", "sentinel-2a"]
    return scenes(dates, ndvi, red, scl, platform), (ndvi, red, scl)


WASP = {
    "period": "dekad",
    "window_days": 20.0,
    "cloud_distance_max_m": 50.0,
    "cloud_weight_min": 0.1,
    "temporal_weight_min": 0.5,
    "sensor_weights": {"sentinel-2b": 0.25},
    "start": "2021-01-11",
    "end": "2021-01-20",
}


def test_weighted_synthesis_by_hand(wasp_case):
    (ds, scl_da), (ndvi, red, scl) = wasp_case
    out = weighted_synthesis(ds, scl=scl_da, **WASP)
    assert out.sizes == {"time": 1, "y": N, "x": N}
    assert str(out.time.values[0])[:10] == "2021-01-11"
    assert str(out.period_end.values[0])[:10] == "2021-01-20"
    assert out.period_of_year.values.tolist() == [2]

    # period Jan 11–20: centre Jan 15.5, half window 10 days; Jan 30 (14.5 days) is outside
    w_time = np.array(
        [1 - 0.5 * 7.5 / 10, 1 - 0.5 * 2.5 / 10, 1 - 0.5 * 0.5 / 10, 1 - 0.5 * 6.5 / 10]
    )
    np.testing.assert_allclose(w_time, [0.625, 0.875, 0.975, 0.675])
    w_sensor = np.array([1.0, 0.25, 1.0, 0.25])
    offset = np.array([-3.0, 2.0, 5.0, 11.0])  # days after Jan 11
    w_cloud = np.stack([cloud_weight(scl[i], 50.0, 0.1) for i in range(4)])
    w = w_cloud * (w_time * w_sensor)[:, None, None]
    s = scl[:4]

    land = np.where(s == 4, w, 0.0)
    land_red = np.where(np.isfinite(red[:4]), land, 0.0)
    with np.errstate(invalid="ignore"):  # pixels without land: NaN, as they should be
        exp_ndvi = (land * ndvi[:4]).sum(0) / land.sum(0)
        exp_red = (land_red * np.nan_to_num(red[:4])).sum(0) / land_red.sum(0)
        exp_date = (land * offset[:, None, None]).sum(0) / land.sum(0)
    ordinary = (s == 4).all(0) | ((s[1] != 4) & (np.delete(s, 1, 0) == 4).all(0))
    ordinary[11, 1] = False
    for name, exp in [("ndvi", exp_ndvi), ("red", exp_red)]:
        np.testing.assert_allclose(out[name].values[0][ordinary], exp[ordinary], rtol=1e-6)
    np.testing.assert_allclose(out.ndvi_weight.values[0][ordinary], land.sum(0)[ordinary], 1e-6)
    np.testing.assert_allclose(out.red_weight.values[0][ordinary], land_red.sum(0)[ordinary], 1e-6)
    np.testing.assert_allclose(out.weighted_date.values[0][ordinary], exp_date[ordinary], 1e-6)
    np.testing.assert_array_equal(out.ndvi_count.values[0][ordinary], (land > 0).sum(0)[ordinary])
    np.testing.assert_array_equal(
        out.red_count.values[0][ordinary], (land_red > 0).sum(0)[ordinary]
    )
    assert out.ndvi_count.dtype == np.int16
    # in the blob Jan 13 gives nothing; 10 m from the shadow w_cloud = 10/50; red gap Jan 16
    assert out.ndvi_weight.values[0, 3, 3] == pytest.approx(
        w_time[0] + w_time[2] + 0.25 * w_time[3] * 1.0, rel=1e-6
    )
    assert out.ndvi_weight.values[0, 6, 3] == pytest.approx(
        w_time[0] + 0.25 * w_time[1] * 0.2 + w_time[2] + 0.25 * w_time[3], rel=1e-6
    )
    assert out.red_weight.values[0, 6, 6] < out.ndvi_weight.values[0, 6, 6]

    flag = out.flag.values[0]
    assert out.flag.dtype == np.uint8
    assert flag[0, 11] == FLAGS["cloud"] == 1 and np.isnan(out.ndvi.values[0, 0, 11])
    assert flag[0, 10] == FLAGS["nodata"] == 0 and out.ndvi_weight.values[0, 0, 10] == 0
    assert flag[10, 10] == FLAGS["water"] == 3
    assert flag[11, 0] == FLAGS["snow"] == 2
    assert (flag[ordinary] == FLAGS["land"]).all()
    # snow (Jan 13, 16) weighs 0.25·0.875 + 0.975 = 1.19; land (Jan 8, 22) 0.625 + 0.169 = 0.79
    assert flag[11, 1] == FLAGS["snow"]
    snow = np.array([0.0, 0.25 * 0.875, 0.975, 0.0])
    assert out.ndvi.values[0, 11, 1] == pytest.approx((snow * ndvi[:4, 11, 1]).sum() / snow.sum())
    assert out.weighted_date.values[0, 11, 1] == pytest.approx((snow * offset).sum() / snow.sum())
    for pix in [(10, 10), (11, 0)]:  # single-class pixels: all four dates count
        wp = w[:, pix[0], pix[1]]
        assert out.ndvi.values[0][pix] == pytest.approx(
            (wp * ndvi[:4, pix[0], pix[1]]).sum() / wp.sum()
        )


def test_temporal_weight_is_fractional():
    """1.5 days from the centre of a 9-day window is 1/3 of the half window: 1 − 0.5/3."""
    one = np.ones((1, N, N))
    ds, scl = scenes(["2021-01-04"], 0.5 * one, 0.1 * one, 4 * one)
    out = weighted_synthesis(
        ds, scl=scl, period="dekad", window_days=9, start="2021-01-01", end="2021-01-10"
    )
    # dekad Jan 1–10: centre Jan 5.5; Jan 4 is 1.5 days away; an integer 1.5 // 4.5 gives 1.0
    expect = np.float32(1 - 0.5 * (1.5 / 4.5))
    assert expect == np.float32(5 / 6)
    np.testing.assert_array_equal(out.ndvi_weight.values, np.full((1, N, N), expect))
    np.testing.assert_array_equal(out.weighted_date.values, np.full((1, N, N), 3.0, "float32"))
    out0 = weighted_synthesis(
        ds, scl=scl, window_days=9, temporal_weight_min=0.0, start="2021-01-01", end="2021-01-10"
    )
    np.testing.assert_allclose(out0.ndvi_weight.values, 2 / 3, rtol=1e-7)


@pytest.fixture
def bap_case():
    # dekad Jan 11–20, target its centre Jan 15.5: Jan 15 is 0.5 days off, Jan 19 3.5 days off
    dates = ["2021-01-15", "2021-01-19", "2021-02-20"]
    ndvi = np.stack([np.full((N, N), v) for v in (0.3, 0.6, 0.9)])
    red = np.stack([np.full((N, N), v) for v in (0.13, 0.16, 0.19)])
    scl = np.full((3, N, N), 4)
    scl[0, 5:7, 5:7] = 8  # cloud on Jan 15, 2 pixels from (5, 3)
    red[1, 0, 0] = np.nan  # Jan 19 unusable at (0, 0): Jan 15 is the only candidate there
    platform = ["sentinel-2a", "sentinel-2b", "sentinel-2a"]
    return scenes(dates, ndvi, red, scl, platform), (ndvi, red, scl)


BAP = {
    "period": "dekad",
    "window_days": 20.0,
    "doy_sigma_days": 5.0,
    "cloud_distance_req_m": 200.0,
    "start": "2021-01-11",
    "end": "2021-01-20",
}


@pytest.mark.parametrize("w_cloud", [0.4, 0.05])
def test_bap_picks_the_hand_computed_best(bap_case, w_cloud):
    (ds, scl_da), (_, _, scl) = bap_case
    out = best_available_pixel(ds, scl=scl_da, w_cloud=w_cloud, w_sensor=0.0, **BAP)

    def s_cloud(d):  # FORCE's sigmoid, DREQ = 200 m
        return 1 / (1 + np.exp(-10 / 200 * (d - 100)))

    d0 = np.minimum(ndimage.distance_transform_edt(scl[0] != 8, sampling=(10, 10)), 200)
    score0 = np.exp(-0.5 * (0.5 / 5) ** 2) + w_cloud * s_cloud(d0)
    score1 = np.exp(-0.5 * (3.5 / 5) ** 2) + w_cloud * s_cloud(200.0)
    # next to the cloud: Jan 15 is closest to the target but Jan 19 is clear
    near = score0[5, 3]
    assert (near < score1) == (w_cloud == 0.4)
    first = (score0 >= score1) & (scl[0] == 4)
    first[0, 0] = True
    np.testing.assert_allclose(out.ndvi.values[0], np.where(first, 0.3, 0.6), rtol=1e-6)
    np.testing.assert_allclose(out.red.values[0], np.where(first, 0.13, 0.16), rtol=1e-6)
    np.testing.assert_array_equal(out.bap_date.values[0], np.where(first, 4.0, 8.0))
    np.testing.assert_allclose(out.bap_score.values[0], np.where(first, score0, score1), 1e-6)
    count = np.full((N, N), 2)
    count[5:7, 5:7] = 1
    count[0, 0] = 1
    np.testing.assert_array_equal(out.bap_count.values[0], count)
    assert out.bap_count.dtype == np.int16 and out.bap_date.dtype == np.float32


def test_bap_sensor_score_and_target(bap_case):
    (ds, scl_da), _ = bap_case
    # Jan 19 is S2B; scoring S2B 0 and w_sensor 1 hands every pixel to Jan 15 (S2A), cloud aside
    out = best_available_pixel(
        ds, scl=scl_da, w_cloud=0.4, sensor_weights={"sentinel-2b": 0.0}, **BAP
    )
    assert (out.ndvi.values[0][out.bap_count.values[0] == 2] == np.float32(0.3)).all()
    # target the dekad's last day (Jan 20): Jan 19 is the closer one now
    late = best_available_pixel(ds, scl=scl_da, target="end", w_sensor=0.0, **BAP)
    assert (late.bap_date.values[0][late.bap_count.values[0] == 2] == 8.0).all()


@pytest.mark.parametrize("fn", ["wasp", "bap"])
def test_numpy_and_dask_identical(wasp_case, fn):
    (ds, scl), _ = wasp_case
    call = weighted_synthesis if fn == "wasp" else best_available_pixel
    kw = {"cloud_distance_max_m": 50.0} if fn == "wasp" else {"cloud_distance_req_m": 50.0}
    args = {"window_days": 12.0, "start": "2020-12-15", "end": "2021-02-10", **kw}
    eager = call(ds, scl=scl, **args)
    # 6-pixel chunks: the distance transform works on overlapping blocks (depth 6)
    lazy = call(ds.chunk(time=1, y=6, x=6), scl=scl.chunk(time=2, y=6, x=6), **args)
    assert lazy[next(iter(lazy.data_vars))].chunks is not None
    xr.testing.assert_identical(eager, lazy.compute())
    assert eager.sizes["time"] == 6 and (eager.isel(time=0).to_array() == 0).any()


def test_errors_name_the_parameter(wasp_case):
    (ds, scl), _ = wasp_case
    with pytest.raises(ValueError, match=r"window_days: must be a number > 0"):
        weighted_synthesis(ds, scl=scl, window_days=0)
    with pytest.raises(ValueError, match=r"cloud_weight_min: .*<= 1"):
        weighted_synthesis(ds, scl=scl, cloud_weight_min=2)
    with pytest.raises(ValueError, match=r"period must be one of \['dekad', 'month'\]"):
        weighted_synthesis(ds, scl=scl, period="week")
    with pytest.raises(ValueError, match=r"target must be 'centre', 'start', 'end'"):
        best_available_pixel(ds, scl=scl, target="middle")
    with pytest.raises(ValueError, match=r"sensor_weights: ds has no per-scene 'sensor'"):
        best_available_pixel(ds.drop_vars("platform"), scl=scl, sensor_weights={"x": 1})
    with pytest.raises(ValueError, match=r"scl: must be the SCL of the scenes of ds"):
        weighted_synthesis(ds, scl=scl.isel(time=slice(1, None)))
    with pytest.raises(ValueError, match=r"ds: needs float variables.*not float: n"):
        weighted_synthesis(ds.assign(n=ds.ndvi.astype("int16")), scl=scl)


def test_composes_with_the_chain(small):
    items = catalog.search(
        str(small.catalog),
        collection="sentinel-2-l2a",
        bbox=small.bbox,
        start=dt.date(2021, 11, 1),
        end=dt.date(2022, 1, 31),
    )
    scene_cube = cube.load(
        items, ["red", "nir", "scl"], grid=aoi.grid(aoi.read_aoi(small.bbox), resolution=10)
    )
    ndvi = indices.compute(scene_cube, ["ndvi"])
    out = weighted_synthesis(
        ndvi, scl=scene_cube.scl, start="2021-11-01", end="2022-01-31"
    ).compute()
    masked = indices.compute(mask.apply(scene_cube, mask.valid(scene_cube)), ["ndvi"])
    median = composite.composite(masked, start="2021-11-01", end="2022-01-31").compute()
    ny, nx = scene_cube.sizes["y"], scene_cube.sizes["x"]
    assert out.sizes == median.sizes == {"time": 9, "y": ny, "x": nx}
    assert (out.time.values == median.time.values).all()
    v = out.ndvi.values
    assert np.nanmin(v) >= -1 and np.nanmax(v) <= 1
    assert np.isnan(v).sum() < np.isnan(median.ndvi.values).sum()
    assert ((out.flag.values == FLAGS["land"]) | (out.flag.values == FLAGS["water"])).mean() > 0.9
    assert np.nanmax(np.abs(out.weighted_date.values - 5)) <= 23 + 5
