"""Lee and refined Lee speckle filters on synthetic speckle of known looks: homogeneous ground
smoothed, edges kept, NaN respected, tiles joined seamlessly, numpy and dask alike."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from vegcube import speckle
from vegcube.errors import InputError

LOOKS = 4.4
DARK, BRIGHT = 0.02, 0.15  # γ⁰ of the two fields (−17 dB, −8.2 dB)
N, EDGE = 96, 48  # a vertical step edge between columns 47 and 48


def _scene(seed: int = 0, looks: float = LOOKS) -> tuple[np.ndarray, xr.DataArray]:
    truth = np.full((N, N), DARK)
    truth[:, EDGE:] = BRIGHT
    rng = np.random.default_rng(seed)
    z = (truth * rng.gamma(looks, 1 / looks, (N, N))).astype("float32")
    da = xr.DataArray(
        z[None], dims=("time", "y", "x"), coords={"y": np.arange(N), "x": np.arange(N)}
    )
    return truth, da


def _cv(a: np.ndarray) -> float:
    return float(np.std(a) / np.mean(a))


@pytest.mark.parametrize("name", ["lee", "refined_lee"])
def test_homogeneous_ground_smoothed_threefold_and_edge_kept(name):
    _, da = _scene()
    out = getattr(speckle, name)(da, size=7, looks=LOOKS).values[0]
    raw = da.values[0]
    inner = (slice(8, N - 8), slice(4, EDGE - 8)), (slice(8, N - 8), slice(EDGE + 8, N - 4))
    for area in inner:
        assert _cv(raw[area]) > 0.4  # 1/√4.4 = 0.48 before filtering
        assert _cv(raw[area]) / _cv(out[area]) >= 3
        assert np.mean(out[area]) == pytest.approx(np.mean(raw[area]), rel=0.05)  # no bias
    # the step, row by row: the first column above the levels' midpoint is within one pixel
    mid = (DARK + BRIGHT) / 2
    first = np.argmax(out[8 : N - 8] > mid, axis=1)
    assert np.median(first) in (EDGE - 1, EDGE, EDGE + 1)
    assert np.mean(np.abs(first - EDGE) <= 1) >= 0.9


def test_refined_lee_keeps_the_edge_sharper_than_lee():
    _, da = _scene(1)
    lee = speckle.lee(da, size=7, looks=LOOKS).values[0]
    refined = speckle.refined_lee(da, size=7, looks=LOOKS).values[0]
    # the dark side next to the edge: Lee's square window mixes the bright field in
    near = (slice(8, N - 8), slice(EDGE - 3, EDGE - 1))
    assert abs(np.mean(refined[near]) - DARK) < abs(np.mean(lee[near]) - DARK)


def test_nan_stays_nan_and_is_not_averaged_in():
    _, da = _scene(2)
    z = da.values.copy()
    z[0, 20:30, 10:20] = np.nan  # nodata, or a masked patch
    out = speckle.refined_lee(da.copy(data=z), size=7, looks=LOOKS).values[0]
    assert np.isnan(out[20:30, 10:20]).all()
    assert np.isfinite(out[:20]).all() and np.isfinite(out[30:]).all()
    assert np.nanmean(out[18:32, 5:25]) == pytest.approx(DARK, rel=0.15)


@pytest.mark.parametrize("name", ["lee", "refined_lee"])
def test_tiles_read_with_a_halo_join_seamlessly(name):
    _, da = _scene(3)
    whole = getattr(speckle, name)(da, size=7, looks=LOOKS)
    h = speckle.halo(7)
    cut = 40  # two tiles side by side, each read with the halo, then cropped
    left = getattr(speckle, name)(da.isel(x=slice(0, cut + h)), size=7, looks=LOOKS)
    right = getattr(speckle, name)(da.isel(x=slice(cut - h, N)), size=7, looks=LOOKS)
    joined = xr.concat([left.isel(x=slice(0, cut)), right.isel(x=slice(h, None))], "x")
    np.testing.assert_allclose(joined.values, whole.values, rtol=1e-6)


def test_dask_equals_numpy_and_scenes_are_filtered_one_by_one():
    _, a = _scene(4)
    _, b = _scene(5)
    da = xr.concat([a, b], "time")
    eager = speckle.refined_lee(da, size=5, looks=LOOKS)
    lazy = speckle.refined_lee(da.chunk({"time": 1, "y": 30, "x": 30}), size=5, looks=LOOKS)
    np.testing.assert_allclose(lazy.compute().values, eager.values, rtol=1e-6)
    one = speckle.refined_lee(b, size=5, looks=LOOKS)
    np.testing.assert_allclose(eager.values[1], one.values[0], rtol=1e-6)


def test_looks_estimated_from_homogeneous_ground():
    for looks in (1.0, 4.4, 10.0):
        _, da = _scene(6, looks)
        assert speckle.estimate_looks(da[0]) == pytest.approx(looks, rel=0.2)


def test_apply_filters_only_the_radar_bands_given():
    _, da = _scene(7)
    ds = xr.Dataset({"vv": da, "other": da})
    out = speckle.apply(ds, bands=["vv", "vh"], method="lee", size=5, looks=LOOKS)
    assert out.vv.attrs["speckle_filter"] == "lee 5x5"
    np.testing.assert_array_equal(out.other.values, ds.other.values)
    assert _cv(out.vv.values[0, :, :EDGE]) < _cv(ds.vv.values[0, :, :EDGE]) / 2


def test_bad_parameters_name_what_is_accepted():
    _, da = _scene()
    with pytest.raises(InputError, match="speckle size: 6 is not an odd window"):
        speckle.lee(da, size=6)
    with pytest.raises(InputError, match="speckle looks: 0"):
        speckle.lee(da, looks=0)
    with pytest.raises(InputError, match="'gamma_map' is not known; use lee or refined_lee"):
        speckle.apply(xr.Dataset({"vv": da}), bands=["vv"], method="gamma_map")
