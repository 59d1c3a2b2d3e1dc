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
    period = comp.attrs.get("period", "dekad")
    poy = np.asarray(comp["period_of_year"].values)[inside]
    where = np.flatnonzero(inside)
    # float64 statistics: a float32 std of near-constant series loses digits z-scores need
    data = (
        comp[names]
        .drop_vars([c for c in comp.coords if c not in comp.dims and c != "spatial_ref"])
        .astype("float64")
    )
    every = np.arange(1, PERIODS_PER_YEAR.get(period, 36) + 1, dtype="int16")
    # one small reduction per period of year over its own time steps: each output chunk
    # reads only the few chunks (years) it needs, so memory stays bounded by a plane × years
    per_poy = []
    for p in every:
        sub = data.isel(time=where[poy == p])
        if sub.sizes["time"] == 0:
            sub = data.isel(time=[0]).where(False)
        per_poy.append(
            xr.Dataset(
                {
                    **{f"{n}_mean": sub[n].mean("time") for n in names},
                    **{f"{n}_std": sub[n].std("time", ddof=1) for n in names},
                    **{f"{n}_min": sub[n].min("time") for n in names},
                    **{f"{n}_max": sub[n].max("time") for n in names},
                    **{f"{n}_count": sub[n].count("time") for n in names},
                }
            )
        )
    out = xr.concat(per_poy, dim=pd.Index(every, name="period_of_year"))
    for name in names:
        for stat in STATS:
            key = f"{name}_{stat}"
            out[key] = out[key].astype("int16" if stat == "count" else "float32")
            out[key].attrs = {"long_name": f"reference {stat} of {name} per {period} of year"}
    out.attrs = {
        "period": period,
        "reference_start": str(pd.Timestamp(start).date()),
        "reference_end": str(pd.Timestamp(end).date()),
    }
    return out
