"""Raster-cube processes: filters, apply / reduce / apply_dimension, apply_kernel, mask, ndvi.

Cubes are `xr.DataArray` with openEO dimension names (``x``, ``y``, ``t``, ``bands``);
everything stays lazy: callbacks are evaluated once on the whole (dask) array.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ._types import (
    ArrayView,
    ProcessGraphError,
    bands_dim,
    bbox_numbers,
    drop_dim_coords,
    temporal_dim,
    to_datetime64,
    with_extent,
)
from .registry import process

__all__ = ["cube_crs", "require_cube", "require_dimension"]


def require_cube(data: Any, argument: str = "data") -> xr.DataArray:
    """`data`, which must be a raster cube (`ProcessParameterInvalid` naming `argument`)."""
    if not isinstance(data, xr.DataArray):
        raise ProcessGraphError(
            f"expected a raster data cube; got {type(data).__name__}",
            code="ProcessParameterInvalid",
            argument=argument,
        )
    return data


def require_dimension(da: xr.DataArray, dimension: str) -> str:
    """`dimension`, which the cube must have (`DimensionNotAvailable`)."""
    if dimension not in da.dims:
        raise ProcessGraphError(
            f"no dimension {dimension!r}; the cube has {list(map(str, da.dims))}",
            code="DimensionNotAvailable",
            argument="dimension",
        )
    return dimension


def cube_crs(da: xr.DataArray) -> Any:
    """The cube's CRS (pyproj) from its ``spatial_ref`` coordinate, or None."""
    from pyproj import CRS

    if "spatial_ref" not in da.coords:
        return None
    attrs = da["spatial_ref"].attrs
    wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
    return CRS.from_wkt(wkt) if wkt else None


def _crs(value: Any) -> Any:
    from pyproj import CRS

    if value is None:
        return CRS.from_epsg(4326)
    try:
        return CRS.from_epsg(value) if isinstance(value, int) else CRS.from_user_input(value)
    except Exception as exc:  # pyproj.exceptions.CRSError and friends
        raise ProcessGraphError(
            f"unknown crs {value!r:.80}: {exc}", code="ProcessParameterInvalid", argument="extent"
        ) from None


@process("filter_bbox")
def filter_bbox(data: Any, *, extent: dict[str, Any]) -> xr.DataArray:
    """Pixels whose centre lies in the bounding box (given in its `crs`, default WGS 84)."""
    da = require_cube(data)
    w, s, e, n = bbox_numbers(extent, argument="extent", what="extent")
    src, dst = _crs(extent.get("crs")), cube_crs(da)
    if dst is not None and not src.equals(dst):
        from pyproj import Transformer

        w, s, e, n = Transformer.from_crs(src, dst, always_xy=True).transform_bounds(
            w, s, e, n, densify_pts=21
        )
    x, y = da["x"].values, da["y"].values
    return da.isel(x=np.flatnonzero((x >= w) & (x <= e)), y=np.flatnonzero((y >= s) & (y <= n)))


@process("filter_temporal")
def filter_temporal(data: Any, *, extent: list[Any], dimension: str | None = None) -> xr.DataArray:
    """Labels in [start, end): the end is excluded; either end may be null (open)."""
    da = require_cube(data)
    dim = temporal_dim(da, dimension)
    start, end = temporal_extent(extent)
    t = da[dim].values
    keep = np.ones(t.shape, dtype=bool)
    if start is not None:
        keep &= t >= start
    if end is not None:
        keep &= t < end
    return with_extent(da.isel({dim: np.flatnonzero(keep)}), dim, start, end)


def temporal_extent(extent: Any) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    """A left-closed temporal interval as datetimes; `TemporalExtentEmpty` if end <= start."""
    if not isinstance(extent, (list, tuple)) or len(extent) != 2:
        raise ProcessGraphError(
            "a temporal extent is [start, end]", code="ProcessParameterInvalid", argument="extent"
        )
    try:
        start, end = (None if v is None else to_datetime64(v) for v in extent)
    except (ValueError, TypeError):
        raise ProcessGraphError(
            f"not dates: {extent!r}", code="ProcessParameterInvalid", argument="extent"
        ) from None
    if start is not None and end is not None and end <= start:
        raise ProcessGraphError(
            f"{extent[1]} is not after {extent[0]}", code="TemporalExtentEmpty", argument="extent"
        )
    if start is None and end is None:
        raise ProcessGraphError(
            "both ends of the temporal extent are null",
            code="TemporalExtentEmpty",
            argument="extent",
        )
    return start, end


@process("filter_bands")
def filter_bands(
    data: Any, *, bands: list[str] | None = None, wavelengths: list[Any] | None = None
) -> xr.DataArray:
    """The bands named (by name or common name), in the order given; unknown names are left out."""
    da = require_cube(data)
    if wavelengths:
        raise ProcessGraphError(
            "filtering by wavelengths is not supported; name the bands",
            code="ProcessParameterInvalid",
            argument="wavelengths",
        )
    if not bands:
        raise ProcessGraphError("give bands", code="BandFilterParameterMissing", argument="bands")
    dim = bands_dim(da)
    if dim is None:
        raise ProcessGraphError("the cube has no bands dimension", code="DimensionMissing")
    return da.isel({dim: [i for b in bands for i in _band_positions(da, dim, b)]})


def _band_positions(da: xr.DataArray, dim: str, name: str) -> list[int]:
    labels = [str(v) for v in da[dim].values]
    if name in labels:
        return [labels.index(name)]
    if "common_name" in da.coords:
        return [i for i, c in enumerate(da["common_name"].values) if c == name][:1]
    return []


@process("apply")
def apply(data: Any, *, process: Any, context: Any = None) -> Any:
    """The callback on every value (vectorised: it receives the whole cube as `x`)."""
    da = require_cube(data)
    out = process(x=da, context=context)
    if isinstance(out, ArrayView):
        out = out.data
    if not isinstance(out, xr.DataArray):  # a constant
        return xr.full_like(da, out, dtype=np.asarray(out).dtype if out is not None else "float64")
    return out.transpose(*da.dims) if set(out.dims) == set(da.dims) else out


@process("reduce_dimension")
def reduce_dimension(data: Any, *, reducer: Any, dimension: str, context: Any = None) -> Any:
    """The callback on each labelled array along `dimension` (all pixels at once); the
    dimension is dropped."""
    da = require_cube(data)
    dim = require_dimension(da, dimension)
    out = reducer(data=ArrayView(da, dim), context=context)
    if isinstance(out, ArrayView) or (isinstance(out, xr.DataArray) and dim in out.dims):
        raise ProcessGraphError(
            f"the reducer must give one value per pixel; it kept dimension {dim!r}",
            code="ProcessParameterInvalid",
            argument="reducer",
        )
    if not isinstance(out, xr.DataArray):
        return xr.full_like(drop_dim_coords(da.isel({dim: 0}), dim), out, dtype="float64")
    return out


@process("apply_dimension")
def apply_dimension(
    data: Any,
    *,
    process: Any,
    dimension: str,
    target_dimension: str | None = None,
    context: Any = None,
) -> Any:
    """The callback on each labelled array along `dimension`; labels are kept when the length
    and dimension stay, else numbered from 0."""
    da = require_cube(data)
    dim = require_dimension(da, dimension)
    out = process(data=ArrayView(da, dim), context=context)
    arr = out.data if isinstance(out, ArrayView) else out
    if isinstance(out, ArrayView) and out.dim != dim:  # e.g. built by array_create
        arr = arr.rename({out.dim: dim})
    if not isinstance(arr, xr.DataArray):
        raise ProcessGraphError(
            "the process must give an array", code="ProcessParameterInvalid", argument="process"
        )
    if dim not in arr.dims:
        arr = arr.expand_dims(dim)
    same = target_dimension in (None, dim) and arr.sizes[dim] == da.sizes[dim]
    arr = arr.assign_coords({dim: da[dim].values if same else np.arange(arr.sizes[dim])})
    arr = arr.transpose(*[d for d in da.dims if d in arr.dims], ...)
    if target_dimension not in (None, dim):
        if target_dimension in arr.dims:
            arr = arr.isel({target_dimension: 0}, drop=True)
        arr = arr.rename({dim: target_dimension})
    return arr


@process("apply_kernel")
def apply_kernel(
    data: Any,
    *,
    kernel: list[list[float]],
    factor: float = 1,
    border: Any = 0,
    replace_invalid: float = 0,
) -> xr.DataArray:
    """A 2-D correlation with `kernel` over (y, x), lazily on overlapping chunks."""
    from ._kernel import correlate

    da = require_cube(data)
    k = np.asarray(kernel, dtype="float64")
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ProcessGraphError(
            f"each level of the kernel must have an uneven length; got {k.shape}",
            code="KernelDimensionsUneven",
            argument="kernel",
        )
    if not (
        isinstance(border, (int, float))
        or border in ("replicate", "reflect", "reflect_pixel", "wrap")
    ):
        raise ProcessGraphError(
            f"unknown border {border!r}", code="ProcessParameterInvalid", argument="border"
        )
    order = [d for d in da.dims if d not in ("y", "x")] + ["y", "x"]
    src = da.transpose(*order)
    values = src.astype("float64") if src.dtype == bool or src.dtype.kind in "iu" else src
    values = values.where(np.isfinite(values), replace_invalid)
    out = correlate(values.data, k, border=border) * factor
    return src.copy(data=out).transpose(*da.dims)


@process("mask")
def mask(data: Any, *, mask: Any, replacement: Any = None) -> xr.DataArray:
    """`data` with `replacement` (default null) where `mask` is true or non-zero."""
    da, m = require_cube(data), require_cube(mask, "mask")
    extra = [d for d in m.dims if d not in da.dims]
    if extra:
        raise ProcessGraphError(
            f"the mask has dimensions {extra} that data lacks", code="IncompatibleDataCubes"
        )
    for d in [d for d in m.dims if d not in ("x", "y")]:
        if m.sizes[d] == 1 and (da.sizes[d] != 1 or m[d].values[0] != da[d].values[0]):
            m = m.isel({d: 0}, drop=True)  # one band (e.g. SCL) masks every band
        elif m.sizes[d] != da.sizes[d]:
            raise ProcessGraphError(
                f"mask and data differ along {d!r}", code="IncompatibleDataCubes"
            )
    if any(
        m.sizes[d] != da.sizes[d] or not np.allclose(m[d].values, da[d].values)
        for d in ("x", "y")
        if d in m.dims
    ):
        m = m.reindex({d: da[d].values for d in ("x", "y") if d in m.dims}, method="nearest")
    m = m.drop_vars([c for c in m.coords if c not in m.dims])
    masked = m if m.dtype == bool else (m != 0) & m.notnull()
    fill = np.nan if replacement is None else replacement
    return da.where(~masked, fill).transpose(*da.dims)


_RED = ("red", "B04", "B4", "SR_B4")
_NIR = ("nir", "B08", "B8", "SR_B5", "B8A")


@process("ndvi")
def ndvi(
    data: Any, *, nir: str = "nir", red: str = "red", target_band: str | None = None
) -> xr.DataArray:
    """(nir − red) / (nir + red); the bands dimension is dropped, or gets `target_band`."""
    da = require_cube(data)
    dim = bands_dim(da)
    if dim is None:
        raise ProcessGraphError("the cube has no bands dimension", code="DimensionAmbiguous")
    pick = {}
    for role, name, aliases, code in (
        ("nir", nir, _NIR, "NirBandAmbiguous"),
        ("red", red, _RED, "RedBandAmbiguous"),
    ):
        found = _band_positions(da, dim, name)
        if not found and name == role:  # the common name: try the usual band names
            found = next((p for a in aliases if (p := _band_positions(da, dim, a))), [])
        if not found:
            raise ProcessGraphError(
                f"no {role} band {name!r} among {list(map(str, da[dim].values))}",
                code=code,
                argument=role,
            )
        band = drop_dim_coords(da.isel({dim: found[0]}), dim)
        pick[role] = band.astype(np.result_type(band.dtype, np.float32))
    with np.errstate(all="ignore"):
        out = (pick["nir"] - pick["red"]) / (pick["nir"] + pick["red"])
    if target_band is None:
        return out
    if target_band in [str(v) for v in da[dim].values]:
        raise ProcessGraphError(
            f"band {target_band!r} exists", code="BandExists", argument="target_band"
        )
    new = out.expand_dims({dim: [target_band]}).transpose(*da.dims)
    base = da.drop_vars([c for c in da.coords if c != dim and dim in da[c].dims])
    return xr.concat([base.astype(new.dtype), new], dim=dim)
