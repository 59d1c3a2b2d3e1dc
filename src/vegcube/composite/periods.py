"""Periods of the year (dekads, months): their table, which are provisional, months from dekads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError

__all__ = ["PERIODS_PER_YEAR", "Period", "period_index", "periods", "provisional", "to_monthly"]

Period = Literal["dekad", "month"]
PERIODS_PER_YEAR = {"dekad": 36, "month": 12}
#: pandas' own resolution for dates (microseconds from pandas 3, nanoseconds before)
_UNIT = f"datetime64[{pd.to_datetime(['2000-01-01']).unit}]"


def _starts(dates: pd.DatetimeIndex, period: Period) -> np.ndarray:
    """Each date's period start (datetime64[D]); numpy's calendar units, not pandas offsets,
    which cost milliseconds per call in every composite task."""
    month = dates.values.astype("datetime64[M]")
    if period == "month":
        return month.astype("datetime64[D]")
    day = np.asarray(dates.day)
    third = np.where(day <= 10, 0, np.where(day <= 20, 1, 2))
    return month.astype("datetime64[D]") + 10 * third


def period_index(dates: pd.DatetimeIndex, period: Period) -> pd.DataFrame:
    """Per date: its period's start, end (inclusive day) and period of year (1..36 or 1..12)."""
    if period not in PERIODS_PER_YEAR:
        raise InputError(f"period must be one of {list(PERIODS_PER_YEAR)}; got {period!r}")
    start = _starts(pd.DatetimeIndex(dates).normalize(), period)
    month = start.astype("datetime64[M]")
    month_end = (month + 1).astype("datetime64[D]") - 1
    month_of_year = month.astype(int) % 12 + 1
    if period == "month":
        end, poy = month_end, month_of_year
    else:
        third = (start - month.astype("datetime64[D]")).astype(int) // 10
        end = np.where(third < 2, start + 9, month_end)
        poy = (month_of_year - 1) * 3 + third + 1
    return pd.DataFrame(
        {
            "start": pd.DatetimeIndex(start.astype(_UNIT)),
            "end": pd.DatetimeIndex(end.astype(_UNIT)),
            "period_of_year": np.asarray(poy, dtype="int16"),
        }
    )


def periods(start: dt.date | str, end: dt.date | str, period: Period) -> pd.DataFrame:
    """Every period overlapping [start, end], in order (columns start, end, period_of_year)."""
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    return period_index(days, period).drop_duplicates("start").reset_index(drop=True)


def provisional(
    period_end: Any,
    *,
    data_end: dt.date | str,
    latency_days: float = 0,
    today: dt.date | None = None,
) -> np.ndarray:
    """True for periods that may still change: not closed by data acquired after them.

    A period is final once a scene acquired after its end (+ `latency_days`, the half window
    of a synthesis that reaches beyond the period) has been found, and the period has ended.
    `data_end` is the day of the latest scene found.
    """
    ends = pd.DatetimeIndex(np.asarray(period_end)) + pd.Timedelta(days=latency_days)
    closed = ends < pd.Timestamp(data_end)
    if today is not None:
        closed &= ends < pd.Timestamp(today)
    return np.asarray(~closed)


def to_monthly(ds: xr.Dataset, *, variables: Sequence[str] | None = None) -> xr.Dataset:
    """Dekad composites → monthly ones: the month's dekads combined, per pixel.

    With `<var>_count`, a month is the count-weighted mean of its dekads (exactly the monthly
    mean for mean composites; for other reducers a mean of the dekad values, each weighing
    as many observations as it holds) and its count the sum; a `max`/`min` composite takes
    the max/min. Without counts (gap-filled series), the mean of the month's dekads.
    Coordinates `period_end`, `period_of_year` (1..12) and `provisional` (any dekad) follow.
    """
    if ds.attrs.get("period", "dekad") != "dekad":
        raise InputError(f"to_monthly needs dekad composites; got period {ds.attrs['period']!r}")
    names = (
        list(variables)
        if variables is not None
        else [str(v) for v in ds.data_vars if not str(v).endswith(("_count", "_quality"))]
    )
    month = xr.DataArray(
        pd.DatetimeIndex(ds.time.values).to_period("M").to_timestamp().values,
        dims="time", name="time",
    )  # fmt: skip
    reducer = ds.attrs.get("reducer")
    out = xr.Dataset()
    for name in names:
        x, count = ds[name], ds.get(f"{name}_count")
        if count is not None and reducer in ("max", "min"):
            grouped = x.groupby(month)
            value = grouped.max("time") if reducer == "max" else grouped.min("time")
        elif count is not None:
            w = count.where(x.notnull(), 0).astype("float32")
            total = w.groupby(month).sum("time")
            value = (x.fillna(0) * w).groupby(month).sum("time") / total.where(total > 0)
        else:
            value = x.groupby(month).mean("time")
        out[name] = value.astype("float32")
        out[name].attrs = {**x.attrs, "cell_methods": "time: mean of dekads (interval: 1 month)"}
        if count is not None:
            out[f"{name}_count"] = count.groupby(month).sum("time").astype("int16")
            out[f"{name}_count"].attrs = {"long_name": f"valid observations of {name} in the month"}
    starts = pd.DatetimeIndex(out.time.values)
    coords: dict[str, Any] = {
        "period_end": ("time", (starts + pd.offsets.MonthEnd(0)).values.astype("datetime64[ns]")),
        "period_of_year": ("time", starts.month.values.astype("int16")),
    }
    if "provisional" in ds.coords:
        coords["provisional"] = ("time", ds.provisional.groupby(month).max("time").values)
    if "spatial_ref" in ds.coords:
        coords["spatial_ref"] = ds.spatial_ref
    out = out.assign_coords(coords)
    out.attrs = {**ds.attrs, "period": "month", "from_period": "dekad"}
    return out
