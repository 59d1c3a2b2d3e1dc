"""Shared harness: the Slovenian hold-out protocol of tests/test_gapfill.py, scoring, timing.

Protocol (identical to tests/test_gapfill.py::test_real_sentinel2_holdout_beats_linear):
  valid = IS_VALID; hold = valid & (default_rng(0).random(valid.shape) < 0.2)
  input = NDVI where valid & ~hold, NaN elsewhere
  scored = hold & (CLP < 0.1) & isfinite(linear fill)   ("clear" = s2cloudless prob < 0.1,
           inside linear's range: linear does not extrapolate)
  metric = median |filled - NDVI| over scored
  fill fraction = share of all non-observed (time, pixel) cells that got a finite value
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, "/work/main/src")
D = Path("/work/shared/data/slovenia-s2-ndvi-2015-2016")


def load(seed: int = 0, frac: float = 0.2, block: int = 0):
    """block > 0: hold out whole block×block squares of a date (cloud-like patches) instead of
    independent pixel-dates; about `frac` of the valid observations either way."""
    ndvi = np.load(D / "NDVI.npy")[..., 0]
    valid = np.load(D / "IS_VALID.npy")[..., 0].astype(bool)
    clp = np.load(D / "CLP.npy")[..., 0]
    times = pd.to_datetime(json.loads((D / "timestamps.json").read_text()))
    rng = np.random.default_rng(seed)
    if block:
        T, H, W = valid.shape
        nb = (T, -(-H // block), -(-W // block))
        pick = rng.random(nb) < frac
        hold = valid & np.repeat(np.repeat(pick, block, 1), block, 2)[:, :H, :W]
    else:
        hold = valid & (rng.random(valid.shape) < frac)
    da = xr.DataArray(np.where(valid & ~hold, ndvi, np.nan), dims=("time", "y", "x"),
                      coords={"time": times.values})
    return dict(ndvi=ndvi, valid=valid, clp=clp, times=times, hold=hold, da=da,
                scored=hold & (clp < 0.1))


def days_of(times) -> np.ndarray:
    t = np.asarray(pd.DatetimeIndex(times).values)
    return (t - t[0]).astype("timedelta64[ns]").astype("float64") / 86400e9


def flat(a: np.ndarray) -> np.ndarray:
    """(T, y, x) -> (npx, T)"""
    return a.reshape(a.shape[0], -1).T


def unflat(a: np.ndarray, shape) -> np.ndarray:
    return a.T.reshape(shape)


def score(filled: np.ndarray, d: dict, common: np.ndarray) -> dict:
    """filled (T, y, x). common: the scored cells (scored & linear finite)."""
    err = np.abs(filled - d["ndvi"])[common]
    gaps = ~np.isfinite(d["da"].values)
    fill = float(np.isfinite(filled[gaps]).mean())
    # also score the whole held-out set (cloudy-ish included) for info
    hold_fin = d["hold"] & np.isfinite(filled)
    return dict(medae=float(np.median(err)), mae=float(np.mean(err)),
                p90=float(np.percentile(err, 90)), fill=fill,
                medae_allhold=float(np.median(np.abs(filled - d["ndvi"])[hold_fin])))


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter(); return self

    def __exit__(self, *a):
        self.s = time.perf_counter() - self.t0
