"""Temporal aggregation: calendar periods (hour … decade, dekads included) and intervals.

Labels of the aggregated dimension are the periods' START as datetimes (vegcube's
convention for composites; openEO's ``YYYY-MM`` style names are a rendering of them), and
every period from the first to the last is present (NaN where it has no data).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._types import (
    ArrayView,
    ProcessGraphError,
    drop_dim_coords,
    extent_of,
    temporal_dim,
    to_datetime64,
)
from .cubes import require_cube
from .registry import process

__all__ = ["PERIODS", "aggregate_groups", "next_start", "period_start"]

PERIODS = (
    "hour",
    "day",
    "week",
    "dekad",
    "month",
    "season",
    "tropical-season",
    "year",
    "decade",
    "decade-ad",
)


def period_start(times: Any, period: str) -> pd.DatetimeIndex:
    """The start of the `period` each time falls in."""
    t = pd.DatetimeIndex(times)
    if period == "hour":
        return t.floor("h")
    day = t.normalize()
    if period == "day":
        return day
    if period == "week":  # ISO weeks start on Monday
        return day - pd.to_timedelta(day.day_of_week, unit="D")
    if period == "dekad":
        return _ymd(t.year, t.month, np.select([t.day <= 10, t.day <= 20], [1, 11], 21))
    if period == "month":
        return _ymd(t.year, t.month, 1)
    if period in ("season", "tropical-season"):
        first = (12, 3, 6, 9) if period == "season" else (11, 5)
        span = 12 // len(first)
        back = (t.month - first[0]) % span  # months since the season began
        months = t.year * 12 + (t.month - 1) - back
        return _ymd(months // 12, months % 12 + 1, 1)
    if period == "year":
        return _ymd(t.year, 1, 1)
    if period in ("decade", "decade-ad"):
        offset = 0 if period == "decade" else 1
        return _ymd((t.year - offset) // 10 * 10 + offset, 1, 1)
    raise ProcessGraphError(
        f"period must be one of {list(PERIODS)}; got {period!r}",
        code="ProcessParameterInvalid",
        argument="period",
    )


def _ymd(year: Any, month: Any, day: Any) -> pd.DatetimeIndex:
    frame = pd.DataFrame(
        {"year": np.asarray(year), "month": np.asarray(month), "day": np.asarray(day)}
    )
    return pd.DatetimeIndex(pd.to_datetime(frame))


def next_start(start: pd.Timestamp, period: str) -> pd.Timestamp:
    """The start of the period after the one starting at `start`."""
    step = {
        "hour": pd.Timedelta(hours=1),
        "day": pd.Timedelta(days=1),
        "week": pd.Timedelta(days=7),
        "month": pd.DateOffset(months=1),
        "season": pd.DateOffset(months=3),
        "tropical-season": pd.DateOffset(months=6),
        "year": pd.DateOffset(years=1),
        "decade": pd.DateOffset(years=10),
        "decade-ad": pd.DateOffset(years=10),
    }
    if period == "dekad":
        return start + pd.Timedelta(days=10) if start.day < 21 else start + pd.offsets.MonthBegin(1)
    return start + step[period]


def aggregate_groups(
    da: xr.DataArray, dim: str, groups: list[np.ndarray], labels: Any, reducer: Any, context: Any
) -> xr.DataArray:
    """The reducer on each group of positions along `dim`, joined along `dim` with `labels`.

    An empty group is given as one no-data step (what the null-skipping reducers make of an
    empty array: null, or 0 for count)."""
    if not da.sizes[dim]:
        raise ProcessGraphError(f"the cube has no labels along {dim!r}", code="DataCubeEmpty")
    pieces = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for idx in groups:
            group = (
                da.isel({dim: idx})
                if len(idx)
                else xr.full_like(da.isel({dim: [0]}), np.nan, dtype="float64")
            )
            out = reducer(data=ArrayView(group, dim), context=context)
            if isinstance(out, ArrayView) or (isinstance(out, xr.DataArray) and dim in out.dims):
                raise ProcessGraphError(
                    "the reducer must give one value per pixel",
                    code="ProcessParameterInvalid",
                    argument="reducer",
                )
            if not isinstance(out, xr.DataArray):
                out = xr.full_like(
                    drop_dim_coords(da.isel({dim: 0}), dim),
                    np.nan if out is None else out,
                    dtype="float64",
                )
            pieces.append(out)
    joined = xr.concat(pieces, dim=dim, coords="minimal", compat="override")
    order = [d for d in da.dims if d in joined.dims]
    return joined.assign_coords({dim: labels}).transpose(*order, ...)


@process("aggregate_temporal_period")
def aggregate_temporal_period(
    data: Any, *, period: str, reducer: Any, dimension: str | None = None, context: Any = None
) -> xr.DataArray:
    """One value per calendar period, labelled by the period's start: every period that
    overlaps the cube's temporal extent (the one load_collection or filter_temporal asked
    for; else from the first to the last label) is present, NaN where it holds no data."""
    da = require_cube(data)
    dim = temporal_dim(da, dimension)
    keys = period_start(da[dim].values, period)
    first, end = extent_of(da, dim)
    if not len(keys) and (first is None or end is None):
        raise ProcessGraphError("the cube has no time steps", code="DataCubeEmpty")
    lo = period_start([first], period)[0] if first is not None else keys.min()
    if len(keys):
        lo = min(lo, keys.min())
    starts = [lo]
    while (nxt := next_start(starts[-1], period)) <= (keys.max() if len(keys) else lo) or (
        end is not None and nxt < end
    ):
        starts.append(nxt)
    groups = [np.flatnonzero(keys == s) for s in starts]
    return aggregate_groups(da, dim, groups, pd.DatetimeIndex(starts).values, reducer, context)


def _time_of_day(value: str) -> int | None:
    parts = (
        value.split(":") if isinstance(value, str) and "T" not in value and "-" not in value else []
    )
    if len(parts) != 3:
        return None
    h, m, s = (int(p) for p in parts)
    return h * 3600 + m * 60 + s


@process("aggregate_temporal")
def aggregate_temporal(
    data: Any,
    *,
    intervals: list[list[Any]],
    reducer: Any,
    labels: list[Any] | None = None,
    dimension: str | None = None,
    context: Any = None,
) -> xr.DataArray:
    """One value per left-closed interval (dates, date-times, or times of day that may wrap
    around midnight); labels: `labels` or each interval's start."""
    da = require_cube(data)
    dim = temporal_dim(da, dimension)
    t = pd.DatetimeIndex(da[dim].values)
    seconds = np.asarray(t.hour * 3600 + t.minute * 60 + t.second)
    groups, starts = [], []
    for a, b in intervals:
        ta, tb = _time_of_day(a), _time_of_day(b)
        if ta is not None and tb is not None:
            inside = (
                (seconds >= ta) & (seconds < tb) if ta < tb else (seconds >= ta) | (seconds < tb)
            )
            starts.append(a)
        else:
            lo = None if a is None else to_datetime64(a)
            hi = None if b is None else to_datetime64(b)
            if lo is not None and hi is not None and hi <= lo:
                raise ProcessGraphError(
                    f"interval [{a}, {b}) is empty",
                    code="TemporalExtentEmpty",
                    argument="intervals",
                )
            inside = np.ones(len(t), dtype=bool)
            if lo is not None:
                inside &= t.values >= lo
            if hi is not None:
                inside &= t.values < hi
            starts.append(lo if lo is not None else a)
        groups.append(np.flatnonzero(inside))
    if labels:
        if len(labels) != len(intervals):
            raise ProcessGraphError(
                f"{len(labels)} labels for {len(intervals)} intervals",
                code="LabelMismatch",
                argument="labels",
            )
        names: Any = list(labels)
    else:
        if len({str(s) for s in starts}) != len(starts):
            raise ProcessGraphError(
                "interval starts repeat; give distinct labels",
                code="DistinctDimensionLabelsRequired",
                argument="labels",
            )
        names = np.asarray(starts) if all(isinstance(s, np.datetime64) for s in starts) else starts
    return aggregate_groups(da, dim, groups, names, reducer, context)
