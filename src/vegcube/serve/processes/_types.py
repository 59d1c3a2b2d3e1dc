"""The values a process graph passes around, its error, and helpers on cube dimensions.

Values are Python scalars (``None`` is openEO's null), lists (plain arrays), `ArrayView`
(a labelled array: a cube seen along one of its dimensions, as a callback receives it),
`xr.DataArray` (a raster cube; no-data is NaN) and `SaveResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ...errors import InputError

__all__ = [
    "NEW_ARRAY",
    "ArrayView",
    "ProcessGraphError",
    "SaveResult",
    "bands_dim",
    "drop_dim_coords",
    "label_text",
    "stack_values",
    "temporal_dim",
    "to_datetime64",
]


#: the dimension of an array built in a callback (array_create), renamed by its receiver
NEW_ARRAY = "_array"


class ProcessGraphError(InputError):
    """A process graph that cannot be evaluated: `code` is the openEO error code
    (the API's ``ProcessUnsupported``, ``ProcessParameterRequired``, ``ProcessParameterInvalid``,
    ``ProcessParameterUnsupported``, ``ProcessGraphInvalid``, or a process's own exception
    such as ``DimensionNotAvailable``), `status` the HTTP status the web layer answers with,
    `node` and `argument` where in the graph (``node/child`` inside a callback)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "ProcessGraphInvalid",
        status: int = 400,
        node: str | None = None,
        argument: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.code, self.status, self.node, self.argument = code, status, node, argument
        where = ".".join(p for p in (node, argument) if p)
        super().__init__(message, field=where or None, hint=hint)

    def located(self, node: str, argument: str | None = None) -> ProcessGraphError:
        """The same error, placed at `node` (and `argument`) unless it is placed already."""
        if self.node is not None:
            return self
        return ProcessGraphError(
            self.message,
            code=self.code,
            status=self.status,
            node=node,
            argument=self.argument or argument,
            hint=self.hint,
        )

    def within(self, parent: str) -> ProcessGraphError:
        """The same error, its node named inside the callback of node `parent`."""
        return ProcessGraphError(
            self.message,
            code=self.code,
            status=self.status,
            node=f"{parent}/{self.node}" if self.node else parent,
            argument=self.argument,
            hint=self.hint,
        )


@dataclass(frozen=True)
class SaveResult:
    """What a graph ending in ``save_result`` gives: the data and the format asked for."""

    data: Any
    format: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArrayView:
    """A labelled array per pixel: `data` seen along its dimension `dim` (vectorised: the
    other dimensions are the pixels)."""

    data: xr.DataArray
    dim: str

    @property
    def labels(self) -> list[Any]:
        return list(self.data[self.dim].values) if self.dim in self.data.coords else []

    def __len__(self) -> int:
        return int(self.data.sizes[self.dim])


def drop_dim_coords(da: xr.DataArray, dim: str) -> xr.DataArray:
    """`da` without the coordinates that lay along `dim` (left as scalars by a selection)."""
    gone = [
        c
        for c in da.coords
        if c == dim or (c not in da.dims and da[c].ndim == 0 and c != "spatial_ref")
    ]
    return da.drop_vars(gone)


def is_temporal(da: xr.DataArray, dim: str) -> bool:
    """A dimension of type temporal: its labels are datetimes (labels renamed to text, or
    periods of the year such as ``01``, are not temporal any more)."""
    return dim in da.coords and np.issubdtype(da[dim].dtype, np.datetime64)


def temporal_dim(da: Any, dimension: str | None, *, argument: str = "dimension") -> str:
    """The temporal dimension to work on (`dimension`, or the only one)."""
    if not isinstance(da, xr.DataArray):
        raise ProcessGraphError(
            "expected a raster data cube", code="ProcessParameterInvalid", argument="data"
        )
    if dimension is not None:
        if dimension not in da.dims or not is_temporal(da, dimension):
            raise ProcessGraphError(
                f"no temporal dimension {dimension!r}; the cube has {list(map(str, da.dims))}",
                code="DimensionNotAvailable",
                argument=argument,
            )
        return dimension
    found = [str(d) for d in da.dims if is_temporal(da, str(d))]
    if not found:
        raise ProcessGraphError(
            f"the cube has no temporal dimension (dims {list(map(str, da.dims))})",
            code="DimensionNotAvailable",
            argument=argument,
        )
    if len(found) > 1:
        raise ProcessGraphError(
            f"the cube has several temporal dimensions {found}; name one in `dimension`",
            code="TooManyDimensions",
            argument=argument,
        )
    return found[0]


#: attribute of a temporal dimension's coordinate: the [start, end) the cube was asked for
#: (load_collection, filter_temporal), ISO dates joined by "/", ".." for an open end
EXTENT_ATTR = "temporal_extent"


def with_extent(
    da: xr.DataArray, dim: str, start: np.datetime64 | None, end: np.datetime64 | None
) -> xr.DataArray:
    """`da` remembering that dimension `dim` covers [start, end), narrowed by what it knew
    (labels keep their coordinate's attributes through arithmetic and selections)."""
    old_start, old_end = extent_of(da, dim)
    if start is None or (old_start is not None and old_start > start):
        start = old_start
    if end is None or (old_end is not None and old_end < end):
        end = old_end
    text = "/".join(".." if v is None else str(v) for v in (start, end))
    coord = da[dim].copy()
    coord.attrs[EXTENT_ATTR] = text
    return da.assign_coords({dim: coord})


def extent_of(da: xr.DataArray, dim: str) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    """The [start, end) that `with_extent` recorded on `dim` (None where unknown)."""
    text = da[dim].attrs.get(EXTENT_ATTR)
    if not isinstance(text, str) or "/" not in text:
        return None, None
    a, b = text.split("/", 1)
    return (None if a == ".." else np.datetime64(a)), (None if b == ".." else np.datetime64(b))


def bbox_numbers(extent: Any, *, argument: str, what: str) -> tuple[float, float, float, float]:
    """west, south, east, north of a bounding box as numbers; `ProcessParameterInvalid`
    ("`what` needs numbers …") otherwise."""
    try:
        w, s, e, n = (float(extent[k]) for k in ("west", "south", "east", "north"))
    except (KeyError, TypeError, ValueError):
        raise ProcessGraphError(
            f"{what} needs numbers west, south, east, north",
            code="ProcessParameterInvalid",
            argument=argument,
        ) from None
    return w, s, e, n


def bands_dim(da: xr.DataArray) -> str | None:
    """The dimension of type bands (named ``bands``), if any."""
    return "bands" if "bands" in da.dims else None


def to_datetime64(value: Any) -> np.datetime64:
    """An RFC 3339 date or date-time (any offset) as a naive UTC `datetime64[ns]`."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return np.datetime64(ts.to_datetime64(), "ns")


def stack_values(items: list[Any]) -> ArrayView:
    """Per-pixel values (cubes, numbers, nulls) as one labelled array per pixel, along
    `NEW_ARRAY` (the process receiving it renames that dimension)."""
    template = next(v for v in items if isinstance(v, xr.DataArray))
    pieces = [
        v
        if isinstance(v, xr.DataArray)
        else xr.full_like(template, np.nan if v is None else v, dtype="float64")
        for v in items
    ]
    joined = xr.concat(pieces, dim=NEW_ARRAY, coords="minimal", compat="override")
    return ArrayView(joined.assign_coords({NEW_ARRAY: np.arange(len(pieces))}), NEW_ARRAY)


def label_text(v: Any) -> Any:
    """A dimension label as JSON: datetimes as RFC 3339 (UTC), numpy scalars as Python's."""
    if isinstance(v, np.datetime64):
        return np.datetime_as_string(v, unit="s") + "Z"
    return v.item() if isinstance(v, np.generic) else v
