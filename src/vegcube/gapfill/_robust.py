"""Robust pieces shared by the methods, time-major ((T, n): one column per pixel): upper-envelope
reweighting with run protection, runs of low observations, the one-date dip rule (despike)."""

from __future__ import annotations

import numpy as np

__all__ = ["despike", "neighbours", "reweight", "robust_sigma", "run_length"]


def robust_sigma(r: np.ndarray, valid: np.ndarray, floor: float = 0.01) -> np.ndarray:
    """Per column, 1.4826 × the median of |r| over `valid` (at least `floor`)."""
    nt, n = r.shape
    a = np.where(valid, np.abs(r), np.inf).astype(np.float32).T.copy()  # (n, T) rows
    a.sort(axis=1)  # a SIMD sort along contiguous rows: faster than a partition here
    c = valid.sum(0)
    cols = np.arange(n)
    lo = a[cols, np.clip((c - 1) // 2, 0, nt - 1)].astype(np.float64)
    hi = a[cols, np.clip(c // 2, 0, nt - 1)].astype(np.float64)
    med = np.where(c > 0, 0.5 * (lo + hi), 0.0)
    return np.maximum(1.4826 * med, floor)


def _carry(x: np.ndarray, where: np.ndarray, *, reverse: bool = False) -> np.ndarray:
    """Time-major scan: at each position, the value of `x` at the last position strictly
    before it (the first strictly after, with `reverse`) where `where` holds; NaN if none."""
    out = np.empty(x.shape, np.result_type(x, np.float32))
    cur = np.full(x.shape[1], np.nan, out.dtype)
    for i in range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0]):
        out[i] = cur
        np.copyto(cur, x[i], where=where[i])
    return out


def _count(f: np.ndarray, stop: np.ndarray, *, reverse: bool = False) -> np.ndarray:
    """Time-major scan: the number of `f` since the last `stop` (inclusive of this position)."""
    out = np.empty(f.shape, np.int32)
    cur = np.zeros(f.shape[1], np.int32)
    for i in range(f.shape[0] - 1, -1, -1) if reverse else range(f.shape[0]):
        cur += f[i]
        cur *= ~stop[i]
        out[i] = cur
    return out


def run_length(flag: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """At each flagged valid position, the number of consecutive *valid observations* that are
    all flagged around it (gaps do not break a run; an unflagged observation does); 0 elsewhere."""
    f = flag & valid
    brk = valid & ~f
    total = _count(f, brk) + _count(f, brk, reverse=True) - 1  # this position counted twice
    return np.where(f, total, 0)


def reweight(
    y: np.ndarray,
    z: np.ndarray,
    valid: np.ndarray,
    *,
    k_low: float = 2.0,
    min_run: int = 0,
    floor: float = 0.01,
) -> np.ndarray:
    """Upper-envelope weights from the residuals r = y − z (cloud residue only ever lowers an
    index): points above the fit weigh 1, points below (1 − (r / (k_low σ))²)², 0 beyond k_low σ
    (σ: the column's robust residual scale). With `min_run` > 0, a run of ≥ `min_run`
    consecutive valid observations all below −k_low σ / 2 is a *confirmed* dip — a drought, not
    residue — and keeps weight 1. Gaps weigh 0."""
    r = np.where(valid, y - z, 0.0)
    c = k_low * robust_sigma(r, valid, floor)
    w = np.minimum(r, 0.0)  # in place from here: r ≥ 0 gives (1 − 0)² = 1
    w /= c
    np.square(w, out=w)
    np.subtract(1.0, w, out=w)
    np.maximum(w, 0.0, out=w)
    np.square(w, out=w)
    if min_run:
        low = valid & (r < -0.5 * c)
        w[run_length(low, valid) >= min_run] = 1.0
    w *= valid
    return w


def neighbours(y: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The previous and the next valid value strictly before / after each position (NaN: none)."""
    return _carry(y, valid), _carry(y, valid, reverse=True)


def despike(y: np.ndarray, valid: np.ndarray, *, delta: float, rounds: int = 2) -> np.ndarray:
    """One-date dips: a valid value lower than BOTH its previous and next valid values by more
    than `delta` (an end point: lower than its only neighbour by 2·`delta`). A sustained dip is
    not one: its inner dates are not lower than their neighbours. `rounds` passes, each on the
    values the previous ones kept."""
    spike = np.zeros(y.shape, bool)
    for _ in range(rounds):
        v = valid & ~spike
        yv = np.where(v, y, np.nan)
        yp, yn = neighbours(yv, v)
        with np.errstate(invalid="ignore"):
            both = (yv < yp - delta) & (yv < yn - delta)
            edge = (np.isnan(yp) & (yv < yn - 2 * delta)) | (np.isnan(yn) & (yv < yp - 2 * delta))
        new = v & (both | edge)
        if not new.any():
            break
        spike |= new
    return spike
