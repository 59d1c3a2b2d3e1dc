"""Prototype gap-filling methods, vectorised over pixels: y is (n, T) float64 with NaN gaps,
t is (T,) days since the first date. Every method returns (filled (n, T), replaced (n, T) bool)
where `replaced` marks observations the method rejected as outliers and replaced by its fit.
Observed, accepted points are returned as observed (as vegcube's quality -1)."""
from __future__ import annotations

import numpy as np

BATCH = 4096


def _batched(fn):
    def wrapper(y, t, **kw):
        out = np.empty(y.shape); rep = np.zeros(y.shape, bool)
        extra = {k: kw.pop(k) for k in list(kw) if isinstance(kw[k], np.ndarray) and kw[k].shape == y.shape}
        for s in range(0, len(y), BATCH):
            b = slice(s, s + BATCH)
            o, r = fn(y[b], t, **kw, **{k: v[b] for k, v in extra.items()})
            out[b], rep[b] = o, r
        return out, rep
    return wrapper


# ----------------------------------------------------------------------------- linear

def linear_interp(y, t, valid=None):
    """Linear interpolation in real time; NaN outside the first..last observation."""
    valid = np.isfinite(y) if valid is None else valid
    nt = y.shape[1]
    idx = np.arange(nt)
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(valid, idx, nt)[:, ::-1], axis=1)[:, ::-1]
    inside = (prev >= 0) & (nxt < nt)
    pi, ni = np.clip(prev, 0, nt - 1), np.clip(nxt, 0, nt - 1)
    t0, t1 = t[pi], t[ni]
    y0, y1 = np.take_along_axis(y, pi, 1), np.take_along_axis(y, ni, 1)
    span = t1 - t0
    frac = np.divide(t[None, :] - t0, span, out=np.zeros_like(span), where=span > 0)
    return np.where(inside, y0 + frac * (y1 - y0), np.nan)


def nearest_fill_ends(z, valid):
    """Constant extrapolation of the first/last value (for methods that need full coverage)."""
    nt = z.shape[1]; idx = np.arange(nt)
    fin = np.isfinite(z)
    prev = np.maximum.accumulate(np.where(fin, idx, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(fin, idx, nt)[:, ::-1], axis=1)[:, ::-1]
    src = np.where(prev >= 0, prev, nxt).clip(0, nt - 1)
    return np.take_along_axis(z, src, 1)


def neighbours(y, valid):
    """Previous and next valid value of each position (NaN if none)."""
    nt = y.shape[1]; idx = np.arange(nt)
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(valid, idx, nt)[:, ::-1], axis=1)[:, ::-1]
    # strictly before / after
    prev_s = np.concatenate([np.full((len(y), 1), -1), prev[:, :-1]], 1)
    nxt_s = np.concatenate([nxt[:, 1:], np.full((len(y), 1), nt)], 1)
    yp = np.where(prev_s >= 0, np.take_along_axis(y, prev_s.clip(0, nt - 1), 1), np.nan)
    yn = np.where(nxt_s < nt, np.take_along_axis(y, nxt_s.clip(0, nt - 1), 1), np.nan)
    return yp, yn, prev_s, nxt_s


def despike(y, t, *, delta=0.05, rounds=2):
    """One-date dips: an observation lower than BOTH its previous and next valid observation by
    more than `delta` (an end point: lower than its only neighbour by 2·delta) is rejected.
    A sustained dip is not: its inner dates are not lower than their neighbours."""
    valid = np.isfinite(y)
    spike = np.zeros(y.shape, bool)
    for _ in range(rounds):
        v = valid & ~spike
        yv = np.where(v, y, np.nan)
        yp, yn, _, _ = neighbours(yv, v)
        both = (y < yp - delta) & (y < yn - delta)
        edge = (np.isnan(yp) & (y < yn - 2 * delta)) | (np.isnan(yn) & (y < yp - 2 * delta))
        new = v & (both | edge)
        if not new.any():
            break
        spike |= new
    return spike


@_batched
def despike_linear(y, t, *, delta=0.05, ends="nearest"):
    spike = despike(y, t, delta=delta)
    v = np.isfinite(y) & ~spike
    z = linear_interp(np.where(v, y, np.nan), t, v)
    if ends == "nearest":
        z = nearest_fill_ends(z, v)
    return np.where(v, y, z), spike


# ----------------------------------------------------------------------------- Whittaker

def _penalty(t, step):
    """P = DᵀD, D = second-order divided differences of the time in units of `step` days
    (equals the usual second differences on a regular grid of spacing `step`)."""
    u = t / step
    T = len(u)
    D = np.zeros((max(T - 2, 0), T))
    for i in range(T - 2):
        h1, h2 = u[i + 1] - u[i], u[i + 2] - u[i + 1]
        h1, h2 = max(h1, 1e-3), max(h2, 1e-3)   # same-day duplicates: tie them closely
        s = 2.0 / (h1 + h2)
        D[i, i:i + 3] = s * np.array([1 / h1, -(1 / h1 + 1 / h2), 1 / h2])
    return D.T @ D


def whittaker_solve(y0, w, P, lam):
    """(W + lam P) z = W y0 for every row (P pentadiagonal, common to all rows): banded LDLᵀ,
    looping over time on whole pixel vectors. y0: (n, T) with gaps 0; w: (n, T) ≥ 0."""
    n, nt = y0.shape
    c0 = lam * np.diag(P)[None, :] + w
    c1 = lam * np.append(np.diag(P, 1), 0.0)
    c2 = lam * np.append(np.diag(P, 2), [0.0, 0.0])
    r = w * y0
    d = np.zeros((n, nt)); l1 = np.zeros((n, nt)); l2 = np.zeros((n, nt)); u = np.zeros((n, nt))
    for i in range(nt):
        di, ui = c0[:, i].copy(), r[:, i].copy()
        if i >= 2:
            l2[:, i] = c2[i - 2] / d[:, i - 2]
            di -= l2[:, i] ** 2 * d[:, i - 2]
            ui -= l2[:, i] * u[:, i - 2]
        if i >= 1:
            b = c1[i - 1] - (l2[:, i] * d[:, i - 2] * l1[:, i - 1] if i >= 2 else 0.0)
            l1[:, i] = b / d[:, i - 1]
            di -= l1[:, i] ** 2 * d[:, i - 1]
            ui -= l1[:, i] * u[:, i - 1]
        d[:, i], u[:, i] = di, ui
    z = u / d
    for i in range(nt - 2, -1, -1):
        z[:, i] -= l1[:, i + 1] * z[:, i + 1]
        if i + 2 < nt:
            z[:, i] -= l2[:, i + 2] * z[:, i + 2]
    return z


# ----------------------------------------------------------------------------- robust weights

def run_length(flag, valid):
    """For each valid position, the length of the run of consecutive *valid observations* that
    share flag=True (gaps do not break runs); 0 where not flagged."""
    n, nt = flag.shape
    rank = np.cumsum(valid, 1) - 1
    C = np.zeros((n, nt), bool)
    rows = np.broadcast_to(np.arange(n)[:, None], (n, nt))
    C[rows[valid], rank[valid]] = flag[valid]
    idx = np.arange(nt)
    lastF = np.maximum.accumulate(np.where(~C, idx, -1), axis=1)
    nextF = np.minimum.accumulate(np.where(~C, idx, nt)[:, ::-1], axis=1)[:, ::-1]
    RL = np.where(C, nextF - lastF - 1, 0)
    out = np.zeros((n, nt), int)
    out[valid] = RL[rows[valid], rank[valid]]
    return out


def robust_sigma(r, w, floor=0.01):
    """Per-row 1.4826·MAD of the residuals of points with w > 0 (NaN-safe)."""
    rr = np.where(w > 0, np.abs(r), np.nan)
    s = 1.4826 * np.nanmedian(rr, axis=1)
    return np.maximum(np.nan_to_num(s, nan=floor), floor)


def reweight(y, z, valid, *, k_low=2.0, k_high=None, min_run=0, sigma_floor=0.01,
             soft=True, confirm=None):
    """Upper-envelope robust weights from the residuals r = y − z.

    Points above the fit keep weight 1 (unless k_high is set: r > k_high σ gets 0).
    Points below: Tukey-like weight (1 − (r/(k_low σ))²)² inside k_low σ … 0 beyond, or — with
    soft=False — 1 inside, 0 beyond. min_run > 0: a run of ≥ min_run consecutive valid
    observations all below −k_low σ·0.5 is a *confirmed* dip and keeps weight 1 (drought).
    confirm (n, T) bool: extra confirmation (e.g. from neighbouring pixels) keeping weight 1."""
    r = np.where(valid, y - z, 0.0)
    s = robust_sigma(r, valid.astype(float), sigma_floor)[:, None]
    c = k_low * s
    if soft:
        wl = np.where(r < 0, np.clip(1 - (r / c) ** 2, 0, 1) ** 2, 1.0)
    else:
        wl = np.where(r < -c, 0.0, 1.0)
    if k_high is not None:
        wl = np.where(r > k_high * s, 0.0, wl)
    if min_run:
        low = valid & (r < -0.5 * c)
        keep = run_length(low, valid) >= min_run
        wl = np.where(keep, 1.0, wl)
    if confirm is not None:
        wl = np.where(confirm & (r < 0), 1.0, wl)
    return np.where(valid, wl, 0.0)


@_batched
def whittaker(y, t, *, lam=10.0, step=10.0, robust=0, k_low=2.0, min_run=0, soft=True,
              replace_below=None, k_high=None, w0=None):
    """Whittaker on real time (divided differences, λ per `step` days), optional robust
    iterations. Rejected observations (final weight < replace_below) are replaced by the fit."""
    valid = np.isfinite(y)
    y0 = np.where(valid, y, 0.0)
    P = _penalty(t, step)
    w = valid.astype(float) if w0 is None else np.where(valid, w0, 0.0)
    wbase = w.copy()
    z = whittaker_solve(y0, w, P, lam)
    for _ in range(robust):
        w = wbase * reweight(y, z, valid, k_low=k_low, min_run=min_run, soft=soft, k_high=k_high)
        z = whittaker_solve(y0, w, P, lam)
    rep = valid & (w < (replace_below if replace_below is not None else 0.5) * wbase) if robust else np.zeros_like(valid)
    return np.where(valid & ~rep, y, z), rep


# ----------------------------------------------------------------------------- harmonics

def design(ty, k):
    w = 2 * np.pi * np.arange(1, k + 1) * ty[:, None]
    return np.column_stack([np.ones_like(ty), ty - ty.mean(), np.cos(w), np.sin(w)])


def harm_penalty(k, smooth, trend_ridge=1e-3):
    """Diagonal penalty: intercept 0, trend `trend_ridge`, harmonic j: smooth·j⁴ (∝ ∫f''²)."""
    j = np.arange(1, k + 1, dtype=float)
    return np.concatenate([[0.0, trend_ridge], smooth * j ** 4, smooth * j ** 4])


def harm_solve(A, y0, w, pen):
    n, p = y0.shape[0], A.shape[1]
    G = (w @ (A[:, :, None] * A[:, None, :]).reshape(len(A), p * p)).reshape(n, p, p)
    G += pen[None] * (w.sum(1) + 1e-12)[:, None, None] * np.eye(p)[None]
    G += 1e-9 * np.eye(p)[None]
    beta = np.linalg.solve(G, ((w * y0) @ A)[..., None])[..., 0]
    return beta @ A.T


@_batched
def harmonic(y, t, *, k=3, smooth=0.0, robust=0, k_low=2.0, min_run=0, soft=True,
             resid_lam=None, step=10.0, replace_below=0.5):
    """Global harmonic fit (intercept, trend, k harmonics of a year) with a smoothness ridge,
    optional robust upper-envelope iterations, and optionally a Whittaker smoother of the
    residuals (resid_lam) so that departures from the seasonal cycle (droughts) survive."""
    valid = np.isfinite(y)
    ty = t / 365.25
    A = design(ty, k)
    pen = harm_penalty(k, smooth)
    y0 = np.where(valid, y, 0.0)
    w = valid.astype(float)
    P = _penalty(t, step) if resid_lam else None

    def fit(w):
        h = harm_solve(A, y0, w, pen)
        if resid_lam:
            h = h + whittaker_solve(np.where(valid, y - h, 0.0), w, P, resid_lam)
        return h
    z = fit(w)
    for _ in range(robust):
        w = reweight(y, z, valid, k_low=k_low, min_run=min_run, soft=soft)
        z = fit(w)
    rep = valid & (w < replace_below) if robust else np.zeros_like(valid)
    return np.where(valid & ~rep, y, z), rep


# ----------------------------------------------------------------------------- sound cascade

def harmonic_cascade(y, t, *, harmonics=(10, 5, 1), min_obs_factor=1.5, max_phase_gap=1.0,
                     smooth=1e-3, robust=5, k_low=2.0, min_run=0, resid_lam=None, step=10.0,
                     return_fit=False):
    """The harmonic cascade made sound: per pixel the largest K of `harmonics` whose
    parameters (2K + 2) its valid count covers ×min_obs_factor and whose longest phase gap
    (all years pooled) is ≤ max_phase_gap / K; then a fit with a smoothness ridge
    (smooth·j⁴ on harmonic j, so high K cannot oscillate across gaps), robust upper-envelope
    iterations, optionally a robust Whittaker of the residuals (resid_lam) that carries
    sustained departures (droughts). Pixels short of the smallest K use K = 0 (intercept
    + trend, ridge-stabilised) so that every pixel with ≥ 1 observation is filled."""
    from vegcube.gapfill._lsq import phase_gap as _phase_gap
    valid = np.isfinite(y)
    ty = t / 365.25
    count = valid.sum(1)
    gap = _phase_gap(valid, ty)
    ks = sorted(set(harmonics), reverse=True)
    kpix = np.zeros(len(y), int)
    todo = np.ones(len(y), bool)
    for k in ks:
        rows = todo & (count >= min_obs_factor * (2 * k + 2)) & (gap <= max_phase_gap / k)
        kpix[rows] = k; todo &= ~rows
    out = np.empty(y.shape); rep = np.zeros(y.shape, bool); fitall = np.empty(y.shape)
    P = _penalty(t, step) if resid_lam else None
    for k in sorted(set(kpix[count > 0]), reverse=True):
        rows = np.flatnonzero((kpix == k) & (count > 0))
        for s in range(0, len(rows), BATCH):
            r = rows[s:s + BATCH]
            yb, vb = y[r], valid[r]
            A = design(ty, k) if k else np.column_stack([np.ones_like(ty), ty - ty.mean()])
            pen = harm_penalty(k, smooth, trend_ridge=1e-3 if k else 1e-1)
            y0 = np.where(vb, yb, 0.0)

            def fit(w):
                h = harm_solve(A, y0, w, pen)
                if resid_lam:
                    h = h + whittaker_solve(np.where(vb, yb - h, 0.0), w, P, resid_lam)
                return h
            w = vb.astype(float)
            z = fit(w)
            for _ in range(robust):
                w = reweight(yb, z, vb, k_low=k_low, min_run=min_run)
                z = fit(w)
            rb = vb & (w < 0.5) if robust else np.zeros_like(vb)
            out[r] = np.where(vb & ~rb, yb, z); rep[r] = rb; fitall[r] = z
    none = count == 0
    out[none] = np.nan; fitall[none] = np.nan
    if return_fit:
        return out, rep, fitall, kpix
    return out, rep
