"""Geometries on raster cubes: ``aggregate_spatial`` (one value per geometry), ``mask_polygon``
and ``filter_spatial``. Geometries are GeoJSON in WGS 84; a pixel belongs to a geometry when
its centre lies in it (openEO's rule for load_collection too).

aggregate_spatial gives a vector cube: an `xr.DataArray` whose first dimension ``geometry``
is numbered 0…n−1 (one per non-empty geometry or feature), with coordinate ``geometry_wkt``
(WGS 84 WKT) and the cube's other dimensions (e.g. ``t``, ``bands``). Each geometry reads
only its own window of the cube (lazily).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely
import xarray as xr

from ._types import ArrayView, ProcessGraphError
from .cubes import cube_crs, require_cube
from .registry import process

__all__ = ["geometries_of"]


def geometries_of(geojson: Any, *, argument: str = "geometries") -> list[shapely.Geometry]:
    """The geometries of a GeoJSON Geometry, Feature or FeatureCollection (empty ones left out)."""
    if not isinstance(geojson, Mapping) or "type" not in geojson:
        raise ProcessGraphError(
            "geometries must be GeoJSON", code="ProcessParameterInvalid", argument=argument
        )
    kind = geojson["type"]
    if kind == "FeatureCollection":
        items = [f.get("geometry") for f in geojson.get("features", [])]
    elif kind == "Feature":
        items = [geojson.get("geometry")]
    elif kind == "GeometryCollection":
        raise ProcessGraphError(
            "GeometryCollection is not supported; use a FeatureCollection",
            code="ProcessParameterInvalid",
            argument=argument,
        )
    else:
        items = [geojson]
    try:
        geoms = [shapely.geometry.shape(g) for g in items if g]
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ProcessGraphError(
            f"invalid GeoJSON geometry: {exc}",
            code="ProcessParameterInvalid",
            argument=argument,
        ) from None
    return [g for g in geoms if not g.is_empty]


def _to_cube_crs(geoms: list[shapely.Geometry], da: xr.DataArray) -> list[shapely.Geometry]:
    crs = cube_crs(da)
    if crs is None or crs.to_epsg() == 4326:
        return geoms
    from pyproj import Transformer

    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return [
        shapely.transform(g, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1])))
        for g in geoms
    ]


def _pixels(da: xr.DataArray, geom: shapely.Geometry) -> tuple[slice, slice, np.ndarray]:
    """The window of `geom` in the cube and which of its pixel centres lie in it."""
    x, y = da["x"].values, da["y"].values
    w, s, e, n = geom.bounds
    cols, rows = np.flatnonzero((x >= w) & (x <= e)), np.flatnonzero((y >= s) & (y <= n))
    if geom.geom_type in ("Point", "MultiPoint") or not len(cols) or not len(rows):
        if geom.geom_type not in ("Point", "MultiPoint"):
            return slice(0, 0), slice(0, 0), np.zeros((0, 0), dtype=bool)
        c = shapely.centroid(geom)  # a point: the pixel nearest to it
        i, j = int(np.abs(y - c.y).argmin()), int(np.abs(x - c.x).argmin())
        return slice(i, i + 1), slice(j, j + 1), np.ones((1, 1), dtype=bool)
    ys, xs = slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)
    gx, gy = np.meshgrid(x[xs], y[ys])
    return ys, xs, shapely.contains_xy(geom, gx, gy)


@process("aggregate_spatial")
def aggregate_spatial(
    data: Any,
    *,
    geometries: Any,
    reducer: Any,
    target_dimension: str | None = None,
    context: Any = None,
) -> xr.DataArray:
    """The reducer over each geometry's pixels; with `target_dimension`, also the pixel
    counts (labels value, total_count, valid_count)."""
    da = require_cube(data)
    if "x" not in da.dims or "y" not in da.dims:
        raise ProcessGraphError(
            "aggregate_spatial needs a cube with x and y", code="DimensionMissing"
        )
    if target_dimension is not None and target_dimension in da.dims:
        raise ProcessGraphError(
            f"dimension {target_dimension!r} exists",
            code="TargetDimensionExists",
            argument="target_dimension",
        )
    wgs84 = geometries_of(geometries)
    pieces = []
    for geom in _to_cube_crs(wgs84, da):
        ys, xs, inside = _pixels(da, geom)
        window = da.isel(y=ys, x=xs)
        cells = window.where(xr.DataArray(inside, dims=("y", "x"))).stack(_pixels=("y", "x"))
        cells = cells.drop_vars([c for c in cells.coords if "_pixels" in cells[c].dims])
        value = reducer(data=ArrayView(cells, "_pixels"), context=context)
        if not isinstance(value, xr.DataArray):
            value = xr.full_like(
                cells.isel(_pixels=0, drop=True),
                np.nan if value is None else value,
                dtype="float64",
            )
        if target_dimension is not None:
            total = xr.full_like(value, int(inside.sum()), dtype="float64")
            valid = cells.notnull().sum("_pixels").astype("float64")
            value = xr.concat([value.astype("float64"), total, valid], dim=target_dimension)
            value = value.assign_coords({target_dimension: ["value", "total_count", "valid_count"]})
        pieces.append(
            value.drop_vars(
                [c for c in value.coords if c in ("x", "y", "spatial_ref")], errors="ignore"
            )
        )
    if not pieces:
        raise ProcessGraphError(
            "no non-empty geometry", code="ProcessParameterInvalid", argument="geometries"
        )
    out = xr.concat(pieces, dim="geometry", coords="minimal", compat="override")
    out = out.assign_coords(
        geometry=np.arange(len(pieces)), geometry_wkt=("geometry", [g.wkt for g in wgs84])
    )
    last = [target_dimension] if target_dimension is not None else []
    return out.transpose("geometry", ..., *last).assign_attrs(crs="EPSG:4326")


def _inside(da: xr.DataArray, geoms: list[shapely.Geometry]) -> xr.DataArray:
    """True where a pixel centre lies in one of `geoms` (cube CRS), lazily per chunk."""
    union = shapely.union_all(geoms)
    shapely.prepare(union)
    x, y = xr.broadcast(da["x"], da["y"])
    spatial = {d: c for d, c in (da.chunksizes or {}).items() if d in ("x", "y")}
    if spatial:
        x, y = x.chunk(spatial), y.chunk(spatial)
    return xr.apply_ufunc(
        lambda xs, ys: shapely.contains_xy(union, xs, ys),
        x.drop_vars([c for c in x.coords if c not in ("x", "y")]),
        y.drop_vars([c for c in y.coords if c not in ("x", "y")]),
        dask="parallelized",
        output_dtypes=[bool],
    )


@process("mask_polygon")
def mask_polygon(
    data: Any, *, mask: Any, replacement: Any = None, inside: bool = False
) -> xr.DataArray:
    """`replacement` (default null) outside the polygons (inside them with `inside`)."""
    da = require_cube(data)
    geoms = _to_cube_crs(geometries_of(mask, argument="mask"), da)
    within = _inside(da, geoms) if geoms else xr.zeros_like(da["x"] * da["y"], dtype=bool)
    keep = ~within if inside else within
    fill = np.nan if replacement is None else replacement
    return da.where(keep, fill).transpose(*da.dims)


@process("filter_spatial")
def filter_spatial(data: Any, *, geometries: Any) -> xr.DataArray:
    """The cube cut to the geometries' bounding box, no-data outside the geometries."""
    da = require_cube(data)
    geoms = _to_cube_crs(geometries_of(geometries), da)
    if not geoms:
        return da.isel(x=[], y=[])
    w, s, e, n = shapely.total_bounds(geoms)
    x, y = da["x"].values, da["y"].values
    cut = da.isel(x=np.flatnonzero((x >= w) & (x <= e)), y=np.flatnonzero((y >= s) & (y <= n)))
    if not cut.sizes["x"] or not cut.sizes["y"]:
        return cut
    return cut.where(_inside(cut, geoms)).transpose(*da.dims)
