"""vegcube's chain as openEO processes: composites per dekad or month, gap filling, drought
indicators against a reference. Thin wrappers: the work is `vegcube.composite.composite`,
`vegcube.gapfill.fill`, `vegcube.reference.compute` and `vegcube.indicators.compute`.

Cubes go in and out as openEO cubes (``t`` = period start, ``bands``); inside they become the
chain's datasets (``time``, one variable per band).
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from ... import composite as _composite
from ... import gapfill as _gapfill
from ... import indicators as _indicators
from ... import reference as _reference
from ._types import ProcessGraphError, temporal_dim
from .cubes import require_cube
from .registry import process

__all__ = ["from_dataset", "to_dataset"]

_SINGLE = "value"  # the variable name of a cube without bands


def to_dataset(da: xr.DataArray, dim: str) -> xr.Dataset:
    """An openEO cube as a chain dataset: ``time`` for `dim`, one variable per band."""
    da = da.rename({dim: "time"}) if dim != "time" else da
    if "bands" in da.dims:
        return da.to_dataset(dim="bands")
    return da.to_dataset(name=_SINGLE)


def from_dataset(ds: xr.Dataset, names: list[str], dim: str, has_bands: bool) -> xr.DataArray:
    """Chain variables `names` back as an openEO cube (`dim` for ``time``)."""
    if has_bands:
        out = ds[names].to_dataarray(dim="bands")
        out = out.assign_coords(bands=names)
    else:
        out = ds[names[0]]
    out = out.rename({"time": dim}) if dim != "time" else out
    order = [d for d in (dim, "bands", "y", "x") if d in out.dims]
    return out.transpose(*order, ...)


def _names(ds: xr.Dataset) -> list[str]:
    return [str(v) for v in ds.data_vars]


@process("vegcube_composite")
def vegcube_composite(
    data: Any,
    *,
    period: str = "dekad",
    reducer: str = "median",
    with_count: bool = False,
    dimension: str | None = None,
) -> xr.DataArray:
    """One image per dekad or month (labels = period start) by median, mean, max or min of
    the valid observations; `with_count` adds a band ``<band>_count`` per band."""
    da = require_cube(data)
    dim = temporal_dim(da, dimension)
    _one_of(period, _composite.PERIODS_PER_YEAR, "period")
    _one_of(reducer, _composite.STATISTICS, "reducer")
    ds = to_dataset(da.astype("float32") if da.dtype.kind != "f" else da, dim)
    names = _names(ds)
    out = _composite.composite(ds, period=period, reducer=reducer)  # type: ignore[arg-type]
    keep = names + [f"{n}_count" for n in names] if with_count else names
    if with_count and "bands" not in da.dims:
        raise ProcessGraphError(
            "with_count needs a cube with bands",
            code="ProcessParameterInvalid",
            argument="with_count",
        )
    out = out.assign({f"{n}_count": out[f"{n}_count"].astype("float32") for n in names})
    return from_dataset(out, keep, dim, "bands" in da.dims).assign_attrs(
        period=period, reducer=reducer
    )


@process("vegcube_gapfill")
def vegcube_gapfill(
    data: Any,
    *,
    method: str = "harmonic",
    parameters: dict[str, Any] | None = None,
    dimension: str | None = None,
) -> xr.DataArray:
    """Each band's gaps (NaN) filled along time by `method` (harmonic, hants, whittaker,
    linear, spatiotemporal) with its `parameters`."""
    da = require_cube(data)
    dim = temporal_dim(da, dimension)
    _one_of(method, _gapfill.METHODS, "method")
    ds = to_dataset(da, dim)
    filled = {}
    for name in _names(ds):
        try:
            filled[name] = _gapfill.fill(ds[name], method=method, **(parameters or {}))["filled"]
        except (TypeError, ValueError) as exc:  # unknown parameter / bad value, named by gapfill
            raise ProcessGraphError(
                str(exc), code="ProcessParameterInvalid", argument="parameters"
            ) from None
    return from_dataset(xr.Dataset(filled), list(filled), dim, "bands" in da.dims)


@process("vegcube_drought_indicators")
def vegcube_drought_indicators(
    data: Any,
    *,
    reference_start: str,
    reference_end: str,
    period: str | None = None,
    indicators: list[str] | None = None,
    min_years: int = 3,
    dimension: str | None = None,
) -> xr.DataArray:
    """Indicators (vci, zscore, anomaly, pct_normal, percentile, drought_class) of each period
    against the same period of the year over the reference years; bands
    ``<band>_<indicator>``."""
    da = require_cube(data)
    dim = temporal_dim(da, dimension)
    period = period or da.attrs.get("period")
    if period not in _composite.PERIODS_PER_YEAR:
        raise ProcessGraphError(
            f"period must be one of {list(_composite.PERIODS_PER_YEAR)} (the composites' "
            f"period); got {period!r}",
            code="ProcessParameterInvalid",
            argument="period",
        )
    chosen = list(indicators or ("vci", "zscore", "anomaly"))
    unknown = [i for i in chosen if i not in _indicators.INDICATORS or i in ("tci", "vhi")]
    if unknown:
        raise ProcessGraphError(
            f"unknown indicators {unknown}; choose from vci, zscore, anomaly, pct_normal, "
            "percentile, drought_class",
            code="ProcessParameterInvalid",
            argument="indicators",
        )
    ds = to_dataset(da.astype("float32") if da.dtype.kind != "f" else da, dim)
    names = _names(ds)
    table = _composite.period_index(ds["time"].to_index(), period)  # type: ignore[arg-type]
    ds = ds.assign_coords(period_of_year=("time", table["period_of_year"].values))
    ds.attrs["period"] = period
    ref = _reference.compute(ds, start=reference_start, end=reference_end, variables=names)
    out = _indicators.compute(ds, ref, variables=names, indicators=chosen, min_years=min_years)
    bands = [f"{n}_{i}" for n in names for i in chosen]
    result = out[bands].astype("float32")
    return from_dataset(result, bands, dim, True).drop_vars("period_of_year", errors="ignore")


def _one_of(value: str, choices: Any, argument: str) -> None:
    """`ProcessParameterInvalid` unless `value` is one of `choices`, naming them."""
    if value not in choices:
        raise ProcessGraphError(
            f"{argument} must be one of {list(choices)}; got {value!r}",
            code="ProcessParameterInvalid",
            argument=argument,
        )
