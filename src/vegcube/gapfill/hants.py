"""`hants`: HANTS (Roerink et al. 2000), iterative rejection of low (or high) outliers.

The harmonic fit (intercept, trend, K harmonics) is repeated, each time rejecting the accepted
points whose residual in the ``low_high`` direction ["low": below the curve; "high"] exceeds
both ``fet`` [0.05] and half the largest such residual, largest first, never leaving fewer than
2K + 2 + ``dod`` [5] points; at most ``max_iter`` [10] rounds. ``harmonics`` [(3, 2, 1)] is a
cascade (K needs 2K + 2 + dod valid points); ``ridge`` [1e-6] as in `harmonic`. Gaps and
rejected points get the final fit (quality K); accepted points stay (−1).

It rejects every low value as cloud residue — a real drought included: kept for compatibility,
not for drought monitoring.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _lsq
from ._registry import Method, cascade, check, count, positive

__all__ = ["METHOD", "hants"]

DEFAULTS: dict[str, Any] = {
    "harmonics": (3, 2, 1),
    "fet": 0.05,
    "max_iter": 10,
    "dod": 5,
    "low_high": "low",
    "ridge": 1e-6,
}


def _check(o: dict[str, Any]) -> dict[str, Any]:
    o["harmonics"] = cascade(o["harmonics"])
    positive(o, "ridge", "fet", zero=True)
    count(o, "max_iter", "dod")
    check("low_high", o["low_high"] in ("low", "high"), "'low' or 'high'", o["low_high"])
    return o


def hants(
    y: np.ndarray,
    days: np.ndarray,
    *,
    harmonics: tuple[int, ...],
    fet: float,
    max_iter: int,
    dod: int,
    low_high: str,
    ridge: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, T) → filled (float32), quality (int8)."""
    t = days / 365.25
    valid = np.isfinite(y)
    y0 = np.where(valid, y, 0.0)
    sign = 1.0 if low_high == "low" else -1.0  # residual > 0 in the rejected direction
    out = np.where(valid, y, np.nan)
    q = np.where(valid, -1, 0).astype(np.int8)
    kpix = _lsq.choose_k(valid.T, t, harmonics, min_obs_factor=1.0, max_phase_gap=None, extra=dod)
    for k in harmonics:
        keep = 2 * k + 2 + dod
        rows = np.flatnonzero(kpix == k)
        if rows.size == 0:
            continue
        a = _lsq.design(t, k)
        yk, acc = y0[rows], valid[rows].copy()
        fit = _lsq.solve(a, yk, acc.astype(float), ridge)
        active = np.arange(rows.size)
        for _ in range(max_iter):
            err = np.where(acc[active], sign * (fit[active] - yk[active]), -np.inf)
            maxerr = err.max(1)
            budget = acc[active].sum(1) - keep
            go = (maxerr > fet) & (budget > 0)
            active, err, maxerr, budget = active[go], err[go], maxerr[go], budget[go]
            if active.size == 0:
                break
            # reject the accepted points with the LARGEST residuals in the rejected direction,
            # those above fet and half the largest, at most `budget` of them per pixel
            cand = err > np.maximum(fet, 0.5 * maxerr)[:, None]
            order = np.argsort(-err, axis=1, kind="stable")  # position i → i-th largest
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(err.shape[1])[None, :], axis=1)
            acc[active] &= ~(cand & (rank < budget[:, None]))
            fit[active] = _lsq.solve(a, yk[active], acc[active].astype(float), ridge)
        replace = ~acc
        out[rows] = np.where(replace, fit, out[rows])
        q[rows] = np.where(replace, k, -1)
    return out.astype(np.float32), q


METHOD = Method(
    name="hants",
    summary="HANTS: iterative rejection of low values; erases droughts",
    fn=hants,
    defaults=DEFAULTS,
    check=_check,
)
