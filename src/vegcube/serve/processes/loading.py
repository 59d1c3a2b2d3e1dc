"""``load_collection`` (arguments checked here, data from the backend) and ``save_result``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import xarray as xr

from ._types import ProcessGraphError, SaveResult, bbox_numbers, is_temporal, with_extent
from .cubes import temporal_extent as _temporal_extent
from .registry import process

__all__ = ["PropertyFilter"]

_COLLECTION_ID = re.compile(r"[\w\-.~/]+")
_OPS = frozenset({"eq", "neq", "lt", "lte", "gt", "gte"})


@dataclass(frozen=True)
class PropertyFilter:
    """One `properties` condition of load_collection: call it with a property's value
    (→ bool); `comparison` gives ``(op, value)`` (op in eq, neq, lt, lte, gt, gte) when the
    condition is one such comparison of the value with a constant, for a catalog query."""

    callback: Any

    def __call__(self, value: Any) -> bool:
        return self.callback(value=value) is True

    @property
    def comparison(self) -> tuple[str, Any] | None:
        single = self.callback.single_process()
        if single is None or single[0] not in _OPS:
            return None
        pid, args = single
        x, y = args.get("x"), args.get("y")
        if x == {"from_parameter": "value"} and not isinstance(y, Mapping):
            return pid, y
        if y == {"from_parameter": "value"} and not isinstance(x, Mapping):
            flipped = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte"}.get(pid, pid)
            return flipped, x
        return None


def _spatial_extent(extent: Any) -> dict[str, Any] | None:
    if extent is None:
        return None
    if not isinstance(extent, Mapping):
        raise ProcessGraphError(
            "spatial_extent is a bounding box or GeoJSON",
            code="ProcessParameterInvalid",
            argument="spatial_extent",
        )
    if "type" in extent:  # GeoJSON: the backend checks its geometry
        return dict(extent)
    w, s, e, n = bbox_numbers(extent, argument="spatial_extent", what="a bounding box")
    if w > e or s > n:
        raise ProcessGraphError(
            f"empty bounding box (west {w} > east {e} or south {s} > north {n})",
            code="ProcessParameterInvalid",
            argument="spatial_extent",
        )
    return dict(extent)


@process("load_collection", backend=True)
def load_collection(
    id: str,
    spatial_extent: Any,
    temporal_extent: Any,
    bands: list[str] | None = None,
    properties: dict[str, Any] | None = None,
    _backend: Any = None,
) -> xr.DataArray:
    """The collection `id` from the backend, restricted by the extents, bands and properties."""
    if not isinstance(id, str) or not _COLLECTION_ID.fullmatch(id):
        raise ProcessGraphError(
            f"{id!r} is not a collection id", code="ProcessParameterInvalid", argument="id"
        )
    if _backend is None:
        raise ProcessGraphError(
            "no backend to load collections from", code="CollectionNotFound", status=404
        )
    if temporal_extent is not None:
        _check_temporal(temporal_extent)
    if bands is not None and (not bands or not all(isinstance(b, str) for b in bands)):
        raise ProcessGraphError(
            "bands is a non-empty list of band names",
            code="ProcessParameterInvalid",
            argument="bands",
        )
    filters = None
    if properties:
        if not all(callable(c) for c in properties.values()):
            raise ProcessGraphError(
                "each property needs a condition (a process graph of `value`)",
                code="ProcessParameterInvalid",
                argument="properties",
            )
        filters = {k: PropertyFilter(c) for k, c in properties.items()}
    cube = _backend.load_collection(
        id,
        spatial_extent=_spatial_extent(spatial_extent),
        temporal_extent=None if temporal_extent is None else list(temporal_extent),
        bands=None if bands is None else list(bands),
        properties=filters,
    )
    dims = [str(d) for d in getattr(cube, "dims", ()) if is_temporal(cube, str(d))]
    if temporal_extent is not None and len(dims) == 1:  # periods span the asked extent
        cube = with_extent(cube, dims[0], *_temporal_extent(temporal_extent))
    return cube


def _check_temporal(extent: Any) -> None:
    try:
        _temporal_extent(extent)
    except ProcessGraphError as exc:
        raise ProcessGraphError(exc.message, code=exc.code, argument="temporal_extent") from None


@process("save_result")
def save_result(data: Any, format: str, options: dict[str, Any] | None = None) -> SaveResult:
    """The data and the format asked for (the web layer writes the file)."""
    if not isinstance(format, str) or not format:
        raise ProcessGraphError(
            "format is a format name such as netCDF or GTiff",
            code="ProcessParameterInvalid",
            argument="format",
        )
    return SaveResult(data, format, dict(options or {}))
