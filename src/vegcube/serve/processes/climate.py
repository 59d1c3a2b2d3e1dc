"""Climatology: normals per period of the year (``climatological_normal``) and departures
from them (``anomaly``).

Normals are labelled as openEO names periods of the year (``01``–``12`` for months,
``001``–``365`` for days, ``djf``…, ``ndjfma``/``mjjaso``, ``climatology-period``); a cube's
own time labels stay datetimes (period starts), from which `anomaly` finds each normal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._types import ProcessGraphError, temporal_dim
from .cubes import require_cube
from .reducers import reduce_view
from .registry import process
from .temporal import aggregate_groups, next_start, period_start

__all__ = ["period_keys"]

_SEASONS = {
    12: "djf",
    1: "djf",
    2: "djf",
    3: "mam",
    4: "mam",
    5: "mam",
    6: "jja",
    7: "jja",
    8: "jja",
    9: "son",
    10: "son",
    11: "son",
}
_KEYS = {
    "month": [f"{m:02d}" for m in range(1, 13)],
    "day": [f"{d:03d}" for d in range(1, 366)],
    "season": ["djf", "mam", "jja", "son"],
    "tropical-season": ["ndjfma", "mjjaso"],
    "dekad": [f"{d:02d}" for d in range(1, 37)],
    "week": [f"{w:02d}" for w in range(1, 54)],
    "hour": [f"{h:02d}" for h in range(24)],
}


def period_keys(times: Any, period: str) -> list[str]:
    """The openEO name of each time's period of the year (e.g. ``03`` for March)."""
    t = pd.DatetimeIndex(times)
    if period == "month":
        return [f"{m:02d}" for m in t.month]
    if period == "day":  # a 365-day year: 29 February shares 28 February's normal
        leap = t.is_leap_year & (t.dayofyear > 59)
        return [f"{d:03d}" for d in np.where(leap, t.dayofyear - 1, t.dayofyear)]
    if period == "season":
        return [_SEASONS[m] for m in t.month]
    if period == "tropical-season":
        return ["mjjaso" if 5 <= m <= 10 else "ndjfma" for m in t.month]
    if period == "dekad":
        return [
            f"{(m - 1) * 3 + min((d - 1) // 10, 2) + 1:02d}"
            for m, d in zip(t.month, t.day, strict=True)
        ]
    if period == "week":
        return [f"{w:02d}" for w in t.isocalendar().week]
    if period == "hour":
        return [f"{h:02d}" for h in t.hour]
    if period in ("year", "decade", "decade-ad"):
        return [str(s.year) for s in period_start(t, period)]
    raise ProcessGraphError(
        f"period {period!r} has no periods of the year",
        code="ProcessParameterInvalid",
        argument="period",
    )


@process("climatological_normal")
def climatological_normal(
    data: Any, *, period: str, climatology_period: list[Any] | None = None
) -> xr.DataArray:
    """The mean of each period of the year over the years of `climatology_period` (default
    1981–2010); a season counts for the year it ends in, and only when its first month is in
    the data."""
    da = require_cube(data)
    dim = temporal_dim(da, None, argument="data")
    first, last = (int(y) for y in (climatology_period or (1981, 2010)))
    if last < first:
        raise ProcessGraphError(
            f"climatology_period {first}–{last} is empty",
            code="ProcessParameterInvalid",
            argument="climatology_period",
        )
    t = pd.DatetimeIndex(da[dim].values)
    if period == "climatology-period":
        keys, names = ["climatology-period"] * len(t), ["climatology-period"]
        inside = (t.year >= first) & (t.year <= last)
    elif period in ("day", "month", "season", "tropical-season"):
        starts = period_start(t, period)
        ends = pd.DatetimeIndex([next_start(s, period) - pd.Timedelta(1, "ns") for s in starts])
        inside = (ends.year >= first) & (ends.year <= last)
        if period in ("season", "tropical-season") and len(t):
            inside &= starts >= t.min().to_period("M").to_timestamp()
        keys, names = period_keys(t, period), _KEYS[period]
    else:
        raise ProcessGraphError(
            f"period must be day, month, season, tropical-season or climatology-period; got "
            f"{period!r}",
            code="ProcessParameterInvalid",
            argument="period",
        )
    if not np.any(inside):
        raise ProcessGraphError(
            f"no data in the climatology period {first}–{last}",
            code="ProcessParameterInvalid",
            argument="climatology_period",
        )
    key_arr = np.asarray(keys, dtype=object)
    groups = [np.flatnonzero(inside & (key_arr == k)) for k in names]

    def mean(data: Any, context: Any = None) -> xr.DataArray:
        return reduce_view(data, "mean")

    return aggregate_groups(da, dim, groups, np.asarray(names, dtype=object), mean, None)


@process("anomaly")
def anomaly(data: Any, *, normals: Any, period: str) -> xr.DataArray:
    """`data` minus the normal of each label's period of the year."""
    da, norm = require_cube(data), require_cube(normals, "normals")
    dim = temporal_dim(da, None, argument="data")
    ndims = [d for d in norm.dims if d not in da.dims or d == dim]
    if len(ndims) != 1:
        others = [d for d in norm.dims if d not in ("x", "y", "bands")]
        ndims = others if len(others) == 1 else ndims
    if len(ndims) != 1:
        raise ProcessGraphError(
            f"normals need exactly one temporal dimension; they have {list(norm.dims)}",
            code="ProcessParameterInvalid",
            argument="normals",
        )
    ndim = str(ndims[0])
    labels = [str(v) for v in norm[ndim].values]
    if period in ("single-period", "climatology-period"):
        if len(labels) != 1:
            raise ProcessGraphError(
                f"{period}: normals need one label; they have {len(labels)}",
                code="ProcessParameterInvalid",
                argument="normals",
            )
        keys = labels * da.sizes[dim]
    else:
        keys = period_keys(da[dim].values, period)
    norm = norm.assign_coords({ndim: labels}).drop_vars(
        [c for c in norm.coords if c not in norm.dims and c != "spatial_ref"]
    )
    matched = norm.reindex({ndim: keys})
    if ndim != dim:
        matched = matched.rename({ndim: dim})
    matched = matched.assign_coords({dim: da[dim].values})
    if "spatial_ref" in matched.coords:
        matched = matched.drop_vars("spatial_ref")
    return (da - matched).transpose(*da.dims)
