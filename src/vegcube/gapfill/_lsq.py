"""Harmonic least squares shared by the methods: the design matrix, the choice of K per pixel,
and batched normal equations (plain, or time-major with a diagonal penalty)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["choose_k", "design", "penalty", "phase_gap", "solve", "solve_penalised"]


def design(t: np.ndarray, k: int) -> np.ndarray:
    """(T, 2k + 2): intercept, trend (years, centred), cos/sin(2π j t) for j = 1..k."""
    w = 2 * np.pi * np.arange(1, k + 1) * t[:, None]
    cols = [np.ones_like(t), t - t.mean(), *np.cos(w).T, *np.sin(w).T]
    return np.stack(cols, axis=1)


def penalty(k: int, smooth: float, ridge: float) -> np.ndarray:
    """The diagonal penalty per unit of weight: intercept `ridge`, trend `smooth + ridge`,
    harmonic j `smooth·j⁴ + ridge` (∝ the integral of the squared second derivative, so a
    high K cannot oscillate across gaps)."""
    j4 = np.arange(1, k + 1, dtype=float) ** 4
    return np.concatenate([[0.0, smooth], smooth * j4, smooth * j4]) + ridge


def phase_gap(valid: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per column of `valid` (T, n), the largest circular gap (years) between observed phases
    of the year, all years pooled (inf without observations): one scan in phase order."""
    ph = t % 1.0
    n = valid.shape[1]
    gap, last, first = np.zeros(n), np.full(n, np.nan), np.full(n, np.nan)
    for i in np.argsort(ph, kind="stable"):
        v = valid[i]
        np.fmax(gap, np.where(v, ph[i] - last, 0.0), out=gap)  # NaN before the first
        np.copyto(last, ph[i], where=v)
        np.copyto(first, ph[i], where=v & np.isnan(first))
    wrap = first + 1.0 - last
    return np.where(valid.any(0), np.maximum(gap, wrap), np.inf)


def choose_k(
    valid: np.ndarray,
    t: np.ndarray,
    harmonics: Sequence[int],
    *,
    min_obs_factor: float,
    max_phase_gap: float | None,
    extra: int = 0,
) -> np.ndarray:
    """Per column of `valid` (T, n) the largest K of `harmonics` whose 2K + 2 parameters its
    valid count covers × `min_obs_factor` (+ `extra`) and whose largest phase gap is
    ≤ `max_phase_gap` / K year; 0 where none fits."""
    count = valid.sum(0)
    gap = np.zeros(valid.shape[1]) if max_phase_gap is None else phase_gap(valid, t)
    kpix = np.zeros(valid.shape[1], np.int64)
    for k in sorted(harmonics):  # the largest K that fits wins
        cols = count >= min_obs_factor * (2 * k + 2) + extra
        if max_phase_gap is not None:
            cols &= gap <= max_phase_gap / k
        kpix[cols] = k
    return kpix


def solve(a: np.ndarray, y0: np.ndarray, w: np.ndarray, ridge: float) -> np.ndarray:
    """Weighted least squares for every row of y0 (gaps 0) with weights w: (n, T) → fit (n, T)."""
    n, p = y0.shape[0], a.shape[1]
    g = (w @ (a[:, :, None] * a[:, None, :]).reshape(len(a), p * p)).reshape(n, p, p)
    g[:, np.arange(p), np.arange(p)] += (ridge * w.sum(1) + 1e-12)[:, None]
    beta = np.linalg.solve(g, ((w * y0) @ a)[..., None])[..., 0]
    return beta @ a.T


def solve_penalised(a: np.ndarray, y0: np.ndarray, w: np.ndarray, pen: np.ndarray) -> np.ndarray:
    """Time-major weighted least squares with a diagonal penalty: minimise, for every column,
    Σ w (y0 − aβ)² + Σw · Σ pen β². a (T, p); y0, w (T, n), gaps 0 → fit (T, n).

    The symmetric normal matrices are built from their upper triangle only and solved by a
    Cholesky factorisation vectorised over the columns (p ≲ 22 loops on whole vectors)."""
    p = a.shape[1]
    iu, ju = np.triu_indices(p)
    gram = (a[:, iu] * a[:, ju]).T @ w  # (p(p+1)/2, n)
    g = np.empty((p, p, w.shape[1]))
    g[ju, iu] = gram  # the lower triangle: all the factorisation reads
    g[np.arange(p), np.arange(p)] += pen[:, None] * w.sum(0)[None, :] + 1e-12
    beta = _cholesky_solve(g, a.T @ (w * y0))
    return a @ beta


def _cholesky_solve(g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve g x = b for symmetric positive (semi-)definite g (p, p, n) given by its lower
    triangle, b (p, n)."""
    p = g.shape[0]
    low = np.empty_like(g)  # only its lower triangle is written and read
    tiny = 1e-12 * np.abs(g[np.arange(p), np.arange(p)]).max(0) + 1e-300
    for j in range(p):
        d = g[j, j] - np.einsum("kn,kn->n", low[j, :j], low[j, :j])
        low[j, j] = np.sqrt(np.maximum(d, tiny))
        if j + 1 < p:
            rest = g[j + 1 :, j] - np.einsum("ikn,kn->in", low[j + 1 :, :j], low[j, :j])
            low[j + 1 :, j] = rest / low[j, j]
    z = np.empty_like(b)
    for i in range(p):
        z[i] = (b[i] - np.einsum("kn,kn->n", low[i, :i], z[:i])) / low[i, i]
    x = np.empty_like(b)
    for i in range(p - 1, -1, -1):
        x[i] = (z[i] - np.einsum("kn,kn->n", low[i + 1 :, i], x[i + 1 :])) / low[i, i]
    return x
