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

A series continued by another sensor (a ``sensor`` coordinate per period) is judged with the
noise of the sensor that made each value (`era_noise`, `period_noise`): SLSTR's monthly LST
scatters about twice as much as MODIS's 8-day composites, and a reference of mostly MODIS
years would read that scatter as heat.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import ndtr

__all__ = [
    "MONITORABLE_RATIO",
    "confidence",
    "era_noise",
    "monitorable",
    "period_noise",
    "runs",
    "significant",
]

#: the reference spread must reach this multiple of the noise (√2: signal ≥ noise)
MONITORABLE_RATIO = float(np.sqrt(2.0))
#: an era-noise task's series (float32) in bytes at most: a strip of rows of every period
_STRIP_BYTES = 64 * 2**20


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


def era_noise(
    values: xr.DataArray, sensors: np.ndarray, *, name: str, observed: xr.DataArray | None = None
) -> xr.DataArray:
    """The observation noise (`reference.noise`) of each sensor era of a continuity series:
    `values` (time, y, x) over all the periods of each label of `sensors` (one per period;
    "" — no scenes — skipped), as ``<name>_era_noise`` (``<name>_era``, y, x). Lazy (one task
    per spatial chunk) for a dask-backed series.

    A new sensor's era may hold a year of periods or less: a median of ten triples scatters
    by about a quarter, and a pixel whose noise came out low would have its scatter judged
    a departure. So a pixel's estimate is floored at the median of its 3 × 3 neighbourhood."""
    from .reference import noise

    def per_pixel(v: np.ndarray, seen: np.ndarray) -> np.ndarray:  # time is the last axis here
        return noise(np.moveaxis(v, -1, 0), np.moveaxis(seen, -1, 0))

    labels = np.asarray(sensors).astype(str)
    eras = [e for e in dict.fromkeys(labels.tolist()) if e]
    parts = []
    for era in eras:
        at = np.flatnonzero(labels == era)
        v = values.isel(time=at)
        seen = observed.isel(time=at) if observed is not None else v.notnull()
        if v.chunks:  # the era's whole series per task, in strips of rows (bounded memory)
            rows = max(8, int(_STRIP_BYTES // (4 * len(at) * max(v.sizes["x"], 1))))
            v = v.chunk({"time": -1, "y": rows})
            seen = seen.chunk({"time": -1, "y": rows})
        parts.append(
            xr.apply_ufunc(
                per_pixel,
                v,
                seen,
                input_core_dims=[["time"], ["time"]],
                dask="parallelized",
                output_dtypes=["float32"],
            )
        )
    dim = f"{name}_era"
    out = xr.concat(parts, dim).assign_coords({dim: np.asarray(eras, dtype=str)})
    out.attrs = {
        "long_name": f"observation noise of {name} per sensor era (whole series)",
        "units": values.attrs.get("units", "1"),
    }
    if out.chunks:
        floored = out.data.map_overlap(
            _neighbourhood_floor, depth={0: 0, 1: 1, 2: 1}, boundary="nearest", dtype="float32"
        )
        out = out.copy(data=floored)
    else:
        out = out.copy(data=_neighbourhood_floor(np.asarray(out.values)))
    out.encoding = {}  # not the series' Zarr chunks
    return out.rename(f"{name}_era_noise")


def period_noise(
    reference_noise: xr.DataArray | None,
    eras: xr.DataArray | None,
    sensors: np.ndarray | None,
) -> xr.DataArray | None:
    """The noise each period is judged with: its sensor era's (`eras`, from `era_noise`),
    else the reference's (a period of no known era, or an era too short to estimate)."""
    if eras is None or sensors is None:
        return reference_noise
    dim = str(eras.dims[0])
    have = {str(e): i for i, e in enumerate(eras[dim].values)}
    pick = np.asarray([have.get(str(s), -1) for s in np.asarray(sensors)])
    per = eras.drop_vars(dim).isel({dim: xr.DataArray(np.maximum(pick, 0), dims="time")})
    per = per.where(xr.DataArray(pick >= 0, dims="time"))
    return per if reference_noise is None else per.fillna(reference_noise)


def _neighbourhood_floor(noise: np.ndarray) -> np.ndarray:
    """max(noise, median of its 3 × 3 neighbourhood) per (…, y, x) layer; NaN stays NaN."""
    from scipy import ndimage

    size = (1,) * (noise.ndim - 2) + (3, 3)
    near = ndimage.median_filter(np.nan_to_num(noise, nan=0.0), size=size, mode="nearest")
    return np.where(np.isnan(noise), np.nan, np.fmax(noise, near)).astype("float32")
