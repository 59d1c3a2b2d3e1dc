"""Array processes: elements, joins, labels, order and linear interpolation, on plain arrays
(``None`` = null) and on labelled arrays per pixel (`ArrayView`)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import xarray as xr

from ._types import (
    ArrayView,
    ProcessGraphError,
    drop_dim_coords,
    label_text,
    stack_values,
    to_datetime64,
)
from .math import scalar
from .reducers import single_chunk
from .registry import process

__all__: list[str] = []


def _element_view(view: ArrayView, index: int | None, label: Any) -> xr.DataArray | None:
    da, dim = view.data, view.dim
    if index is not None:
        if not 0 <= index < da.sizes[dim]:
            return None
        return drop_dim_coords(da.isel({dim: index}), dim)
    labels = view.labels
    if labels and np.issubdtype(da[dim].dtype, np.datetime64) and isinstance(label, str):
        label = to_datetime64(label)
    if label not in labels:
        return None
    return drop_dim_coords(da.isel({dim: labels.index(label)}), dim)


@process("array_element")
def array_element(
    data: Any, *, index: int | None = None, label: Any = None, return_nodata: bool = False
) -> Any:
    if index is None and label is None:
        raise ProcessGraphError("give index or label", code="ArrayElementParameterMissing")
    if index is not None and label is not None:
        raise ProcessGraphError(
            "give index or label, not both", code="ArrayElementParameterConflict"
        )
    if isinstance(data, ArrayView):
        out = _element_view(data, index, label)
        if out is None and return_nodata:
            return drop_dim_coords(
                xr.full_like(data.data.isel({data.dim: 0}), np.nan, dtype="float64"), data.dim
            )
    elif index is not None and 0 <= index < len(data):
        return data[index]
    else:
        out = None  # out of range, or a label asked of a plain array (it has none)
    if out is None:
        if return_nodata:
            return None
        where = f"index {index}" if index is not None else f"label {label!r}"
        raise ProcessGraphError(
            f"the array has no element at {where}", code="ArrayElementNotAvailable"
        )
    return out


def _as_view(value: Any, dim: str) -> xr.DataArray:
    """A labelled array (or a per-pixel value) along `dim` with positional labels."""
    if isinstance(value, ArrayView):
        da = value.data.rename({value.dim: dim}) if value.dim != dim else value.data
        return da.drop_vars([c for c in da.coords if dim in da[c].dims])
    if isinstance(value, xr.DataArray):
        return value.expand_dims(dim)
    raise ProcessGraphError(
        "cannot join a plain array with a labelled one", code="ProcessParameterInvalid"
    )


@process("array_concat")
def array_concat(array1: Any, array2: Any) -> Any:
    views = [a for a in (array1, array2) if isinstance(a, ArrayView)]
    if not views or any(isinstance(a, list) for a in (array1, array2)):
        return _as_list(array1) + _as_list(array2)
    dim = views[0].dim
    joined = xr.concat([_as_view(array1, dim), _as_view(array2, dim)], dim=dim)
    return ArrayView(joined.assign_coords({dim: np.arange(joined.sizes[dim])}), dim)


def _as_list(value: Any) -> list[Any]:
    """A plain array, or a one-dimensional labelled array's values (NaN → null)."""
    if isinstance(value, ArrayView):
        if value.data.ndim != 1:
            raise ProcessGraphError(
                "cannot join a plain array with a labelled one per pixel",
                code="ProcessParameterInvalid",
            )
        return [
            None if isinstance(v, float) and np.isnan(v) else scalar(v)
            for v in value.data.values.tolist()
        ]
    return list(value)


@process("array_create")
def array_create(data: list[Any] | None = None, repeat: int = 1) -> Any:
    """An array of `data` repeated; with per-pixel values (cubes) a labelled array per pixel
    (its dimension is named by the process that receives it, e.g. apply_dimension)."""
    items = list(data or []) * repeat
    return stack_values(items) if any(isinstance(v, xr.DataArray) for v in items) else items


@process("order")
def order(data: Any, *, asc: bool = True, nodata: bool | None = None) -> Any:
    """Positions that sort the array (stable); nulls first (nodata false), last (true) or
    left out (null; on cubes they go last)."""
    if isinstance(data, ArrayView):
        da, dim = single_chunk(data.data, data.dim), data.dim
        key = da if asc else -da
        out = xr.apply_ufunc(
            lambda a: np.argsort(a, axis=-1, kind="stable"),
            key,
            input_core_dims=[[dim]],
            output_core_dims=[[dim]],
            dask="parallelized",
            output_dtypes=["int64"],
        )
        return ArrayView(
            out.transpose(*da.dims).assign_coords({dim: np.arange(da.sizes[dim])}), dim
        )
    idx = [i for i, v in enumerate(data) if v is not None]
    ranked = sorted(idx, key=lambda i: data[i], reverse=not asc)
    if not asc:  # stable among equal values in descending order too
        ranked = (
            sorted(idx, key=lambda i: (-data[i], i))
            if all(isinstance(data[i], (int, float)) for i in idx)
            else ranked
        )
    nulls = [i for i, v in enumerate(data) if v is None]
    if nodata is None:
        return ranked
    return ranked + nulls if nodata else nulls + ranked


@process("array_labels")
def array_labels(data: Any) -> list[Any]:
    if not isinstance(data, ArrayView):
        return list(range(len(data)))  # a plain array: its indices
    return [label_text(v) for v in data.labels]


def _interpolate(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Gaps (NaN) between two valid values filled linearly along `at`; ends stay gaps."""
    out = values.astype("float64").copy()
    valid = np.flatnonzero(~np.isnan(out))
    for lo, hi in itertools.pairwise(valid):
        if hi - lo > 1:
            g = (at[lo + 1 : hi] - at[lo]) / (at[hi] - at[lo])
            with np.errstate(invalid="ignore"):
                out[lo + 1 : hi] = (1 - g) * out[lo] + g * out[hi]  # exact at ±inf
    return out


@process("array_interpolate_linear")
def array_interpolate_linear(data: Any) -> Any:
    """No-data (and NaN) between two numbers filled linearly, by the labels where they are
    numbers or dates, else by position; no extrapolation."""
    if isinstance(data, ArrayView):
        da, dim = single_chunk(data.data, data.dim), data.dim
        coord = da[dim].values if dim in da.coords else np.arange(da.sizes[dim])
        if np.issubdtype(coord.dtype, np.datetime64):
            at = (coord - coord[0]) / np.timedelta64(1, "s")
        elif np.issubdtype(coord.dtype, np.number):
            at = coord.astype("float64")
        else:
            at = np.arange(len(coord), dtype="float64")
        out = xr.apply_ufunc(
            lambda a: np.apply_along_axis(_interpolate, -1, a, at),
            da.astype("float64"),
            input_core_dims=[[dim]],
            output_core_dims=[[dim]],
            dask="parallelized",
            output_dtypes=["float64"],
        )
        return ArrayView(out.transpose(*da.dims), dim)
    values = np.asarray([np.nan if v is None else v for v in data], dtype="float64")
    filled = _interpolate(values, np.arange(len(values), dtype="float64"))
    return [
        None if v is None and np.isnan(f) else scalar(f) for v, f in zip(data, filled, strict=True)
    ]
