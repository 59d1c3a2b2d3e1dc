"""Gap filling: known truth (synthetic, fixed seed), reference solves, real Sentinel-2 gaps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vegcube import gapfill
from vegcube.errors import InputError, RecipeError

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
    ds = gapfill.fill(da, method="harmonic")
    q, f = _flat(ds["quality"]), _flat(ds["filled"])
    assert (q[keep] == -1).all()
    assert (q[0, ~keep[0]] == 10).all() and (q[1, ~keep[1]] == 5).all()
    assert (q[2, ~keep[2]] == 1).all() and (q[3, ~keep[3]] == 0).all()
    assert np.isnan(f[3, ~keep[3]]).all() and np.isfinite(f[:3]).all()
    # the smoothness ridge shrinks the semi-annual term a little; the plain fit is exact
    assert abs(f[0, 5] - truth[0, 5]) < 3e-3
    plain = _flat(gapfill.fill(da, smooth=0.0, robust=0)["filled"])
    assert abs(plain[0, 5] - truth[0, 5]) < 1e-4
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
    plain = _flat(gapfill.fill(da, method="harmonic", harmonics=(2, 1), robust=0)["filled"])
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
    # 68 irregular dates, 101 × 100 px; 20 % of the valid observations held out (seed 0),
    # scored where s2cloudless says clear (CLP < 0.1) and linear has a value
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
    gaps = ~np.isfinite(da.values)
    filled = {m: gapfill.fill(da, method=m)["filled"].values for m in gapfill.METHODS}
    common = scored & np.isfinite(filled["linear"])  # linear does not extrapolate
    medae = {m: float(np.median(np.abs(f - ndvi)[common])) for m, f in filled.items()}
    fill = {m: float(np.isfinite(f[gaps]).mean()) for m, f in filled.items()}
    print(
        f"\nSlovenia hold-out: {int(hold.sum())} held out, {int(common.sum())} scored "
        "(CLP < 0.1, inside linear's range); median |error| with default parameters:"
    )
    for m, e in medae.items():
        print(f"  {m:15s} {e:.4f}  ({e / medae['linear']:.3f} × linear), fill {fill[m]:.1%}")
    assert medae["spatiotemporal"] <= 0.65 * medae["linear"], medae
    assert medae["harmonic"] <= 0.8 * medae["linear"], medae
    assert fill["spatiotemporal"] >= 0.98 and fill["harmonic"] >= 0.98, fill


# --------------------------------------------------------------------------- droughts


def _blobs(rng: np.random.Generator, nt: int, side: int, frac: float, scale: float):
    """(nt, side, side) spatially coherent patches covering ~frac of each date (varying)."""
    from scipy import ndimage

    f = ndimage.gaussian_filter(rng.normal(size=(nt, side, side)), (0, scale, scale), mode="wrap")
    share = rng.beta(frac * 2, (1 - frac) * 2, nt)
    thr = np.array([np.quantile(f[i], 1 - share[i]) for i in range(nt)])
    return f > thr[:, None, None]


@pytest.fixture(scope="module")
def drought() -> dict[str, object]:
    """5 years of dekads on 48 × 48 px (seed 42): three land covers, noise, cloud gaps (~45 %),
    a drought of 6 dekads at −0.25 over a disc (~30 % of the pixels, year 4) and one-date
    negative spikes of cloud residue (depth 0.1–0.4, in patches) that the mask missed."""
    rng, side = np.random.default_rng(42), 48
    t = _dekads()
    ty = (t - t[0]).days.to_numpy() / 365.25
    yy, xx = np.mgrid[:side, :side]
    lc = xx * 3 // side
    base, amp = np.array([0.25, 0.45, 0.7])[lc], np.array([0.3, 0.25, 0.1])[lc]
    ph = rng.normal(0, 0.2, (side, side)) + 2 * np.pi * 0.55
    season = 2 * np.pi * ty[:, None, None] - ph
    normal = base + amp * np.cos(season) + 0.05 * amp * np.cos(2 * season)
    normal = normal * (1 + 0.05 * rng.normal(size=6)[np.floor(ty).astype(int)])[:, None, None]
    dry = np.zeros(normal.shape, bool)
    d0 = int(np.searchsorted(ty, 3.45))
    dry[d0 : d0 + 6] = (yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side * 0.31) ** 2
    truth = normal - 0.25 * dry
    cloud = _blobs(rng, len(t), side, 0.45, 6)
    spike = _blobs(rng, len(t), side, 0.08, 3) & ~cloud
    spike &= (rng.random(len(t)) < 0.05 / spike.mean() * (1 - cloud.mean()))[:, None, None]
    depth = rng.uniform(0.1, 0.4, truth.shape)
    obs = truth + rng.normal(0, 0.02, truth.shape) - np.where(spike, depth, 0)
    da = xr.DataArray(
        np.where(cloud, np.nan, obs).astype("float32"),
        dims=("time", "y", "x"),
        coords={"time": t.values, "y": np.arange(side) * -10.0, "x": np.arange(side) * 10.0},
    )
    return {
        "da": da,
        "normal": normal,
        "truth": truth,
        "dry": dry,
        "cloud": cloud,
        "spike": spike,
        "depth": depth,
    }


def _kept(out: np.ndarray, s: dict, cells: np.ndarray) -> float:
    """The share of the drought's depth left in `out`: per drought pixel the mean over its
    `cells` of (normal − out) / 0.25, median over the pixels."""
    dip = np.where(cells, s["normal"] - out, np.nan)[:, cells.any(0)]
    return float(np.nanmedian(np.nanmean(dip, 0)) / 0.25)


def test_spatiotemporal_keeps_a_drought_and_rejects_residue(drought):
    s = drought
    ds = gapfill.fill(s["da"], method="spatiotemporal")
    out, q = ds["filled"].values.astype(float), ds["quality"].values
    assert np.isfinite(out).all()
    kept = _kept(out, s, s["dry"])
    spike = s["spike"]
    rejected = float((q[spike] == -2).mean())
    restored = float(np.mean(np.abs(out - s["truth"])[spike] < 0.5 * s["depth"][spike]))
    false = float((q == -2).sum() - (q[spike] == -2).sum()) / float((q == -1).sum())
    harmonic = gapfill.fill(s["da"])["filled"].values.astype(float)
    in_gaps = s["dry"] & s["cloud"]
    print(
        f"\ndrought kept {kept:.0%} (gaps {_kept(out, s, in_gaps):.0%}; harmonic "
        f"{_kept(harmonic, s, in_gaps):.0%}), residue rejected {rejected:.0%}, restored "
        f"{restored:.0%}, other observations replaced {false:.1%}"
    )
    assert kept >= 0.75  # the ceiling (linear on noise-free observations) is ~0.87
    assert rejected >= 0.9 and restored >= 0.9
    assert false < 0.05
    # a global seasonal fit fills the drought's gaps with the normal season
    assert _kept(harmonic, s, in_gaps) < 0.2 < 0.6 < _kept(out, s, in_gaps)


def test_spatiotemporal_quality_codes(drought):
    da = drought["da"].copy()
    sparse = np.isfinite(da.values[:, 0, 0]).nonzero()[0][3:]
    da.values[sparse, 0, 0] = np.nan  # 3 observations: no background, left unfilled
    some = np.isfinite(da.values[:, 0, 1]).nonzero()[0]
    da.values[np.setdiff1d(some, some[:: len(some) // 12]), 0, 1] = np.nan  # ~12: K = 2
    ds = gapfill.fill(da, method="spatiotemporal", harmonics=(5, 2))
    q, f, y = ds["quality"].values, ds["filled"].values, da.values
    assert ds["filled"].dtype == np.float32 and ds["quality"].dtype == np.int8
    assert set(np.unique(q)) == {-2, -1, 0, 2, 5}
    observed = np.isfinite(y)
    np.testing.assert_array_equal(f[q == -1], y[q == -1])
    assert observed[q == -2].all() and (f[q == -2] > y[q == -2]).mean() > 0.95  # dips lifted
    assert (~observed[q > 0]).all() and np.isfinite(f[q > 0]).all()
    assert (q[:, 0, 0][~observed[:, 0, 0]] == 0).all() and np.isnan(f[q == 0]).all()
    assert ds["quality"].attrs["flag_meanings"].startswith("-1 observed, -2 observation")


def test_spatiotemporal_dask_matches_numpy(drought):
    da = drought["da"].isel(time=slice(0, 108))  # 3 years: enough for the comparison
    eager = gapfill.fill(da, method="spatiotemporal", sigma=2.0)
    lazy = gapfill.fill(
        da.chunk({"time": 40, "y": 20, "x": 15}), method="spatiotemporal", sigma=2.0
    )
    assert lazy["filled"].chunks == ((108,), (20, 20, 8), (15, 15, 15, 3))
    lazy = lazy.compute()
    xr.testing.assert_allclose(eager, lazy, atol=1e-5)
    xr.testing.assert_equal(eager["quality"], lazy["quality"])


def test_harmonic_robust_lifts_the_fit_above_cloud_residue():
    _, truth, cloud, da = _with_clouds(7, 0.15, 0.01)
    gap = np.random.default_rng(8).random(truth.shape) < 0.3
    da = da.where(~_cube(gap.astype(float), da.time.to_index(), 10).astype(bool))
    errs = {}
    for robust in (0, 5):
        f = _flat(gapfill.fill(da, harmonics=(2, 1), robust=robust)["filled"])
        errs[robust] = float(np.median(np.abs(f - truth)[gap & ~cloud]))
    assert errs[5] < 0.5 * errs[0], errs


def test_spatiotemporal_parameters_are_checked(drought):
    da = drought["da"].isel(x=slice(0, 4), y=slice(0, 4))
    for bad in (
        {"sigma": 0},
        {"sigma": -1.0},
        {"delta": -0.1},
        {"min_run": 1.5},
        {"robust": -1},
        {"smooth": float("nan")},
        {"harmonics": (0,)},
        {"d_lam": "strong"},
        {"max_phase_gap": 0},
    ):
        name = next(iter(bad))
        with pytest.raises(RecipeError, match=f"'{name}'"):
            gapfill.fill(da, method="spatiotemporal", **bad)
    with pytest.raises(TypeError, match=r"'lmbda'.*accepted.*sigma"):
        gapfill.fill(da, method="spatiotemporal", lmbda=3)
    with pytest.raises(InputError, match=r"dims \(time, y, x\)"):
        gapfill.fill(da.expand_dims(band=2), method="spatiotemporal")
    assert gapfill.parameters("spatiotemporal")["sigma"] == 3.0
    with pytest.raises(RecipeError, match="'window_days'"):
        gapfill.fill(da, window_days=-5)


def test_recipe_takes_spatiotemporal_and_names_a_wrong_parameter():
    from vegcube.recipe import load_recipe

    recipe = {
        "name": "t",
        "aoi": {"bbox": [165.3, -21.6, 165.6, -21.4]},
        "time": {"start": "2019-01-01", "end": "2020-12-31"},
        "source": {"catalog": "earth-search"},
        "indices": ["ndvi"],
        "output": {"dir": "out"},
    }
    rc = load_recipe({**recipe, "gapfill": {"method": "spatiotemporal", "sigma": 4}})
    assert rc.gapfill.method == "spatiotemporal" and rc.gapfill.params == {"sigma": 4}
    with pytest.raises(
        RecipeError, match=r"gapfill: lmbda: not a parameter of method 'spatiotemporal'"
    ):
        load_recipe({**recipe, "gapfill": {"method": "spatiotemporal", "lmbda": 5}})


def test_recipe_checks_the_method_ranges_before_any_work(tmp_path):
    from vegcube.recipe import load_recipe

    rc = {"name": "x", "aoi": {"bbox": [165.3, -21.6, 165.4, -21.5]},
          "time": {"start": "2020-01-01", "end": "2020-12-31"},
          "source": {"catalog": "earth-search", "collection": "sentinel-2-l2a"},
          "output": {"dir": str(tmp_path)}}  # fmt: skip
    for bad, name in (({"sigma": -1}, "sigma"), ({"delta": -0.1}, "delta")):
        with pytest.raises(RecipeError, match=rf"gapfill: .*'{name}'"):
            load_recipe({**rc, "gapfill": {"method": "spatiotemporal", **bad}})
    assert load_recipe({**rc, "gapfill": {"method": "spatiotemporal", "sigma": 4}}).gapfill
