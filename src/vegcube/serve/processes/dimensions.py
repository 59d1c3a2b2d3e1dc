"""Dimension edits: add, drop and rename dimensions, list, filter and rename labels, merge
cubes; date_between (for conditions on temporal labels)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ._types import ProcessGraphError, drop_dim_coords, label_text, to_datetime64
from .cubes import require_cube
from .cubes import require_dimension as _dimension
from .registry import process

__all__: list[str] = []


@process("add_dimension")
def add_dimension(data: Any, *, name: str, label: Any, type: str = "other") -> xr.DataArray:
    da = require_cube(data)
    if name in da.dims:
        raise ProcessGraphError(
            f"dimension {name!r} exists", code="DimensionExists", argument="name"
        )
    value = to_datetime64(label) if type == "temporal" else label
    return da.expand_dims({name: [value]})


@process("drop_dimension")
def drop_dimension(data: Any, *, name: str) -> xr.DataArray:
    da = require_cube(data)
    dim = _dimension(da, name)
    if da.sizes[dim] > 1:
        raise ProcessGraphError(
            f"dimension {name!r} has {da.sizes[dim]} labels; only one can be dropped",
            code="DimensionLabelCountMismatch",
            argument="name",
        )
    return drop_dim_coords(da.isel({dim: 0}), dim)


@process("rename_dimension")
def rename_dimension(data: Any, *, source: str, target: str) -> xr.DataArray:
    da = require_cube(data)
    if source not in da.dims:
        raise ProcessGraphError(
            f"no dimension {source!r}", code="DimensionNotAvailable", argument="source"
        )
    if target in da.dims:
        raise ProcessGraphError(
            f"dimension {target!r} exists", code="DimensionExists", argument="target"
        )
    return da.rename({source: target})


@process("dimension_labels")
def dimension_labels(data: Any, *, dimension: str) -> list[Any]:
    da = require_cube(data)
    return [label_text(v) for v in da[_dimension(da, dimension)].values]


@process("rename_labels")
def rename_labels(
    data: Any, *, dimension: str, target: list[Any], source: list[Any] | None = None
) -> xr.DataArray:
    da = require_cube(data)
    dim = _dimension(da, dimension)
    current = [label_text(v) for v in da[dim].values]
    if not source:
        if current != list(range(len(current))):
            raise ProcessGraphError(
                f"the labels of {dim!r} are not enumerated (0, 1, …); give source",
                code="LabelsNotEnumerated",
                argument="source",
            )
        if len(target) > len(current):
            raise ProcessGraphError(
                f"{len(target)} targets for {len(current)} labels", code="LabelMismatch"
            )
        source = current[: len(target)]
    if len(source) != len(target):
        raise ProcessGraphError("source and target differ in length", code="LabelMismatch")
    missing = [s for s in source if s not in current]
    if missing:
        raise ProcessGraphError(
            f"labels {missing} are not in dimension {dim!r}", code="LabelNotAvailable"
        )
    mapping = dict(zip(source, target, strict=True))
    new = [mapping.get(v, v) for v in current]
    if len(set(map(str, new))) != len(new):
        raise ProcessGraphError("the new labels are not unique", code="LabelExists")
    return da.assign_coords(
        {dim: np.asarray(new, dtype=object if any(isinstance(v, str) for v in new) else None)}
    )


@process("merge_cubes")
def merge_cubes(
    cube1: Any, cube2: Any, overlap_resolver: Any = None, context: Any = None
) -> xr.DataArray:
    """The union of two cubes; overlapping values resolved by the callback (x = cube1's,
    y = cube2's) or refused without one."""
    a, b = require_cube(cube1, "cube1"), require_cube(cube2, "cube2")
    if set(a.dims) != set(b.dims):
        raise ProcessGraphError(
            f"dimensions differ: {a.dims} and {b.dims}", code="IncompatibleDataCubes"
        )
    b = b.transpose(*a.dims)
    differing = [d for d in a.dims if not np.array_equal(a[d].values, b[d].values)]
    if not differing:
        if overlap_resolver is None:
            raise ProcessGraphError(
                "the cubes overlap; give an overlap_resolver", code="OverlapResolverMissing"
            )
        return overlap_resolver(x=a, y=b, context=context)
    if len(differing) == 1 and not set(a[differing[0]].values.tolist()) & set(
        b[differing[0]].values.tolist()
    ):
        return xr.concat([a, b], dim=differing[0])
    if overlap_resolver is None:
        raise ProcessGraphError(
            "the cubes overlap; give an overlap_resolver", code="OverlapResolverMissing"
        )
    x, y = xr.align(a, b, join="outer")
    both = x.notnull() & y.notnull()
    return xr.where(both, overlap_resolver(x=x, y=y, context=context), x.fillna(y))


@process("filter_labels")
def filter_labels(
    data: Any, *, condition: Any, dimension: str, context: Any = None
) -> xr.DataArray:
    """The labels of `dimension` for which the condition is true (temporal labels are given
    to it as RFC 3339 strings)."""
    da = require_cube(data)
    dim = _dimension(da, dimension)
    keep = [
        i
        for i, label in enumerate(da[dim].values)
        if condition(value=label_text(label), context=context) is True
    ]
    return da.isel({dim: keep})


def _instant(value: str) -> Any:
    """A date, date-time (as UTC) or time of day, comparable with others of its kind."""
    if len(value) == 8 and value.count(":") == 2:
        return value  # HH:MM:SS compares as text
    return to_datetime64(value)


@process("date_between")
def date_between(x: Any, *, min: str, max: str, exclude_max: bool = False) -> Any:
    """`x` in [min, max] (or [min, max) with `exclude_max`); null gives null."""
    if x is None:
        return None
    try:
        t, lo, hi = _instant(x), _instant(min), _instant(max)
    except (ValueError, TypeError):
        raise ProcessGraphError(
            f"not dates or times of the same kind: {x!r}, {min!r}, {max!r}",
            code="ProcessParameterInvalid",
        ) from None
    if type(t) is not type(lo) or type(lo) is not type(hi):
        return False
    return bool(lo <= t and (t < hi if exclude_max else t <= hi))
