"""Gap filling: known truth (synthetic, fixed seed), reference solves, real Sentinel-2 gaps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vegcube import gapfill

SLOVENIA = Path("/work/shared/data/slovenia-s2-ndvi-2015-2016")


def _dekads(start: str = "2019-01-01", end: str = "2023-12-31") -> pd.DatetimeIndex:
    days = pd.date_range(start, end, freq="D")
    return days[days.day.isin([1, 11, 21])]


def _truth(t: pd.DatetimeIndex, npx: int, rng: np.random.Generator) -> np.ndarray:
    """(npx, T) NDVI-like: annual + semi-annual harmonics of random phases, trend."""
    ty = (t - t[0]).days.to_numpy() / 365.25
    ph1, ph2 = rng.uniform(0, 2 * np.pi, (2, npx, 1))
    return (
        0.5 + 0.2 * np.cos(2 * np.pi * ty - ph1) + 0.08 * np.cos(4 * np.pi * ty - ph2) + 0.02 * ty
    )


def _cloudy_runs(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Alternating cloudy/clear runs of geometric lengths (means 3 and 2 periods): ~60 % gaps."""
    gap = np.zeros(shape, bool)
    for row in gap:
        pos, cloudy = int(rng.integers(0, 3)), bool(rng.random() < 0.6)
        while pos < shape[1]:
            n = int(rng.geometric(1 / (3 if cloudy else 2)))
            row[pos : pos + n] = cloudy
            pos, cloudy = pos + n, not cloudy
    return gap


def _cube(values: np.ndarray, t: pd.DatetimeIndex, side: int) -> xr.DataArray:
    """(npx, T) → DataArray (time, y, x) float32."""
    data = values.T.reshape(len(t), side, -1).astype("float32")
    return xr.DataArray(
        data,
        dims=("time", "y", "x"),
        coords={
            "time": t.values,
            "y": np.arange(side) * -10.0,
            "x": np.arange(data.shape[2]) * 10.0,
        },
        name="ndvi",
    )


@pytest.fixture(scope="module")
def synthetic() -> dict[str, object]:
    rng = np.random.default_rng(42)
    t = _dekads()
    truth = _truth(t, 400, rng)
    gap = _cloudy_runs(truth.shape, rng)
    obs = truth + rng.normal(0, 0.01, truth.shape)
    return {"t": t, "truth": truth, "gap": gap, "da": _cube(np.where(gap, np.nan, obs), t, 20)}


def _flat(da: xr.DataArray) -> np.ndarray:
    """DataArray (time, y, x) → (npx, T)."""
    return da.values.reshape(da.shape[0], -1).T


def _rmse(e: np.ndarray) -> float:
    return float(np.sqrt(np.mean(e**2)))


# --------------------------------------------------------------------------- known truth


def test_harmonic_fills_cloudy_runs_against_truth(synthetic):
    gap, truth = synthetic["gap"], synthetic["truth"]
    assert 0.55 < gap.mean() < 0.65
    ds = gapfill.fill(synthetic["da"])
    filled, q = _flat(ds["filled"]), _flat(ds["quality"])
    assert ds["filled"].dtype == np.float32 and ds["quality"].dtype == np.int8
    assert np.isfinite(filled[gap]).all()
    assert _rmse(filled[gap] - truth[gap]) < 0.02
    assert (q[~gap] == -1).all() and set(np.unique(q[gap])) <= {1, 5, 10}
    np.testing.assert_array_equal(filled[~gap], _flat(synthetic["da"])[~gap])


def test_harmonic_window_fills_and_tracks_a_changing_season():
    rng = np.random.default_rng(1)
    t = _dekads()
    ty = (t - t[0]).days.to_numpy() / 365.25
    amp = 0.1 + 0.05 * np.floor(ty)  # the seasonal amplitude grows year after year
    truth = 0.4 + amp * np.cos(2 * np.pi * ty - rng.uniform(0, 6, (100, 1)))
    gap = _cloudy_runs(truth.shape, rng)
    da = _cube(np.where(gap, np.nan, truth + rng.normal(0, 0.01, truth.shape)), t, 10)
    errs = {}
    for window in (None, 730):
        ds = gapfill.fill(da, harmonics=(3, 1), window_days=window)
        filled = _flat(ds["filled"])
        ok = np.isfinite(filled) & gap
        assert ok.sum() > 0.99 * gap.sum()
        errs[window] = _rmse(filled[ok] - truth[ok])
    assert errs[730] < 0.8 * errs[None]


def test_quality_codes_and_cascade():
    t = _dekads("2020-01-01", "2021-12-31")  # 72 periods
    truth = _truth(t, 4, np.random.default_rng(3))
    keep = np.zeros(truth.shape, bool)
    keep[0] = True  # all 72 observed → K = 10 (needs 33)
    keep[1, ::3] = True  # 24 observations every 30 days → K = 5 (needs 18, phase gap ≤ 73 d)
    keep[2, ::12] = True  # 6 observations → K = 1 (needs 6)
    keep[3, :4] = True  # 4 observations → unfilled
    keep[0, 5] = False
    da = _cube(np.where(keep, truth, np.nan), t, 2)
    ds = gapfill.fill(da)
    q, f = _flat(ds["quality"]), _flat(ds["filled"])
    assert (q[keep] == -1).all()
    assert (q[0, ~keep[0]] == 10).all() and (q[1, ~keep[1]] == 5).all()
    assert (q[2, ~keep[2]] == 1).all() and (q[3, ~keep[3]] == 0).all()
    assert np.isnan(f[3, ~keep[3]]).all() and np.isfinite(f[:3]).all()
    assert abs(f[0, 5] - truth[0, 5]) < 1e-3
    # linear: no extrapolation beyond the first/last observation
    lq = _flat(gapfill.fill(da, method="linear")["quality"])
    assert (lq[3, 4:] == 0).all() and (lq[1, 1:3] == 1).all() and (lq[1, -2:] == 0).all()


# --------------------------------------------------------------------------- HANTS


def _with_clouds(seed: int, frac: float, noise: float):
    rng = np.random.default_rng(seed)
    t = _dekads("2019-01-01", "2021-12-31")
    truth = 0.5 + 0.25 * np.cos(
        2 * np.pi * (t - t[0]).days.to_numpy() / 365.25 - rng.uniform(0, 6, (100, 1))
    )
    cloud = rng.random(truth.shape) < frac
    obs = truth + rng.normal(0, noise, truth.shape) - cloud * rng.uniform(0.2, 0.5, truth.shape)
    return t, truth, cloud, _cube(obs, t, 10)


def test_hants_removes_cloud_depressed_values():
    _, truth, cloud, da = _with_clouds(7, 0.15, 0.01)
    hants = _flat(gapfill.fill(da, method="hants", harmonics=(2, 1))["filled"])
    plain = _flat(gapfill.fill(da, method="harmonic", harmonics=(2, 1))["filled"])
    err_hants = _rmse(hants[cloud] - truth[cloud])
    assert err_hants < 0.03
    assert _rmse(_flat(da)[cloud] - truth[cloud]) > 0.2  # the depressed values themselves
    # the plain fit keeps the outliers: pulled down everywhere
    assert _rmse(plain - truth) > 2 * _rmse(np.where(cloud, hants, truth) - truth)


def test_hants_rejects_exactly_the_injected_outliers():
    # a clean case: tiny noise, ~8 % clouds; a wrong rank order rejects good points instead
    _, _, cloud, da = _with_clouds(11, 0.08, 0.002)
    q = _flat(gapfill.fill(da, method="hants", harmonics=1, fet=0.05, max_iter=20)["quality"])
    np.testing.assert_array_equal(q != -1, cloud)


def test_hants_never_keeps_fewer_than_the_minimum():
    *_, da = _with_clouds(5, 0.6, 0.01)
    for dod in (3, 40):
        q = _flat(gapfill.fill(da, method="hants", harmonics=2, dod=dod, max_iter=50)["quality"])
        kept = (q == -1).sum(1)
        assert (kept >= 2 * 2 + 2 + dod).all()
        # dod=3 leaves room to reject every cloud; dod=40 needs 46 of the ~43 clear points
        assert (kept == 46).any() if dod == 40 else (kept < 60).all()


# --------------------------------------------------------------------------- reference solves


def _small_gappy(seed: int = 0, npx: int = 6, nt: int = 30):
    rng = np.random.default_rng(seed)
    t = pd.DatetimeIndex(np.sort(rng.choice(pd.date_range("2020-01-01", periods=400), nt, False)))
    y = np.sin(np.linspace(0, 6, nt)) + rng.normal(0, 0.1, (npx, nt))
    y[rng.random(y.shape) < 0.4] = np.nan
    y[:, 0], y[0, -4:] = np.nan, np.nan
    return t, y, _cube(y, t, 1)


@pytest.mark.parametrize("smooth_observed", [False, True])
def test_whittaker_matches_dense_solve(smooth_observed):
    t, y, da = _small_gappy()
    lmbda, nt = 7.0, y.shape[1]
    rng = np.random.default_rng(1)
    weights = rng.uniform(0.2, 1.0, y.shape)
    d = np.diff(np.eye(nt), 2, axis=0)
    ds = gapfill.fill(
        da,
        method="whittaker",
        lmbda=lmbda,
        weights=_cube(weights, t, 1),
        smooth_observed=smooth_observed,
    )
    got, q = _flat(ds["filled"]), _flat(ds["quality"])
    w_np = _cube(weights, t, 1).values  # a plain array, and dask-backed data, give the same
    opts = {"method": "whittaker", "lmbda": lmbda, "smooth_observed": smooth_observed}
    xr.testing.assert_identical(gapfill.fill(da, weights=w_np, **opts), ds)
    lazy = gapfill.fill(da.chunk({"time": 7, "y": 1, "x": 3}), weights=w_np, **opts)
    xr.testing.assert_identical(lazy.compute(), ds)
    for i in range(len(y)):
        w = np.where(np.isfinite(y[i]), weights[i], 0.0)
        z = np.linalg.solve(np.diag(w) + lmbda * d.T @ d, w * np.nan_to_num(y[i]))
        want = z if smooth_observed else np.where(np.isfinite(y[i]), y[i], z)
        np.testing.assert_allclose(got[i], want, atol=2e-6)
        assert ((q[i] == -1) == (np.isfinite(y[i]) & (not smooth_observed))).all()


def test_linear_matches_np_interp():
    t, y, da = _small_gappy(seed=2)
    days = (t - t[0]).days.to_numpy().astype(float)
    got = _flat(gapfill.fill(da, method="linear")["filled"])
    for i in range(len(y)):
        ok = np.isfinite(y[i])
        want = np.interp(days, days[ok], y[i, ok], left=np.nan, right=np.nan)
        np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- dask, errors


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("harmonic", {}),
        ("harmonic", {"window_days": 365}),
        ("hants", {}),
        ("whittaker", {}),
        ("linear", {}),
    ],
)
def test_dask_matches_numpy(synthetic, method, params):
    da = synthetic["da"]
    eager = gapfill.fill(da, method=method, **params)
    lazy = gapfill.fill(da.chunk({"time": 50, "y": 7, "x": 8}), method=method, **params)
    assert lazy["filled"].chunks is not None
    xr.testing.assert_identical(eager, lazy.compute())


def test_errors_name_the_parameter():
    da = _cube(np.ones((4, 10)), _dekads()[:10], 2)
    with pytest.raises(ValueError, match=r"harmonic.*hants.*whittaker.*linear"):
        gapfill.fill(da, method="spline")
    with pytest.raises(TypeError, match=r"'lambda'.*accepted.*lmbda"):
        gapfill.fill(da, method="whittaker", **{"lambda": 5})
    with pytest.raises(TypeError, match="harmonics"):
        gapfill.fill(da, method="linear", harmonics=3)
    with pytest.raises(ValueError, match="'low_high'"):
        gapfill.fill(da, method="hants", low_high="below")
    with pytest.raises(ValueError, match="'harmonics'"):
        gapfill.fill(da, harmonics=(5, 0))
    with pytest.raises(ValueError, match="time"):
        gapfill.fill(da.rename(time="t"))
    with pytest.raises(TypeError):
        gapfill.fill(da, "linear")  # type: ignore[misc]


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(not SLOVENIA.exists(), reason="Slovenia Sentinel-2 sample not present")
def test_real_sentinel2_holdout_beats_linear():
    ndvi = np.load(SLOVENIA / "NDVI.npy")[..., 0]
    valid = np.load(SLOVENIA / "IS_VALID.npy")[..., 0].astype(bool)
    clp = np.load(SLOVENIA / "CLP.npy")[..., 0]
    times = pd.to_datetime(json.loads((SLOVENIA / "timestamps.json").read_text()))
    hold = valid & (np.random.default_rng(0).random(valid.shape) < 0.2)
    da = xr.DataArray(
        np.where(valid & ~hold, ndvi, np.nan),
        dims=("time", "y", "x"),
        coords={"time": times.values},
    )
    scored = hold & (clp < 0.1)
    filled = {m: gapfill.fill(da, method=m)["filled"].values for m in gapfill.METHODS}
    common = scored & np.isfinite(filled["linear"])  # linear does not extrapolate
    medae = {m: float(np.median(np.abs(f - ndvi)[common])) for m, f in filled.items()}
    print(
        f"\nSlovenia hold-out: {int(hold.sum())} held out, {int(common.sum())} scored "
        "(CLP < 0.1, inside linear's range); median |error| with default parameters:"
    )
    for m, e in medae.items():
        print(f"  {m:10s} {e:.4f}  ({e / medae['linear']:.2f} × linear)")
    best = min(medae, key=medae.__getitem__)
    assert medae[best] <= 0.8 * medae["linear"], medae
