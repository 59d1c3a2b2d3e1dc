"""The Whittaker smoother's pentadiagonal system, time-major ((T, n): one column per pixel):
second-difference penalties on the index or on real time, a banded LDLᵀ solve looping over
time on whole rows of pixels, and its robust (upper-envelope) form."""

from __future__ import annotations

import numpy as np

from ._robust import reweight

__all__ = ["bands", "smooth", "smooth_robust", "solve"]

Bands = tuple[np.ndarray, np.ndarray, np.ndarray]


def bands(t: np.ndarray, step: float = 1.0) -> Bands:
    """Diagonals (P[i, i], P[i, i+1], P[i, i+2]) of P = DᵀD, D the second-order divided
    differences of a series at times `t` in units of `step` (on t = 0, 1, 2, … with step 1:
    the usual second differences). Same-time duplicates are tied closely (spacing 1e-3)."""
    nt = len(t)
    c0, c1, c2 = np.zeros(nt), np.zeros(nt), np.zeros(nt)
    if nt < 3:
        return c0, c1, c2
    h = np.maximum(np.diff(np.asarray(t, float) / step), 1e-3)
    h1, h2 = h[:-1], h[1:]
    s = 2.0 / (h1 + h2)
    a, b, c = s / h1, -s * (1 / h1 + 1 / h2), s / h2  # row i: columns i, i+1, i+2
    c0[:-2] += a * a
    c0[1:-1] += b * b
    c0[2:] += c * c
    c1[:-2] += a * b
    c1[1:-1] += b * c
    c2[:-2] = a * c
    return c0, c1, c2


def solve(y0: np.ndarray, w: np.ndarray, p: Bands, lam: float) -> np.ndarray:
    """(W + λP) z = W y0 for every column (y0, w: (T, n), gaps 0 / weight 0) by LDLᵀ, in place
    on whole rows of pixels (no temporaries inside the loops over time)."""
    nt, n = y0.shape
    d = w + lam * p[0][:, None]  # becomes D of LDLᵀ
    u = w * y0  # becomes L⁻¹ W y0
    c1, c2 = lam * p[1], lam * p[2]
    l1 = np.zeros((nt, n))  # L[i, i-1]
    l2 = np.zeros((nt, n))  # L[i, i-2]
    b, tmp = np.empty(n), np.empty(n)
    for i in range(1, nt):
        if i >= 2:
            np.divide(c2[i - 2], d[i - 2], out=l2[i])
            np.multiply(l2[i], d[i - 2], out=b)  # = c2[i-2]
            np.multiply(b, l2[i], out=tmp)
            d[i] -= tmp
            np.multiply(l2[i], u[i - 2], out=tmp)
            u[i] -= tmp
            b *= l1[i - 1]
            np.subtract(c1[i - 1], b, out=b)
        else:
            b.fill(c1[0])
        np.divide(b, d[i - 1], out=l1[i])
        np.multiply(l1[i], b, out=tmp)  # l1² d[i-1]
        d[i] -= tmp
        np.multiply(l1[i], u[i - 1], out=tmp)
        u[i] -= tmp
    z = np.divide(u, d, out=u)
    for i in range(nt - 2, -1, -1):
        np.multiply(l1[i + 1], z[i + 1], out=tmp)
        z[i] -= tmp
        if i + 2 < nt:
            np.multiply(l2[i + 2], z[i + 2], out=tmp)
            z[i] -= tmp
    return z


def smooth(y0: np.ndarray, w: np.ndarray, p: Bands, lam: float) -> np.ndarray:
    """`solve`, well defined for every column: a column with fewer than 2 positive weights
    (the system is singular) gets its weighted mean (0 without weight)."""
    few = (w > 0).sum(0) < 2
    if not few.any():
        return solve(y0, w, p, lam)
    z = solve(y0, np.where(few[None, :], 1.0, w), p, lam)
    sw = w[:, few].sum(0)
    mean = np.divide((w * y0)[:, few].sum(0), sw, out=np.zeros_like(sw), where=sw > 0)
    z[:, few] = mean[None, :]
    return z


def smooth_robust(
    y0: np.ndarray,
    w: np.ndarray,
    p: Bands,
    lam: float,
    *,
    rounds: int,
    k_low: float,
    min_run: int,
) -> np.ndarray:
    """`smooth`, then `rounds` upper-envelope reweightings (dips confirmed by ≥ `min_run`
    consecutive weighted dates keep their weight) of the base weights `w`."""
    ok = w > 0
    z = smooth(y0, w, p, lam)
    for _ in range(rounds):
        z = smooth(y0, w * reweight(y0, z, ok, k_low=k_low, min_run=min_run), p, lam)
    return z
