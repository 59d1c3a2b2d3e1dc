"""Periods with holes → filled series + quality band (harmonic cascade, HANTS, Whittaker, linear).

>>> ds = fill(ndvi, method="harmonic", harmonics=(10, 5, 1))
>>> ds["filled"], ds["quality"]       # float32 / int8, same dims and coordinates as `ndvi`

Quality codes: -1 observed (kept as is), n > 0 filled by a fit with n harmonics (`harmonic`,
`hants`) or 1 (`whittaker`, `linear`), 0 left unfilled (NaN remains). NaN (any non-finite
value) in the input is a gap. Every method is vectorised over pixels (batched normal
equations, or loops over *time* on whole pixel vectors); on dask arrays it runs per spatial
chunk with `time` in one chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from .errors import RecipeError

__all__ = ["METHODS", "fill", "parameters"]

_DEFAULTS: dict[str, dict[str, Any]] = {
    "harmonic": {
        "harmonics": (10, 5, 1),
        "min_obs_factor": 1.5,
        "max_phase_gap": 1.0,
        "window_days": None,
        "ridge": 1e-6,
    },
    "hants": {
        "harmonics": (3, 2, 1),
        "fet": 0.05,
        "max_iter": 10,
        "dod": 5,
        "low_high": "low",
        "ridge": 1e-6,
    },
    "whittaker": {"lmbda": 10.0, "weights": None, "smooth_observed": False},
    "linear": {},
}
#: the method names `fill` accepts
METHODS: tuple[str, ...] = tuple(_DEFAULTS)
_BATCH = 512  # pixels per batched step: small enough to stay in cache (measured: 512 > 2048 > 8192)
_YEAR_NS = 365.25 * 86400e9


def parameters(method: str) -> dict[str, Any]:
    """The parameters `method` accepts, with their defaults."""
    if method not in _DEFAULTS:
        raise RecipeError(f"gapfill method must be one of {list(METHODS)}; got {method!r}")
    return dict(_DEFAULTS[method])


class _ParameterError(RecipeError, TypeError):
    """An unknown keyword for the chosen method (a TypeError, like Python's own)."""


def fill(da: xr.DataArray, *, method: str = "harmonic", **params: Any) -> xr.Dataset:
    """Fill the gaps (NaN) of a (time, y, x) series; return `filled` (float32) and `quality` (int8).

    Methods and their parameters (defaults in brackets):

    - ``harmonic``: least squares of intercept + linear trend (years) + K harmonics of one year,
      per pixel. ``harmonics`` [(10, 5, 1)]: a cascade, each pixel uses the largest K for
      which its valid count ≥ ``min_obs_factor`` [1.5] × (2K + 2) parameters and whose largest
      gap in day-of-year, all years pooled, is ≤ ``max_phase_gap`` [1.0] × 1/K year (the period
      of the K-th harmonic; None = count only: K = 10 then oscillates across long phase gaps);
      pixels short of the smallest K stay NaN (quality 0). ``window_days`` [None = the whole
      series]: the series is cut into blocks of ``window_days / 2``; the gaps of a block are
      filled by a fit on the observations of the block extended by ``window_days / 2`` on both
      sides, so each gap's fit sees at least ±window_days/2 around it (at most ±window_days·3/4).
      ``ridge`` [1e-6]: Tikhonov term × valid count added to the normal equations.
    - ``hants``: HANTS (Roerink et al. 2000): the harmonic fit is repeated, each time rejecting
      the accepted points whose residual in the ``low_high`` direction ["low": below the curve;
      "high"] exceeds both ``fet`` [0.05] and half the largest such residual, largest first,
      never leaving fewer than 2K + 2 + ``dod`` [5] points; at most ``max_iter`` [10] rounds.
      ``harmonics`` [(3, 2, 1)] is a cascade as above (K needs 2K + 2 + dod valid points).
      Gaps and rejected points get the final fit (quality K); accepted points stay (-1).
    - ``whittaker``: Whittaker smoother (Eilers 2003), second-order differences on the *index*
      of the time steps (irregular dates are treated as evenly spaced), ``lmbda`` [10];
      ``weights`` [None = 1] optional array broadcastable to `da` (gaps weigh 0). Only gaps get
      the smoothed value unless ``smooth_observed`` [False]; needs 2 valid points.
    - ``linear``: linear interpolation in (real) time between the neighbouring observations;
      gaps before the first or after the last observation stay NaN (quality 0).
    """
    if method not in _DEFAULTS:
        raise RecipeError(f"gapfill method must be one of {list(METHODS)}; got {method!r}")
    accepted = _DEFAULTS[method]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise _ParameterError(
            f"gapfill method {method!r} got unknown parameter(s) {unknown}; "
            f"accepted: {sorted(accepted) or 'none'}"
        )
    opts = {**accepted, **params}
    if "time" not in da.dims:
        raise RecipeError(f"gapfill needs a 'time' dimension; `da` has dims {da.dims}")
    days = _days(da)
    weights = opts.pop("weights", None)
    core = _core(method, opts, days)
    data = da if np.issubdtype(da.dtype, np.floating) else da.astype("float32")
    args = [data]
    if weights is not None:
        w = (
            weights
            if isinstance(weights, xr.DataArray)
            else da.copy(data=np.broadcast_to(np.asarray(weights, dtype="float64"), da.shape))
        )
        args.append(xr.broadcast(w.astype("float64"), data)[0])
    if data.chunks is not None:
        args = [a.chunk({"time": -1}) for a in args]
    filled, quality = xr.apply_ufunc(
        core,
        *args,
        input_core_dims=[["time"]] * len(args),
        output_core_dims=[["time"], ["time"]],
        dask="parallelized",
        output_dtypes=[np.float32, np.int8],
    )
    attrs = {"gapfill_method": method}
    return xr.Dataset(
        {
            "filled": filled.transpose(*da.dims).assign_attrs({**da.attrs, **attrs}),
            "quality": quality.transpose(*da.dims).assign_attrs(
                attrs, flag_meanings="-1 observed, n>0 filled (harmonics used), 0 unfilled"
            ),
        }
    )


# --------------------------------------------------------------------------- validation


def _days(da: xr.DataArray) -> np.ndarray:
    t = np.asarray(da["time"].values)
    if not np.issubdtype(t.dtype, np.datetime64):
        raise RecipeError(f"gapfill needs datetime64 `time` values; got dtype {t.dtype}")
    days = (t - t[0]).astype("timedelta64[ns]").astype("float64") / 86400e9
    if np.any(np.diff(days) < 0):
        raise RecipeError("gapfill needs `time` in increasing order; use da.sortby('time')")
    return days


def _check(name: str, ok: bool, what: str, value: Any) -> None:
    if not ok:
        raise RecipeError(f"gapfill parameter {name!r} must be {what}; got {value!r}")


def _cascade(value: Any) -> tuple[int, ...]:
    ks = (value,) if isinstance(value, int) else tuple(value)
    good = len(ks) > 0 and all(isinstance(k, int) and k > 0 for k in ks)
    _check("harmonics", good, "a positive int or a sequence of them", value)
    return tuple(sorted(set(ks), reverse=True))


def _core(method: str, o: dict[str, Any], days: np.ndarray) -> Callable[..., Any]:
    """Validate the options; return the per-block function (…, T) → (filled, quality)."""
    years = days / 365.25
    fn: Callable[..., tuple[np.ndarray, np.ndarray]]
    if method in ("harmonic", "hants"):
        o["harmonics"] = _cascade(o["harmonics"])
        _check("ridge", o["ridge"] >= 0, "≥ 0", o["ridge"])
    if method == "harmonic":
        _check("min_obs_factor", o["min_obs_factor"] > 0, "> 0", o["min_obs_factor"])
        g = o["max_phase_gap"]
        _check("max_phase_gap", g is None or g > 0, "None or > 0", g)
        w = o["window_days"]
        _check("window_days", w is None or w > 0, "None or > 0", w)
        fn = _harmonic
    elif method == "hants":
        _check("fet", o["fet"] >= 0, "≥ 0", o["fet"])
        _check(
            "max_iter",
            isinstance(o["max_iter"], int) and o["max_iter"] >= 0,
            "an int ≥ 0",
            o["max_iter"],
        )
        _check("dod", isinstance(o["dod"], int) and o["dod"] >= 0, "an int ≥ 0", o["dod"])
        _check("low_high", o["low_high"] in ("low", "high"), "'low' or 'high'", o["low_high"])
        fn = _hants
    elif method == "whittaker":
        _check("lmbda", o["lmbda"] > 0, "> 0", o["lmbda"])
        fn = _whittaker
    else:
        fn = _linear
    kw = {k: v for k, v in o.items() if k != "weights"}
    t = days if method in ("linear", "whittaker") else years

    def core(y: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        shape = y.shape
        y2 = y.reshape(-1, shape[-1])
        w2 = None if w is None else w.reshape(-1, shape[-1])
        f = np.empty(y2.shape, np.float32)
        q = np.empty(y2.shape, np.int8)
        for s in range(0, y2.shape[0], _BATCH):
            b = slice(s, s + _BATCH)
            extra: dict[str, Any] = {} if w2 is None else {"w": w2[b]}
            f[b], q[b] = fn(y2[b].astype("float64"), t, **kw, **extra)
        return f.reshape(shape), q.reshape(shape)

    return core


# --------------------------------------------------------------------------- harmonic fits


def _design(t: np.ndarray, k: int) -> np.ndarray:
    """(T, 2k + 2): intercept, trend (years, centred), cos/sin(2π j t) for j = 1..k."""
    w = 2 * np.pi * np.arange(1, k + 1) * t[:, None]
    cols = [np.ones_like(t), t - t.mean(), *np.cos(w).T, *np.sin(w).T]
    return np.stack(cols, axis=1)


def _phase_gap(valid: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per row, the largest circular gap (years) between observed phases of the year, all years
    pooled (inf without observations)."""
    order = np.argsort(t % 1.0, kind="stable")
    ph, v = (t % 1.0)[order], valid[:, order]
    idx = np.where(v, np.arange(len(t)), -1)
    prev = np.maximum.accumulate(idx, axis=1)[:, :-1]  # last observed phase before position j
    inner = np.where(v[:, 1:] & (prev >= 0), ph[1:] - ph[np.maximum(prev, 0)], 0.0).max(1)
    first, last = v.argmax(1), len(t) - 1 - v[:, ::-1].argmax(1)
    wrap = ph[first] + 1.0 - ph[last]
    return np.where(v.any(1), np.maximum(inner, wrap), np.inf)


def _solve(a: np.ndarray, y0: np.ndarray, w: np.ndarray, ridge: float) -> np.ndarray:
    """Weighted least squares for every row of y0 (gaps 0) with weights w: (n, T) → fit (n, T)."""
    n, p = y0.shape[0], a.shape[1]
    g = (w @ (a[:, :, None] * a[:, None, :]).reshape(len(a), p * p)).reshape(n, p, p)
    g[:, np.arange(p), np.arange(p)] += (ridge * w.sum(1) + 1e-12)[:, None]
    beta = np.linalg.solve(g, ((w * y0) @ a)[..., None])[..., 0]
    return beta @ a.T


def _harmonic(
    y: np.ndarray,
    t: np.ndarray,
    *,
    harmonics: tuple[int, ...],
    min_obs_factor: float,
    max_phase_gap: float | None,
    window_days: float | None,
    ridge: float,
) -> tuple[np.ndarray, np.ndarray]:
    valid = np.isfinite(y)
    fit = np.full(y.shape, np.nan)
    q = np.zeros(y.shape, np.int8)
    if window_days is None:
        blocks = [(np.ones(len(t), bool), np.ones(len(t), bool))]
    else:
        half, step = window_days / 365.25 / 2, window_days / 365.25 / 2
        starts = np.arange(t[0], t[-1] + step, step)
        blocks = [
            ((t >= s) & (t < s + step), (t >= s - half) & (t < s + step + half)) for s in starts
        ]
    for target, window in blocks:
        if not target.any():
            continue
        tw, vw = t[window], valid[:, window]
        yw = np.where(vw, y[:, window], 0.0)
        count = vw.sum(1)
        gap = np.zeros(len(y)) if max_phase_gap is None else _phase_gap(vw, tw)
        todo = np.ones(len(y), bool)
        for k in harmonics:
            rows = todo & (count >= min_obs_factor * (2 * k + 2))
            if max_phase_gap is not None:
                rows &= gap <= max_phase_gap / k
            if not rows.any():
                continue
            a = _design(tw, k)
            f = _solve(a, yw[rows], vw[rows].astype(float), ridge)
            fit[np.ix_(rows, target)] = f[:, target[window]]
            q[np.ix_(rows, target)] = k
            todo &= ~rows
    q[valid] = -1
    return np.where(valid, y, fit).astype(np.float32), q


def _hants(
    y: np.ndarray,
    t: np.ndarray,
    *,
    harmonics: tuple[int, ...],
    fet: float,
    max_iter: int,
    dod: int,
    low_high: str,
    ridge: float,
) -> tuple[np.ndarray, np.ndarray]:
    valid = np.isfinite(y)
    y0 = np.where(valid, y, 0.0)
    sign = 1.0 if low_high == "low" else -1.0  # residual > 0 in the rejected direction
    out = np.where(valid, y, np.nan)
    q = np.where(valid, -1, 0).astype(np.int8)
    count = valid.sum(1)
    todo = np.ones(len(y), bool)
    for k in harmonics:
        keep = 2 * k + 2 + dod
        rows = np.flatnonzero(todo & (count >= keep))
        if rows.size == 0:
            continue
        todo[rows] = False
        a = _design(t, k)
        yk, acc = y0[rows], valid[rows].copy()
        fit = _solve(a, yk, acc.astype(float), ridge)
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
            fit[active] = _solve(a, yk[active], acc[active].astype(float), ridge)
        replace = ~acc
        out[rows] = np.where(replace, fit, out[rows])
        q[rows] = np.where(replace, k, -1)
    return out.astype(np.float32), q


# --------------------------------------------------------------------------- Whittaker, linear


def _whittaker(
    y: np.ndarray,
    t: np.ndarray,
    *,
    lmbda: float,
    smooth_observed: bool,
    w: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve (W + λ DᵀD) z = W y by a banded LDLᵀ, looping over time on whole pixel vectors."""
    n, nt = y.shape
    valid = np.isfinite(y)
    w = valid.astype(float) if w is None else np.where(valid, np.nan_to_num(w), 0.0)
    ok = ((w > 0).sum(1) >= 2) & (nt >= 3)
    w = np.where(ok[:, None], w, 1.0)  # keep unfilled pixels' systems regular; discarded below
    r = w * np.where(valid, y, 0.0)
    dd = np.diff(np.eye(nt), 2, axis=0) if nt >= 3 else np.zeros((0, nt))
    p = lmbda * (dd.T @ dd)
    c0 = np.diag(p)[None, :] + w
    c1 = np.append(np.diag(p, 1), 0.0)  # c1[i] = A[i, i+1]
    c2 = np.append(np.diag(p, 2), [0.0, 0.0])  # c2[i] = A[i, i+2]
    d = np.zeros((n, nt))
    l1 = np.zeros((n, nt))  # L[i, i-1]
    l2 = np.zeros((n, nt))  # L[i, i-2]
    u = np.zeros((n, nt))
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
    keep = valid & ~ok[:, None] if smooth_observed else valid
    q = np.where(keep, -1, np.where(ok[:, None], 1, 0)).astype(np.int8)
    out = np.where(keep, y, np.where(ok[:, None], z, np.nan))
    return out.astype(np.float32), q


def _linear(y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate in time between the previous and next observation of each gap."""
    valid = np.isfinite(y)
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
    interp = np.where(inside, y0 + frac * (y1 - y0), np.nan)
    q = np.where(valid, -1, np.where(inside, 1, 0)).astype(np.int8)
    return np.where(valid, y, interp).astype(np.float32), q
