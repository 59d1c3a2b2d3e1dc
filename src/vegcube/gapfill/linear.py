"""`linear`: linear interpolation in (real) time between the neighbouring observations; gaps
before the first or after the last observation stay NaN (quality 0). No parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import Method

__all__ = ["METHOD", "linear"]


def linear(y: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, T) → filled (float32), quality (int8): −1 observed, 1 interpolated, 0 unfilled."""
    valid = np.isfinite(y)
    nt = y.shape[1]
    idx = np.arange(nt)
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(valid, idx, nt)[:, ::-1], axis=1)[:, ::-1]
    inside = (prev >= 0) & (nxt < nt)
    pi, ni = np.clip(prev, 0, nt - 1), np.clip(nxt, 0, nt - 1)
    t0, t1 = days[pi], days[ni]
    y0, y1 = np.take_along_axis(y, pi, 1), np.take_along_axis(y, ni, 1)
    span = t1 - t0
    frac = np.divide(days[None, :] - t0, span, out=np.zeros_like(span), where=span > 0)
    interp = np.where(inside, y0 + frac * (y1 - y0), np.nan)
    q = np.where(valid, -1, np.where(inside, 1, 0)).astype(np.int8)
    return np.where(valid, y, interp).astype(np.float32), q


def _check(o: dict[str, Any]) -> dict[str, Any]:
    return o


METHOD = Method(
    name="linear",
    summary="linear interpolation in time; no extrapolation",
    fn=linear,
    defaults={},
    check=_check,
)
