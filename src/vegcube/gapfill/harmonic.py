"""`harmonic`: the sound harmonic cascade — a global seasonal fit per pixel.

Per pixel: intercept + linear trend (years) + K harmonics of one year, K the largest of
``harmonics`` [(10, 5, 1)] whose 2K + 2 parameters its valid count covers × ``min_obs_factor``
[1.5] and whose largest gap in day-of-year, all years pooled, is ≤ ``max_phase_gap`` [1.0] ×
1/K year (None: count only); pixels short of the smallest K stay NaN (quality 0).

- ``smooth`` [1e-3]: a ridge ∝ j⁴ on harmonic j (and `smooth` on the trend), i.e. on the
  integral of the squared second derivative, times the pixel's total weight: K = 10 can no
  longer oscillate across long gaps (0 = the plain least squares fit).
- ``robust`` [5]: upper-envelope iterations (cloud residue only lowers an index): after each
  fit, observations below it weigh (1 − (r / 2σ)²)², 0 beyond 2σ (σ: the pixel's robust
  residual scale), and the fit is repeated. Observations themselves are always kept
  (quality −1); only the gaps get the fit (quality K).
- ``ridge`` [1e-6]: a Tikhonov term × total weight on every coefficient.
- ``window_days`` [None = the whole series]: the series is cut into blocks of
  ``window_days / 2``; each block's gaps get the fit of the observations of the block extended
  by ``window_days / 2`` on both sides.

On the real Slovenian hold-out (68 irregular Sentinel-2 dates, 2.45 years) the defaults reach
about 0.7 × linear interpolation's median error and fill every gap of pixels with enough
observations. **A global fit over several years cannot keep a drought**: a drought is a
departure from the seasonal cycle in one year only, so the fit fills the gaps of a drought
with the normal season (and the robust iterations treat the drought's own observations as
residue to lie above). Use it for smooth, complete series; for a drought chain use
``spatiotemporal`` (or ``linear``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _lsq
from ._registry import Method, cascade, check, count, number, positive
from ._robust import reweight

__all__ = ["METHOD", "fit_cascade", "harmonic"]

DEFAULTS: dict[str, Any] = {
    "harmonics": (10, 5, 1),
    "min_obs_factor": 1.5,
    "max_phase_gap": 1.0,
    "window_days": None,
    "ridge": 1e-6,
    "smooth": 1e-3,
    "robust": 5,
}
_BATCH = 4096  # pixels per batched solve (time-major)


def check_cascade(o: dict[str, Any]) -> dict[str, Any]:
    """The parameters of the cascade fit, shared with `spatiotemporal`."""
    o["harmonics"] = cascade(o["harmonics"])
    positive(o, "min_obs_factor")
    positive(o, "ridge", "smooth", zero=True)
    count(o, "robust")
    g = o["max_phase_gap"]
    check("max_phase_gap", g is None or (number(g) and g > 0), "None or > 0", g)
    return o


def _check(o: dict[str, Any]) -> dict[str, Any]:
    w = o["window_days"]
    check("window_days", w is None or (number(w) and w > 0), "None or > 0", w)
    return check_cascade(o)


def fit_cascade(
    y: np.ndarray,
    t: np.ndarray,
    *,
    harmonics: tuple[int, ...],
    min_obs_factor: float,
    max_phase_gap: float | None,
    ridge: float,
    smooth: float,
    robust: int,
    k_low: float = 2.0,
    batch: int = _BATCH,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The robust cascade on time-major `y` (T, n), NaN at gaps, `t` in years.

    Returns the fit (T, n) float32 (NaN for pixels short of the smallest K), whether each
    observation was rejected by the last reweighting (weight < 0.5) and K per pixel (0: none).
    """
    valid = np.isfinite(y)
    kpix = _lsq.choose_k(
        valid, t, harmonics, min_obs_factor=min_obs_factor, max_phase_gap=max_phase_gap
    )
    fit = np.full(y.shape, np.nan, np.float32)
    rejected = np.zeros(y.shape, bool)
    for k in np.unique(kpix[kpix > 0]):
        a = _lsq.design(t, int(k))
        pen = _lsq.penalty(int(k), smooth, ridge)
        cols = np.flatnonzero(kpix == k)
        for s in range(0, cols.size, batch):
            c = cols[s : s + batch]
            yb = y[:, c].astype(np.float64)
            vb = valid[:, c]
            y0 = np.where(vb, yb, 0.0)
            w = vb.astype(np.float64)
            z = _lsq.solve_penalised(a, y0, w, pen)
            for _ in range(robust):
                w = reweight(yb, z, vb, k_low=k_low)
                z = _lsq.solve_penalised(a, y0, w, pen)
            fit[:, c] = z
            rejected[:, c] = vb & (w < 0.5)
    return fit, rejected, kpix


def harmonic(
    y: np.ndarray, days: np.ndarray, *, window_days: float | None, **params: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(n, T) → filled (float32), quality (int8): −1 observed, K filled, 0 unfilled."""
    t = days / 365.25
    yt = np.ascontiguousarray(y.T)  # time-major
    valid = np.isfinite(yt)
    fit = np.full(yt.shape, np.nan, np.float32)
    q = np.zeros(yt.shape, np.int8)
    if window_days is None:
        blocks = [(np.ones(len(t), bool), np.ones(len(t), bool))]
    else:
        half = window_days / 365.25 / 2
        starts = np.arange(t[0], t[-1] + half, half)
        blocks = [((t >= s) & (t < s + half), (t >= s - half) & (t < s + 2 * half)) for s in starts]
    for target, window in blocks:
        if not target.any():
            continue
        f, _, kpix = fit_cascade(yt[window], t[window], **params)
        fit[target] = f[target[window]]
        q[target] = kpix[None, :]
    q[valid] = -1
    return np.where(valid, yt, fit).T.astype(np.float32), q.T.copy()


METHOD = Method(
    name="harmonic",
    summary="robust harmonic cascade (10/5/1) with a smoothness ridge; erases droughts",
    fn=harmonic,
    defaults=DEFAULTS,
    check=_check,
    batch=_BATCH,
)
