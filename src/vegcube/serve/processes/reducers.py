"""Reducers: on plain arrays (``None`` = null, distinct from NaN) and on labelled arrays
(`ArrayView`: a cube along one dimension, reduced for every pixel at once).

``ignore_nodata`` skips nulls (NaN in cubes); without it a null gives null.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from ._types import ArrayView, ProcessGraphError, drop_dim_coords, stack_values
from .math import scalar
from .registry import process

__all__ = ["reduce_view", "single_chunk"]


def _values(data: list[Any], ignore_nodata: bool) -> np.ndarray | None:
    """The numbers of a plain array (nulls dropped), or None if a null must give null."""
    if not ignore_nodata and any(v is None for v in data):
        return None
    kept = [v for v in data if v is not None]
    return np.asarray(kept, dtype="float64") if kept else None


def single_chunk(da: xr.DataArray, dim: str) -> xr.DataArray:
    return da.chunk({dim: -1}) if da.chunks is not None else da


def reduce_view(view: ArrayView, how: str, *, ignore_nodata: bool = True) -> xr.DataArray:
    """`view` reduced along its dimension by `how` (mean, median, min, max, sum, sd, variance)."""
    da, dim = view.data, view.dim
    if da.dtype == bool:
        da = da.astype("int8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if how == "median":
            out = single_chunk(da, dim).median(dim, skipna=ignore_nodata)
        elif how in ("sd", "variance"):
            fn = da.std if how == "sd" else da.var
            out = fn(dim, ddof=1, skipna=ignore_nodata)
        elif how in ("sum", "product"):
            out = getattr(da, how)(dim, skipna=ignore_nodata, min_count=1)
        else:
            out = getattr(da, how)(dim, skipna=ignore_nodata)
    return drop_dim_coords(out, dim)


def _reducer(pid: str, how: str, fn: Callable[[np.ndarray], Any]) -> None:
    def impl(data: Any, ignore_nodata: bool = True) -> Any:
        if isinstance(data, ArrayView):
            return reduce_view(data, how, ignore_nodata=ignore_nodata)
        if isinstance(data, xr.DataArray):
            raise ProcessGraphError(
                f"{pid}: expected an array; got a data cube (use reduce_dimension)",
                code="ProcessParameterInvalid",
                argument="data",
            )
        if any(isinstance(v, xr.DataArray) for v in data):  # per-pixel values, e.g. sum([x, y])
            return reduce_view(stack_values(list(data)), how, ignore_nodata=ignore_nodata)
        values = _values(list(data), ignore_nodata)
        if values is None:
            return None
        with np.errstate(all="ignore"):
            return scalar(fn(values))

    impl.__name__ = pid
    process(pid)(impl)


_reducer("mean", "mean", np.mean)
_reducer("median", "median", np.median)
_reducer("min", "min", np.min)
_reducer("max", "max", np.max)
_reducer("sum", "sum", np.sum)
_reducer("product", "product", np.prod)
_reducer("sd", "sd", lambda v: np.std(v, ddof=1) if len(v) > 1 else np.nan)
_reducer("variance", "variance", lambda v: np.var(v, ddof=1) if len(v) > 1 else np.nan)


@process("count")
def count(data: Any, *, condition: Any = None, context: Any = None) -> Any:
    """Valid elements (condition null), all (true), or those where the callback is true."""
    if isinstance(data, ArrayView):
        da, dim = data.data, data.dim
        if condition is True:
            return xr.full_like(da.isel({dim: 0}, drop=True), da.sizes[dim], dtype="int64")
        keep = condition(element=da, context=context) if callable(condition) else da.notnull()
        return drop_dim_coords(keep.sum(dim), dim)
    if condition is True:
        return len(data)
    if callable(condition):
        return sum(
            1 for v in data if v is not None and condition(element=v, context=context) is True
        )
    return sum(1 for v in data if v is not None and not (isinstance(v, float) and np.isnan(v)))


@process("extrema")
def extrema(data: Any, *, ignore_nodata: bool = True) -> Any:
    """[min, max]."""
    if isinstance(data, ArrayView):
        lo, hi = (reduce_view(data, how, ignore_nodata=ignore_nodata) for how in ("min", "max"))
        joined = xr.concat([lo, hi], dim=data.dim, coords="minimal", compat="override")
        return ArrayView(joined.assign_coords({data.dim: [0, 1]}), data.dim)
    values = _values(list(data), ignore_nodata)
    if values is None:
        return [None, None]
    return [scalar(values.min()), scalar(values.max())]


@process("first")
def first(data: Any, *, ignore_nodata: bool = True) -> Any:
    return _end(data, ignore_nodata, last=False)


@process("last")
def last(data: Any, *, ignore_nodata: bool = True) -> Any:
    return _end(data, ignore_nodata, last=True)


def _end(data: Any, ignore_nodata: bool, *, last: bool) -> Any:
    if isinstance(data, ArrayView):
        da, dim = data.data, data.dim
        if ignore_nodata:
            da = single_chunk(da, dim)
            da = da.ffill(dim) if last else da.bfill(dim)
        return drop_dim_coords(da.isel({dim: -1 if last else 0}), dim)
    items = list(reversed(data)) if last else list(data)
    if ignore_nodata:
        items = [v for v in items if v is not None]
    return items[0] if items else None


@process("quantiles")
def quantiles(
    data: Any, *, probabilities: Any = None, q: int | None = None, ignore_nodata: bool = True
) -> Any:
    """Quantiles (type 7, numpy's linear) at `probabilities`, or the `q`-quantiles."""
    count_ = (
        probabilities
        if isinstance(probabilities, int) and not isinstance(probabilities, bool)
        else q
    )
    if count_ is not None:
        probs = [i / count_ for i in range(1, count_)]
    elif probabilities is not None:
        probs = list(probabilities)
    else:
        raise ProcessGraphError("give probabilities", code="QuantilesParameterMissing")
    if isinstance(data, ArrayView):
        da, dim = single_chunk(data.data, data.dim), data.dim
        out = da.quantile(probs, dim=dim, skipna=ignore_nodata).rename({"quantile": dim})
        out = out.assign_coords({dim: np.arange(len(probs))}).transpose(*data.data.dims)
        return ArrayView(out, dim)
    values = _values(list(data), ignore_nodata)
    if values is None or not len(values):
        return [None] * len(probs)
    if np.isnan(values).any():
        return [float("nan")] * len(probs)
    return [scalar(_type7(np.sort(values), p)) for p in probs]


def _type7(ordered: np.ndarray, p: float) -> float:
    """Hyndman–Fan type 7 quantile of sorted values (exact at ±inf, unlike a − b forms)."""
    h = (len(ordered) - 1) * p
    lo, hi = int(np.floor(h)), int(np.ceil(h))
    g = h - lo
    if g == 0 or ordered[lo] == ordered[hi]:
        return float(ordered[lo])
    return float((1 - g) * ordered[lo] + g * ordered[hi])


def _logical(data: Any, ignore_nodata: bool, *, want: bool) -> Any:
    """any (want=True) / all (want=False) with openEO's truth tables for null. On cubes the
    result is boolean, except with ignore_nodata false over values that may be null: then
    null is NaN (float 1/0/NaN)."""
    if isinstance(data, ArrayView):
        da, dim = data.data, data.dim
        flags = da if da.dtype == bool else (da != 0).where(da.notnull())
        if da.dtype == bool or ignore_nodata:
            flags = flags.fillna(not want).astype(bool) if da.dtype != bool else flags
            out = flags.any(dim) if want else flags.all(dim)
        else:  # a null decides unless a deciding value is present
            decided = (flags == want).any(dim)
            unknown = flags.isnull().any(dim)
            out = xr.where(decided, want, xr.where(unknown, np.nan, not want))
        return drop_dim_coords(out, dim)
    values = list(data)
    if want in values:
        return want
    if not ignore_nodata and any(v is None for v in values):
        return None
    return not want


@process("any")
def any_(data: Any, *, ignore_nodata: bool = True) -> Any:
    """True if a value is true (empty: false)."""
    return _logical(data, ignore_nodata, want=True)


@process("all")
def all_(data: Any, *, ignore_nodata: bool = True) -> Any:
    """True unless a value is false (empty: true)."""
    return _logical(data, ignore_nodata, want=False)
