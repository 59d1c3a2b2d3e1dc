"""Years of periods → per period-of-year mean, std, min, max and count of years."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .composite import PERIODS_PER_YEAR

__all__ = ["STATS", "compute"]

STATS = ("mean", "std", "min", "max", "count")


def compute(
    comp: xr.Dataset,
    *,
    start: dt.date | str,
    end: dt.date | str,
    variables: Sequence[str] | None = None,
) -> xr.Dataset:
    """Reference statistics of each variable over the periods that start in [start, end].

    Output dims (period_of_year, y, x) with `<var>_mean`, `_std` (sample, ddof=1), `_min`,
    `_max` and `_count` (number of years with a value). Every period of the year is present,
    NaN (count 0) where the reference has none.
    """
    names = (
        list(variables)
        if variables is not None
        else [str(v) for v in comp.data_vars if not str(v).endswith("_count")]
    )
    times = pd.DatetimeIndex(comp.time.values)
    inside = (times >= pd.Timestamp(start)) & (times <= pd.Timestamp(end))
    if not inside.any():
        raise ValueError(f"reference {start}..{end}: no period of the data lies inside it")
    # coordinates read from Zarr are lazy; grouping needs their values
    comp = comp.assign_coords(period_of_year=("time", np.asarray(comp["period_of_year"].values)))
    ref = comp[names].isel(time=np.flatnonzero(inside))
    ref = ref.drop_vars(
        [c for c in ref.coords if c not in ref.dims and c not in ("spatial_ref", "period_of_year")]
    )
    period = comp.attrs.get("period", "dekad")
    grouped = ref.groupby("period_of_year")
    stats = {
        "mean": grouped.mean(skipna=True),
        "std": grouped.std(skipna=True, ddof=1),
        "min": grouped.min(skipna=True),
        "max": grouped.max(skipna=True),
        "count": ref.notnull().groupby("period_of_year").sum(),
    }
    out = xr.Dataset()
    for name in names:
        for stat, values in stats.items():
            da = values[name]
            da = da.astype("int16") if stat == "count" else da.astype("float32")
            da.attrs = {"long_name": f"reference {stat} of {name} per {period} of year"}
            out[f"{name}_{stat}"] = da
    every = np.arange(1, PERIODS_PER_YEAR.get(period, 36) + 1, dtype="int16")
    out = out.reindex(period_of_year=every)
    for name in names:
        out[f"{name}_count"] = out[f"{name}_count"].fillna(0).astype("int16")
    out.attrs = {
        "period": period,
        "reference_start": str(pd.Timestamp(start).date()),
        "reference_end": str(pd.Timestamp(end).date()),
    }
    return out
