"""openEO process graphs evaluated lazily on xarray/dask and vegcube's own functions.

>>> result = evaluate(graph, backend=my_backend)   # SaveResult when the graph ends in save_result
>>> definitions()                                   # what GET /processes serves

A raster cube is an `xr.DataArray` with dims named as openEO names them (``t``, ``bands``,
``y``, ``x``; temporal labels datetime64, aggregated periods labelled by their start),
dask-backed, CRS in a ``spatial_ref`` coordinate; no-data is NaN; booleans are ``bool``.
Nothing here computes pixels: the web layer writes the (lazy) result.
"""

from __future__ import annotations

from typing import Any, Protocol

import xarray as xr

from . import (  # noqa: F401 - importing registers the processes
    arrays,
    climate,
    cubes,
    dimensions,
    loading,
    math,
    reducers,
    spatial,
    temporal,
    vegcube_chain,
)
from ._types import ArrayView, ProcessGraphError, SaveResult
from .graph import Callback, evaluate, validate
from .loading import PropertyFilter
from .registry import PROCESSES, definition

__all__ = [
    "ArrayView",
    "Backend",
    "Callback",
    "ProcessGraphError",
    "PropertyFilter",
    "SaveResult",
    "definitions",
    "evaluate",
    "implemented",
    "validate",
]


class Backend(Protocol):
    """Where load_collection gets its data (the web layer's catalogs)."""

    def load_collection(
        self,
        id: str,
        *,
        spatial_extent: dict[str, Any] | None,
        temporal_extent: list[Any] | None,
        bands: list[str] | None,
        properties: dict[str, PropertyFilter] | None,
    ) -> xr.DataArray:
        """The collection as a cube ("t", "bands", "y", "x"); `properties` maps a metadata
        property (e.g. ``eo:cloud_cover``) to a `PropertyFilter` (callable → bool)."""
        ...


def implemented() -> frozenset[str]:
    """The ids of every implemented process."""
    return frozenset(PROCESSES)


def definitions() -> list[dict[str, Any]]:
    """The JSON definition of every implemented process, sorted by id (GET /processes)."""
    return [definition(pid) for pid in sorted(PROCESSES)]
