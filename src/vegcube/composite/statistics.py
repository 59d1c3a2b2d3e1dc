"""Statistical composites: the median, mean, max or min of each period's valid observations,
plus their count."""

from __future__ import annotations

import datetime as dt
import itertools
import warnings
from collections.abc import Callable
from typing import Any, Literal

import dask.array as da_
import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError
from .periods import Period, period_index, periods

__all__ = ["STATISTICS", "Statistic", "composite"]

Statistic = Literal["median", "mean", "max", "min"]
STATISTICS: tuple[str, ...] = ("median", "mean", "max", "min")


def composite(
    ds: xr.Dataset,
    *,
    period: Period = "dekad",
    reducer: Statistic = "median",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    date_coord: str = "solar_day",
) -> xr.Dataset:
    """Reduce a scene cube to one value per period, with `<var>_count` of valid observations.

    Scenes are assigned to periods by their `date_coord` (the local solar day) when present,
    else by `time`. The output has every period from `start` to `end` (default: the data's
    range), `time` = period start, and coordinates `period_end` and `period_of_year`; a period
    without a valid observation is NaN with count 0.
    """
    if reducer not in ("median", "mean", "max", "min"):
        raise InputError(f"reducer must be median, mean, max or min; got {reducer!r}")
    dates = pd.DatetimeIndex(ds[date_coord].values if date_coord in ds.coords else ds.time.values)
    if not dates.is_monotonic_increasing:
        order = np.argsort(dates.values, kind="stable")
        ds, dates = ds.isel(time=order), dates[order]
    keys = period_index(dates, period)["start"].values
    starts, sizes = np.unique(keys, return_counts=True)
    fn = _REDUCERS[reducer]
    out = xr.Dataset(coords={"_period": starts})
    if "spatial_ref" in ds.coords:
        out = out.assign_coords(spatial_ref=ds.spatial_ref)
    for name in ds.data_vars:
        da = ds[name].transpose("time", ...)
        dims, coords = da.dims[1:], {d: da[d] for d in da.dims[1:] if d in da.coords}
        value, count = _per_period(da.data, tuple(sizes), fn)
        out[name] = xr.DataArray(value, dims=("_period", *dims), coords=coords)
        out[name].attrs = {
            **ds[name].attrs,
            "cell_methods": f"time: {reducer} (interval: 1 {period})",
        }
        out[f"{name}_count"] = xr.DataArray(count, dims=("_period", *dims), coords=coords)
        out[f"{name}_count"].attrs = {"long_name": f"valid observations of {name} in the period"}
    out = out.rename({"_period": "time"})
    first = start if start is not None else dates.min()
    last = end if end is not None else dates.max()
    table = periods(first, last, period)
    out = out.reindex(time=table["start"].values)
    for name in ds.data_vars:
        out[f"{name}_count"] = out[f"{name}_count"].fillna(0).astype("int16")
    out = out.assign_coords(
        period_end=("time", table["end"].values),
        period_of_year=("time", table["period_of_year"].values),
    )
    out.attrs = {**ds.attrs, "period": period, "reducer": reducer}
    return out


def _nanmedian(block: np.ndarray, axis: int = 0, keepdims: bool = True) -> np.ndarray:
    """Median over axis 0 ignoring NaN: sort (NaN last) and take the middle of the valid.

    numpy's nanmedian goes through masked arrays for short axes and is ~3× slower here; a
    period of at most 3 scenes (a dekad at a 5-day revisit) is sorted by a min/max network
    instead of `np.sort`, whose per-pixel cost on a short strided axis dominates.
    """
    if block.shape[0] <= 3:
        mid = _small_nanmedian(block)
        return mid[None] if keepdims else mid
    n = (~np.isnan(block)).sum(axis=0)
    ordered = np.sort(block, axis=0)
    lo = np.maximum((n - 1) // 2, 0)[None]
    hi = np.maximum(n // 2, 0)[None]
    mid = (
        np.take_along_axis(ordered, lo, 0).astype("float64") + np.take_along_axis(ordered, hi, 0)
    ) / 2
    mid[:, n == 0] = np.nan
    return mid if keepdims else mid[0]


def _small_nanmedian(block: np.ndarray) -> np.ndarray:
    """`_nanmedian` of 1 to 3 values per pixel, the same numbers: NaN sorts as +inf, and
    the middle of the valid ones is taken (the mean of two: in the block's type, which for
    float32 rounds (a + b) / 2 once, as float64 then float32 does)."""
    if len(block) == 1:
        return block[0].copy()
    missing = np.isnan(block)
    gaps = missing.sum(axis=0, dtype=np.uint8)  # NaN per pixel
    x = np.where(missing, np.inf, block)
    if len(block) == 2:
        s0, s1 = np.minimum(x[0], x[1]), np.maximum(x[0], x[1])
        middle = {0: None, 1: s0}  # valid values: 2 → the mean, 1 → s0
    else:
        a, b = np.minimum(x[0], x[1]), np.maximum(x[0], x[1])
        s0, top = np.minimum(a, x[2]), np.maximum(a, x[2])
        s1 = np.minimum(b, top)
        middle = {0: s1, 1: None, 2: s0}  # 3 → s1, 2 → the mean, 1 → s0
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf: NaN, as numpy gives
        mid = np.add(s0, s1)
        mid *= 0.5
    for g, pick in middle.items():
        if pick is not None:
            np.copyto(mid, pick, where=gaps == g)
    np.putmask(mid, gaps == len(block), np.nan)
    return mid


_REDUCERS: dict[str, Callable[..., np.ndarray]] = {
    "median": _nanmedian,
    "mean": np.nanmean,
    "max": np.nanmax,
    "min": np.nanmin,
}


def _reduce_block(block: np.ndarray, fn: Callable[..., np.ndarray]) -> np.ndarray:
    with warnings.catch_warnings():  # all-NaN periods are expected (clouds): NaN, silently
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(block, axis=0, keepdims=True).astype("float32", copy=False)


def _count_block(block: np.ndarray) -> np.ndarray:
    return (~np.isnan(block)).sum(axis=0, keepdims=True, dtype="int16")


def _per_period(
    data: Any, sizes: tuple[int, ...], fn: Callable[..., np.ndarray]
) -> tuple[Any, Any]:
    """Reduce consecutive runs of `sizes` time steps (axis 0): values and valid counts.

    Dask arrays are rechunked to one chunk per period, so each period reduces in place.
    """
    if isinstance(data, da_.Array):
        data = data.rechunk({0: sizes})
        chunks = ((1,) * len(sizes), *data.chunks[1:])
        value = data.map_blocks(_reduce_block, fn, chunks=chunks, dtype="float32")
        count = data.map_blocks(_count_block, chunks=chunks, dtype="int16")
        return value, count
    data = np.asarray(data)
    edges = np.cumsum((0, *sizes))
    parts = [data[a:b] for a, b in itertools.pairwise(edges)]
    return (
        np.concatenate([_reduce_block(p, fn) for p in parts]),
        np.concatenate([_count_block(p) for p in parts]),
    )
