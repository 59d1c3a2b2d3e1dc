"""Spatio-temporal prototype: robust harmonic background + neighbourhood anomaly.

  z      = robust (upper-envelope) harmonic fit per pixel: the pixel's normal seasonal shape
  r      = y − z on valid observations
  spike  = one-date dips of r (lower than both neighbouring valid dates by > delta)
  e      = Gaussian-weighted mean of r over the neighbourhood at the same date (spikes excluded),
           with its weight mass S
  ẽ      = Whittaker over time of e with weights S (robust, dips confirmed by ≥ min_run dates kept)
  filled = z + ẽ in gaps and at spikes; accepted observations kept
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

import methods as M


def robust_harmonic_core(y, t, *, k=3, smooth=1e-3, robust=5, k_low=2.0, min_run=0):
    valid = np.isfinite(y)
    A = M.design(t / 365.25, k)
    pen = M.harm_penalty(k, smooth)
    y0 = np.where(valid, y, 0.0)
    z = np.empty(y.shape); w = np.zeros(y.shape)
    for s in range(0, len(y), M.BATCH):
        b = slice(s, s + M.BATCH)
        wb = valid[b].astype(float)
        zb = M.harm_solve(A, y0[b], wb, pen)
        for _ in range(robust):
            wb = M.reweight(y[b], zb, valid[b], k_low=k_low, min_run=min_run)
            zb = M.harm_solve(A, y0[b], wb, pen)
        z[b], w[b] = zb, wb
    return z, w


def spatial_mean(v, a, shape, sigma):
    """Per date, Gaussian-weighted mean of v with weights a over (y, x). v, a: (n, T)."""
    T = v.shape[1]
    A = a.T.reshape(T, *shape); V = (a * v).T.reshape(T, *shape)
    num = ndimage.gaussian_filter(V, sigma=(0, sigma, sigma), mode="constant", truncate=3.0)
    den = ndimage.gaussian_filter(A, sigma=(0, sigma, sigma), mode="constant", truncate=3.0)
    # normalise the mass by the kernel's mass at the centre of an all-observed field
    num, den = num.reshape(T, -1).T, den.reshape(T, -1).T
    e = np.divide(num, den, out=np.zeros_like(num), where=den > 1e-9)
    return e, den


def st_fill(y, t, *, shape, k=3, smooth=1e-3, robust=5, k_low=2.0, delta=0.05, sigma=2.0,
            use_w=True, e_lam=1.0, e_robust=2, e_min_run=2, smin=0.05, step=10.0,
            background=None, spikes="despike"):
    valid = np.isfinite(y)
    if background is None:
        z, w = robust_harmonic_core(y, t, k=k, smooth=smooth, robust=robust, k_low=k_low)
    else:
        z, w = background(y, t)
    r = np.where(valid, y - z, 0.0)
    if spikes == "despike":
        spike = M.despike(np.where(valid, r, np.nan), t, delta=delta)
    else:
        spike = np.zeros_like(valid)
    a = (valid & ~spike).astype(float)
    if use_w:   # also down-weight what the robust background rejected, unless confirmed below
        a = a * np.where(w < 0.5, 0.0, 1.0)
        # ... but keep low residuals that form a run of >= 2 valid dates (possible drought)
        run = M.run_length(valid & (r < 0) & (w < 0.5), valid) >= e_min_run
        a = np.where(run & ~spike, 1.0, a)
    e, S = spatial_mean(r, a, shape, sigma)
    S = S * (S > smin)
    if e_lam:
        P = M._penalty(t, step)
        e0 = e.copy()
        et = np.empty_like(e)
        for s in range(0, len(y), M.BATCH):
            b = slice(s, s + M.BATCH)
            Sb = S[b]
            zb = M.whittaker_solve(e0[b], Sb, P, e_lam) if True else None
            ok = Sb > 0
            for _ in range(e_robust):
                wb = M.reweight(np.where(ok, e0[b], np.nan), zb, ok, k_low=2.5, min_run=e_min_run)
                zb = M.whittaker_solve(e0[b], Sb * wb, P, e_lam)
            et[b] = zb
        bad = ~np.isfinite(et) | (S.sum(1) == 0)[:, None]
        et = np.where(bad, 0.0, et)
    else:
        et = e
    fit = z + et
    _last_fit['fit'] = fit
    return np.where(valid & ~spike, y, fit), spike


def st2_fill(y, t, *, shape, d_lam=3.0, d_robust=3, d_min_run=2, k_low=2.0, **kw):
    """st_fill + the pixel's own departure from its neighbourhood anomaly, smoothed in time:
    d = y − (z + ẽ) on accepted observations → robust Whittaker (λ d_lam, runs of ≥ d_min_run
    low dates kept) → filled = z + ẽ + d̃."""
    valid = np.isfinite(y)
    out, spike = st_fill(y, t, shape=shape, **kw)
    # recover the st fit: at accepted observations out == y, so refit from the returned parts
    fit = _last_fit["fit"]
    acc = valid & ~spike
    dres = np.where(acc, y - fit, 0.0)
    P = M._penalty(t, kw.get("step", 10.0))
    dt = np.empty_like(dres)
    for s in range(0, len(y), M.BATCH):
        b = slice(s, s + M.BATCH)
        w = acc[b].astype(float)
        zb = M.whittaker_solve(dres[b], w, P, d_lam)
        for _ in range(d_robust):
            w = acc[b] * M.reweight(np.where(acc[b], dres[b], np.nan), zb, acc[b], k_low=k_low,
                                    min_run=d_min_run)
            zb = M.whittaker_solve(dres[b], w, P, d_lam)
        dt[b] = zb
    # a pixel with no accepted observation keeps d̃ = 0
    dt = np.where(acc.any(1)[:, None], dt, 0.0)
    return np.where(acc, y, fit + dt), spike


_last_fit: dict = {}
