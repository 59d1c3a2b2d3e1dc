"""Pixel-series per second of `vegcube.gapfill` against a per-pixel lstsq loop and polyfit.

A synthetic dekadal NDVI-like cube (T periods, size × size pixels, fixed seed) with ~60 %
gaps in cloudy runs is filled by every method, numpy-backed, in this process. Each method's
cost is also given in seconds per Mpx·year (per million pixels and year of series) and as a
ratio to ``linear`` measured in the same run (the machine's speed cancels out). Baselines:

- ``lstsq loop``: for each pixel, ``numpy.linalg.lstsq`` on its valid observations with the
  same design as ``harmonic`` at K = 10 (intercept, trend, 10 cos/sin pairs: 22 parameters),
  then the fit evaluated at every period; timed on a subsample of pixels (``--loop-pixels``).
- ``xarray polyfit``: ``DataArray.polyfit(dim="time", deg=21, skipna=True)`` (22 coefficients,
  like K = 10) + ``polyval``, on a subsample (``--polyfit-pixels``); with NaNs present xarray
  fits pixel by pixel. It is a different model (a polynomial of the time), compared for cost.

BLAS threads are limited to ``--threads`` (default 1) so the figures are single-core.

    .venv/bin/python benchmarks/bench_gapfill.py [--size 1000] [--time 150] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=1000, help="grid side in pixels (size × size)")
    p.add_argument("--time", type=int, default=150, help="number of dekads T")
    p.add_argument("--loop-pixels", type=int, default=2000)
    p.add_argument("--polyfit-pixels", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads")
    return p.parse_args()


ARGS = _args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from vegcube import gapfill  # noqa: E402


def make_cube(size: int, nt: int, seed: int = 42) -> xr.DataArray:
    """NDVI-like series with random phases, trend, noise and a 2-state cloud Markov chain."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2019-01-01", periods=nt * 11, freq="D")
    t = days[days.day.isin([1, 11, 21])][:nt]
    ty = ((t - t[0]).days.to_numpy() / 365.25).astype("float32")
    ph = rng.uniform(0, 2 * np.pi, (size, size)).astype("float32")
    data = np.empty((nt, size, size), "float32")
    cloudy = rng.random((size, size)) < 0.6
    for i in range(nt):  # mean cloudy run 3 periods, clear run 2 → ~60 % gaps
        stay = rng.random((size, size)) < np.where(cloudy, 2 / 3, 1 / 2)
        cloudy = np.where(stay, cloudy, ~cloudy)
        v = 0.5 + 0.2 * np.cos(2 * np.pi * ty[i] - ph) + 0.02 * ty[i]
        v += rng.normal(0, 0.01, (size, size)).astype("float32")
        data[i] = np.where(cloudy, np.nan, v)
    return xr.DataArray(data, dims=("time", "y", "x"), coords={"time": t.values})


def lstsq_loop(da: xr.DataArray, npx: int, k: int = 10) -> float:
    """Series/s of a per-pixel numpy.linalg.lstsq fit of the harmonic model with K = k."""
    ty = (da.time.values - da.time.values[0]).astype("timedelta64[s]").astype(float) / 31557600
    w = 2 * np.pi * np.arange(1, k + 1) * ty[:, None]
    a = np.column_stack([np.ones_like(ty), ty - ty.mean(), np.cos(w), np.sin(w)])
    y = da.values.reshape(da.shape[0], -1)[:, :npx].T.astype(float)
    out = np.empty_like(y)
    t0 = time.perf_counter()
    for i in range(len(y)):
        ok = np.isfinite(y[i])
        beta = np.linalg.lstsq(a[ok], y[i, ok], rcond=None)[0]
        out[i] = np.where(ok, y[i], a @ beta)
    return len(y) / (time.perf_counter() - t0)


def polyfit(da: xr.DataArray, npx: int, deg: int = 21) -> float:
    sub = da.stack(px=("y", "x")).isel(px=slice(0, npx))
    sub = sub.assign_coords(time=(sub.time - sub.time[0]).dt.days.astype(float) / 365.25)
    t0 = time.perf_counter()
    coef = sub.polyfit("time", deg, skipna=True).polyfit_coefficients
    xr.polyval(sub.time, coef).compute()
    return npx / (time.perf_counter() - t0)


def main() -> int:
    print(f"cube: T={ARGS.time}, {ARGS.size}×{ARGS.size} px, threads={ARGS.threads}", flush=True)
    t0 = time.perf_counter()
    da = make_cube(ARGS.size, ARGS.time)
    npx = ARGS.size**2
    gaps = float(np.isnan(da.values).mean())
    print(f"generated in {time.perf_counter() - t0:.1f} s; gaps {gaps:.0%}", flush=True)
    rows: list[tuple[str, int, float]] = []
    loop = lstsq_loop(da, min(ARGS.loop_pixels, npx))
    rows.append(("lstsq loop, K=10 (baseline)", min(ARGS.loop_pixels, npx), loop))
    rows.append(
        (
            "xarray polyfit deg=21",
            min(ARGS.polyfit_pixels, npx),
            polyfit(da, min(ARGS.polyfit_pixels, npx)),
        )
    )
    cases = [
        ("linear", "linear", {}),
        ("harmonic (10, 5, 1)", "harmonic", {}),
        ("harmonic, plain (no ridge/robust)", "harmonic", {"smooth": 0.0, "robust": 0}),
        ("harmonic K=10", "harmonic", {"harmonics": 10}),
        ("harmonic window 365 d", "harmonic", {"window_days": 365}),
        ("spatiotemporal", "spatiotemporal", {}),
        ("hants (3, 2, 1)", "hants", {}),
        ("whittaker λ=10", "whittaker", {}),
    ]
    for label, method, params in cases:
        t0 = time.perf_counter()
        gapfill.fill(da, method=method, **params)["filled"].values  # noqa: B018
        rows.append((label, npx, npx / (time.perf_counter() - t0)))
        print(f"  {label}: done", flush=True)
    years = (da.time.values[-1] - da.time.values[0]) / np.timedelta64(1, "D") / 365.25 + 1 / 36
    linear = next(rate for label, _, rate in rows if label == "linear")
    print(
        f"\n{'contender':34s} {'pixels':>9s} {'series/s':>11s} {'× lstsq loop':>13s} "
        f"{'s/Mpx·year':>11s} {'÷ linear':>9s}"
    )
    for label, n, rate in rows:
        per = 1e6 / rate / years
        print(
            f"{label:34s} {n:9d} {rate:11,.0f} {rate / loop:13.1f} {per:11.2f} {linear / rate:9.1f}"
        )
    print(f"({years:.2f} years of dekads; '÷ linear': time relative to linear, same run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
