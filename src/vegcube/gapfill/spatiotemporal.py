"""`spatiotemporal`: the robust harmonic background + the neighbourhood's anomaly + the pixel's
own departure — gap filling that keeps a drought and rejects one-date cloud residue.

A drought is spatially coherent and lasts; cloud residue that the mask missed may be spatially
coherent too but lasts one date. Per (time, row, col) block:

1. **Background** z: the `harmonic` cascade (``harmonics`` [(10, 5, 1)], ``smooth`` [1e-3],
   ``robust`` [5] upper-envelope iterations, ``min_obs_factor``, ``max_phase_gap``): the
   pixel's normal seasonal shape. Pixels short of the smallest K stay unfilled (quality 0).
2. **Despike**: the residuals r = y − z of a date lower than both the previous and the next
   valid date by more than ``delta`` [0.05] (an end date: 2·delta) are one-date residue: the
   observation is replaced by the fit (quality −2). Observations the background rejected
   (weight < 0.5) are left out of the anomaly unless they form a run of ≥ ``min_run`` [2]
   consecutive valid dates below it (a confirmed dip: a drought).
3. **Neighbourhood anomaly** e: per date, the Gaussian-weighted mean (``sigma`` [3] px,
   truncated at 3σ) of the accepted residuals around each pixel, with its weight mass S
   (S ≤ 0.05 counts as none), smoothed in time by a robust Whittaker on real time (λ
   ``e_lam`` [0.3] per 10 days, weights S, 2 upper-envelope rounds at 2.5σ keeping runs of
   ≥ ``min_run``); 0 where no neighbour is ever observed. ``e_lam`` 0: no smoothing.
4. **Own departure** d: the pixel's accepted observations minus z + e, smoothed by a robust
   Whittaker (λ ``d_lam`` [30] per 10 days, 3 rounds at ``k_low`` [2] σ keeping runs of
   ≥ ``min_run``): restores droughts smaller than the neighbourhood. ``d_lam`` 0: none
   (the plain neighbourhood method; then a ``sigma`` of 4 suits regional droughts best).

Filled = z + e + d at gaps (quality K, the background's harmonics) and at rejected residue
(−2); accepted observations are kept (−1). On dask arrays it runs per spatial chunk with
`time` in one chunk and a halo of ceil(3·sigma) pixels; the result equals the numpy one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from . import _banded
from ._registry import Method, count, halo_of, positive
from ._robust import despike, run_length
from .harmonic import check_cascade, fit_cascade

__all__ = ["METHOD", "spatiotemporal"]

DEFAULTS: dict[str, Any] = {
    "harmonics": (10, 5, 1),
    "min_obs_factor": 1.5,
    "max_phase_gap": 1.0,
    "ridge": 1e-6,
    "smooth": 1e-3,
    "robust": 5,
    "k_low": 2.0,
    "delta": 0.05,
    "sigma": 3.0,
    "e_lam": 0.3,
    "d_lam": 30.0,
    "min_run": 2,
}
_STEP = 10.0  # days: the unit of time of the Whittaker penalties (a dekad)
_S_MIN = 0.05  # neighbourhood weight mass below which a date has no anomaly
_E_ROUNDS, _E_K_LOW, _D_ROUNDS = 2, 2.5, 3
_BATCH = 8192  # pixels per time-major Whittaker solve


def _check(o: dict[str, Any]) -> dict[str, Any]:
    check_cascade(o)
    positive(o, "k_low", "sigma")
    positive(o, "delta", "e_lam", "d_lam", zero=True)
    count(o, "min_run")
    return o


def _halo(o: dict[str, Any]) -> int:
    return halo_of(o["sigma"])


def _neighbourhood(r: np.ndarray, a: np.ndarray, shape: tuple[int, ...], sigma: float):
    """Per date, the Gaussian-weighted mean of r over the accepted cells a, and the weight
    mass (time-major (T, n) in, out)."""
    radius = halo_of(sigma)
    opts: dict[str, Any] = {"mode": "constant", "radius": radius, "axes": (1, 2)}
    mass = ndimage.gaussian_filter(a.astype(np.float32).reshape(shape), sigma, **opts)
    num = ndimage.gaussian_filter(
        np.where(a, r, 0).astype(np.float32).reshape(shape), sigma, **opts
    )
    mass, num = mass.reshape(r.shape), num.reshape(r.shape)
    e = np.divide(num, mass, out=np.zeros_like(num), where=mass > 1e-9)
    return e, np.where(mass > _S_MIN, mass, 0).astype(np.float32)


def spatiotemporal(
    cube: np.ndarray,
    days: np.ndarray,
    *,
    sigma: float,
    delta: float,
    e_lam: float,
    d_lam: float,
    min_run: int,
    k_low: float,
    **cascade: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """(T, rows, cols) → filled (float32), quality (int8)."""
    shape = cube.shape
    y = cube.reshape(shape[0], -1)
    valid = np.isfinite(y)
    z, rejected, kpix = fit_cascade(y, days / 365.25, k_low=k_low, **cascade)
    v = valid & (kpix > 0)[None, :]
    r = np.where(v, y - z, np.float32(0)).astype(np.float32)
    spike = despike(r, v, delta=delta)
    a = v & ~spike & (~rejected | (run_length(v & (r < 0) & rejected, v) >= min_run))
    e, mass = _neighbourhood(r, a, shape, sigma)
    acc = v & ~spike
    p = _banded.bands(days, _STEP)
    fit = np.empty(y.shape, np.float32)
    for s in range(0, y.shape[1], _BATCH):
        b = slice(s, s + _BATCH)
        eb, sb = e[:, b].astype(np.float64), mass[:, b].astype(np.float64)
        if e_lam:
            eb = _banded.smooth_robust(
                eb, sb, p, e_lam, rounds=_E_ROUNDS, k_low=_E_K_LOW, min_run=min_run
            )
        eb[:, ~(sb > 0).any(0)] = 0.0
        fb = z[:, b] + eb
        if d_lam:
            ab = acc[:, b]
            dres = np.where(ab, y[:, b] - fb, 0.0)
            fb += _banded.smooth_robust(
                dres,
                ab.astype(np.float64),
                p,
                d_lam,
                rounds=_D_ROUNDS,
                k_low=k_low,
                min_run=min_run,
            )
        fit[:, b] = fb
    keep = valid & ~spike
    out = np.where(keep, y, fit)
    q = np.where(keep, -1, np.where(spike, -2, kpix[None, :])).astype(np.int8)
    return out.reshape(shape).astype(np.float32), q.reshape(shape)


METHOD = Method(
    name="spatiotemporal",
    summary="harmonic background + neighbourhood anomaly + own departure; keeps droughts",
    fn=spatiotemporal,
    defaults=DEFAULTS,
    check=_check,
    spatial=True,
    halo=_halo,
)
