"""`whittaker`: the Whittaker smoother (Eilers 2003) with second-order differences on the *index*
of the time steps (irregular dates are treated as evenly spaced), ``lmbda`` [10]; ``weights``
[None = 1] an optional array broadcastable to the series (gaps weigh 0). Only gaps get the
smoothed value unless ``smooth_observed`` [False]; needs 2 valid points (else quality 0)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _banded
from ._registry import Method, check, positive

__all__ = ["METHOD", "whittaker"]

DEFAULTS: dict[str, Any] = {"lmbda": 10.0, "weights": None, "smooth_observed": False}


def _check(o: dict[str, Any]) -> dict[str, Any]:
    positive(o, "lmbda")
    so = o["smooth_observed"]
    check("smooth_observed", isinstance(so, (bool, np.bool_)), "true or false", so)
    return o


def whittaker(
    y: np.ndarray,
    days: np.ndarray,
    *,
    lmbda: float,
    smooth_observed: bool,
    w: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, T) → filled (float32), quality (int8): solve (W + λ DᵀD) z = W y."""
    nt = y.shape[1]
    valid = np.isfinite(y)
    w = valid.astype(float) if w is None else np.where(valid, np.nan_to_num(w), 0.0)
    ok = ((w > 0).sum(1) >= 2) & (nt >= 3)
    w = np.where(ok[:, None], w, 1.0)  # keep unfilled pixels' systems regular; discarded below
    p = _banded.bands(np.arange(nt, dtype=float))
    z = _banded.solve(np.where(valid, y, 0.0).T, np.ascontiguousarray(w.T), p, lmbda).T
    keep = valid & ~ok[:, None] if smooth_observed else valid
    q = np.where(keep, -1, np.where(ok[:, None], 1, 0)).astype(np.int8)
    out = np.where(keep, y, np.where(ok[:, None], z, np.nan))
    return out.astype(np.float32), q


METHOD = Method(
    name="whittaker",
    summary="Whittaker smoother on the index of the periods",
    fn=whittaker,
    defaults=DEFAULTS,
    check=_check,
)
