"""Scenes → periods (dekad, month): median, mean, max or min, plus valid-observation counts."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["Period", "Reducer", "composite", "period_index", "periods"]

Period = Literal["dekad", "month"]
Reducer = Literal["median", "mean", "max", "min"]
PERIODS_PER_YEAR = {"dekad": 36, "month": 12}


def _starts(dates: pd.DatetimeIndex, period: Period) -> pd.DatetimeIndex:
    if period == "month":
        return pd.DatetimeIndex(dates.to_period("M").to_timestamp())
    day = np.select([dates.day <= 10, dates.day <= 20], [1, 11], 21)
    return pd.to_datetime({"year": dates.year, "month": dates.month, "day": day}).pipe(
        pd.DatetimeIndex
    )


def period_index(dates: pd.DatetimeIndex, period: Period) -> pd.DataFrame:
    """Per date: its period's start, end (inclusive day) and period of year (1..36 or 1..12)."""
    if period not in PERIODS_PER_YEAR:
        raise ValueError(f"period must be one of {list(PERIODS_PER_YEAR)}; got {period!r}")
    start = _starts(pd.DatetimeIndex(dates).normalize(), period)
    if period == "month":
        end = start + pd.offsets.MonthEnd(0)
        poy = start.month
    else:
        third = (start.day - 1) // 10
        end = pd.DatetimeIndex(
            np.where(third < 2, start + pd.Timedelta(days=9), start + pd.offsets.MonthEnd(0))
        )
        poy = (start.month - 1) * 3 + third + 1
    return pd.DataFrame(
        {"start": start, "end": end, "period_of_year": np.asarray(poy, dtype="int16")}
    )


def periods(start: dt.date | str, end: dt.date | str, period: Period) -> pd.DataFrame:
    """Every period overlapping [start, end], in order (columns start, end, period_of_year)."""
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    return period_index(days, period).drop_duplicates("start").reset_index(drop=True)


def composite(
    ds: xr.Dataset,
    *,
    period: Period = "dekad",
    reducer: Reducer = "median",
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
        raise ValueError(f"reducer must be median, mean, max or min; got {reducer!r}")
    dates = pd.DatetimeIndex(ds[date_coord].values if date_coord in ds.coords else ds.time.values)
    keys = period_index(dates, period)["start"].values
    # one chunk per period lets each period reduce in place (no cross-chunk shuffle)
    if ds.chunks:
        sizes = tuple(pd.Series(keys).groupby(keys, sort=False).size())
        ds = ds.chunk({"time": sizes})
    ds = ds.drop_vars([c for c in ds.coords if c not in ds.dims and c != "spatial_ref"])
    ds = ds.assign_coords(_period=("time", keys))
    grouped = ds.groupby("_period")
    reduced = getattr(grouped, reducer)(skipna=True)
    counts = ds.notnull().groupby("_period").sum().astype("int16")
    out = xr.Dataset(coords={"_period": reduced["_period"]})
    for name in ds.data_vars:
        out[name] = reduced[name].astype("float32")
        out[name].attrs = {
            **ds[name].attrs,
            "cell_methods": f"time: {reducer} (interval: 1 {period})",
        }
        out[f"{name}_count"] = counts[name]
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
