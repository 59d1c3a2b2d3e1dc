"""Is a departure from the reference real? Confidence, monitorability and persistence.

A value x of a period is compared with its reference mean m (n years, spread s pooled over
neighbouring periods of the year) and the pixel's observation noise σ (`reference.noise`):

- **confidence** = Φ(−(x − m) / se), se = √(σ² + s²/n): the probability that the value lies
  below the normal, given one observation's noise and the mean's sampling error;
- **monitorable** where the reference's own spread exceeds what noise alone gives:
  s ≥ √2·σ, i.e. a year-to-year signal at least as large as the noise. Elsewhere (stable forest,
  bare soil, water) a VCI would rank noise;
- **persistence**: the number of consecutive periods, up to and including this one, with a
  significant departure.

A pixel whose noise is unknown (too few observed triples) is judged on the reference's
sampling error alone and counted monitorable: the textbook indicators, no stricter.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import ndtr

__all__ = ["MONITORABLE_RATIO", "confidence", "monitorable", "runs", "significant"]

#: the reference spread must reach this multiple of the noise (√2: signal ≥ noise)
MONITORABLE_RATIO = float(np.sqrt(2.0))


def _noise(noise: xr.DataArray | None, like: xr.DataArray) -> xr.DataArray:
    if noise is None:
        return xr.zeros_like(like)
    return noise.fillna(0.0)


def confidence(
    anomaly: xr.DataArray,
    std: xr.DataArray,
    count: xr.DataArray,
    noise: xr.DataArray | None = None,
) -> xr.DataArray:
    """Φ(−anomaly / √(noise² + std²/count)) in [0, 1] (float32): 0.5 at the mean, → 1 far
    below it; NaN where the anomaly is NaN; 1 or 0 for any departure when se is 0."""
    s = std.fillna(0.0)
    se = np.sqrt(_noise(noise, s) ** 2 + s**2 / count.where(count > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (-anomaly / se).where(se > 0, np.sign(-anomaly) * np.inf)
    out = xr.apply_ufunc(ndtr, z).where(anomaly.notnull()).astype("float32")
    out.attrs = {
        "long_name": "confidence that the value lies below the reference mean",
        "units": "1",
        "rule": "Phi(-anomaly / sqrt(noise^2 + std^2 / years))",
    }
    return out


def monitorable(std: xr.DataArray, noise: xr.DataArray | None = None) -> xr.DataArray:
    """True where the reference spread reaches `MONITORABLE_RATIO` × noise (and is > 0)."""
    return (std > 0) & (std >= MONITORABLE_RATIO * _noise(noise, std))


def significant(
    anomaly: xr.DataArray,
    conf: xr.DataArray,
    *,
    min_confidence: float,
    min_anomaly: float,
) -> xr.DataArray:
    """A departure below normal that is sure enough and large enough."""
    return (conf >= min_confidence) & (anomaly <= -min_anomaly)


def runs(flag: xr.DataArray, dim: str = "time") -> xr.DataArray:
    """Consecutive True values along `dim` up to and including each step (int16)."""

    def count(a: np.ndarray) -> np.ndarray:
        a = np.moveaxis(np.asarray(a, dtype=bool), -1, 0)
        step = np.arange(len(a)).reshape(-1, *([1] * (a.ndim - 1)))
        last_false = np.maximum.accumulate(np.where(a, -1, step), axis=0)
        return np.moveaxis((step - last_false).astype("int16"), 0, -1)

    return xr.apply_ufunc(count, flag, input_core_dims=[[dim]], output_core_dims=[[dim]]).transpose(
        *flag.dims
    )
