"""HDF-EOS5 granule → COG: one layer of a sinusoidal tile, on the grid its tile numbers give.

GDAL opens these granules (``HDF5:`` subdatasets) but does not georeference them: the grid is
the MODIS sinusoidal tiling (sphere R = 6371007.181 m), whose tile (h, v) spans
``X0 + h·T … X0 + (h+1)·T`` and ``Y0 − v·T … Y0 − (v+1)·T`` with X0 = −20015109.354 m,
Y0 = 10007554.677 m and T = 2·X0/36 = 1111950.519667 m; the products' own
``StructMetadata.0`` gives these corners rounded to the mm (``UpperLeftPointMtrs``,
``LowerRightMtrs``), and a 500 m tile has 2400 pixels of 463.3127165 m. `tile_grid` computes
that grid, `granule_grid` checks it against the file's StructMetadata, and `convert` writes a
layer (or its AOI window) as a COG: values exactly as stored, every documented fill value
(and the dataset's ``_FillValue`` attribute) turned into the COG's nodata. Files are read
with netCDF4 (HDF5 groups, attributes and int8 data as stored) and written atomically.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio
import rasterio.shutil
import rasterio.windows
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.transform import Affine
from rasterio.windows import Window

from ..errors import DataError
from ..export import atomic_path
from ..sensors.modis import SINUSOIDAL_WKT
from ..sensors.viirs import GranuleLayer

__all__ = [
    "TILE_M",
    "X0",
    "Y0",
    "convert",
    "granule_grid",
    "layer_asset",
    "read_layer",
    "struct_metadata",
    "tile_grid",
    "to_nodata",
    "write_cog",
]

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

#: west and north edges of the sinusoidal tiling, as the products' StructMetadata gives them
X0, Y0 = -20015109.354, 10007554.677
#: side of a tile (m): 36 tiles span the equator
TILE_M = -2 * X0 / 36
_GRIDS = "HDFEOS/GRIDS"
_STRUCT = "HDFEOS INFORMATION/StructMetadata.0"
_OVERVIEW_MIN = 256


def tile_grid(h: int, v: int, pixels: int) -> Affine:
    """The geotransform of tile (h, v) divided into `pixels` × `pixels` cells."""
    if not (0 <= h < 36 and 0 <= v < 18) or pixels < 1:
        raise ValueError(f"no sinusoidal tile h{h:02d}v{v:02d} of {pixels} pixels")
    left, right = round(X0 + h * TILE_M, 6), round(X0 + (h + 1) * TILE_M, 6)
    top, bottom = round(Y0 - v * TILE_M, 6), round(Y0 - (v + 1) * TILE_M, 6)
    return Affine((right - left) / pixels, 0.0, left, 0.0, -(top - bottom) / pixels, top)


def struct_metadata(text: str) -> dict[str, dict[str, Any]]:
    """The grids of an HDF-EOS ``StructMetadata.0``: name → XDim, YDim, upper-left and
    lower-right corners (m), projection."""
    grids: dict[str, dict[str, Any]] = {}
    for block in re.findall(r"GROUP=GRID_\d+(.*?)END_GROUP=GRID_\d+", text, flags=re.S):
        fields = dict(re.findall(r"^\s*(\w+)=(.*?)\s*$", block, flags=re.M))
        try:
            name = fields["GridName"].strip('"')
            grids[name] = {
                "XDim": int(fields["XDim"]),
                "YDim": int(fields["YDim"]),
                "UpperLeftPointMtrs": tuple(ast.literal_eval(fields["UpperLeftPointMtrs"])),
                "LowerRightMtrs": tuple(ast.literal_eval(fields["LowerRightMtrs"])),
                "Projection": fields.get("Projection", ""),
            }
        except (KeyError, ValueError, SyntaxError):
            continue  # a grid without a full definition (or not a grid): not ours
    return grids


def granule_grid(path: Path, *, dataset: str, tile: tuple[int, int]) -> tuple[Affine, int, str]:
    """(geotransform, pixels, grid name) of the grid holding `dataset` in granule `path` of
    tile (h, v): from the tile numbers, checked against the file's StructMetadata when it
    defines that grid.

    Raises `DataError` naming the file when the two disagree by more than a millimetre.
    """
    with _open(path) as nc:
        meta = struct_metadata(_text(nc, _STRUCT)) if _has(nc, _STRUCT) else {}
        var = _dataset(nc, None, dataset, path)
        grid = var.group().parent.name
        rows, pixels = (int(n) for n in var.shape[:2])
    if rows != pixels:
        raise DataError(f"{path.name}: {dataset!r} is {rows}×{pixels}, not a square tile")
    tr = tile_grid(*tile, pixels)
    if grid in meta:
        g = meta[grid]
        (ulx, uly), (lrx, lry) = g["UpperLeftPointMtrs"], g["LowerRightMtrs"]
        want = (tr.c, tr.f, tr.c + pixels * tr.a, tr.f + pixels * tr.e)
        if (g["XDim"], g["YDim"]) != (pixels, pixels) or max(
            abs(a - b) for a, b in zip((ulx, uly, lrx, lry), want, strict=True)
        ) > 1e-3:
            raise DataError(
                f"{path.name}: StructMetadata.0 places grid {grid} ({g['XDim']}×{g['YDim']}) "
                f"at {g['UpperLeftPointMtrs']}–{g['LowerRightMtrs']}, not on tile "
                f"h{tile[0]:02d}v{tile[1]:02d} ({want}); the granule is not the tile its "
                "name says"
            )
    return tr, pixels, grid


def read_layer(
    path: Path, dataset: str, *, grid: str | None = None, window: Window | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """The values (as stored, no scaling or masking) and attributes of `dataset`: its name
    under ``HDFEOS/GRIDS/<grid>/Data Fields`` (any grid when `grid` is None), or a plain HDF5
    path with its groups (``Geophysical_Data/sm_rootzone``: SMAP)."""
    with _open(path) as nc:
        var = _dataset(nc, grid, dataset, path)
        var.set_auto_maskandscale(False)
        if window is None:
            data = np.asarray(var[:])
        else:
            (r0, r1), (c0, c1) = window.toranges()
            data = np.asarray(var[r0:r1, c0:c1])
        attrs = {k: var.getncattr(k) for k in var.ncattrs()}
    return data, attrs


def convert(
    path: Path,
    dataset: str,
    dest: Path,
    *,
    transform: Affine,
    nodata: int,
    fills: Iterable[int] = (),
    dtype: str | None = None,
    grid: str | None = None,
    window: Window | None = None,
    crs: str = SINUSOIDAL_WKT,
) -> Path:
    """Write `dataset` of granule `path` (or its `window`) as a COG at `dest` on the grid's
    `transform` (in `crs`): values as stored, `fills` and the ``_FillValue`` attribute →
    `nodata`.

    Raises `DataError` naming the file and dataset if it is missing or not of `dtype`.
    """
    data, attrs = read_layer(path, dataset, grid=grid, window=window)
    if dtype is not None and data.dtype != np.dtype(dtype):
        raise DataError(
            f"{path.name}: {dataset!r} is {data.dtype}, the product stores {dtype}; "
            "not a granule of this product version"
        )
    if data.ndim != 2:
        raise DataError(f"{path.name}: {dataset!r} has {data.ndim} dimensions, expected 2")
    data = to_nodata(data, attrs, fills=fills, nodata=nodata)
    if window is not None:
        transform = rasterio.windows.transform(window, transform)
    return write_cog(dest, data, transform=transform, nodata=nodata, crs=crs)


def to_nodata(
    data: np.ndarray, attrs: dict[str, Any], *, fills: Iterable[float], nodata: float
) -> np.ndarray:
    """`data` with `fills` and the dataset's ``_FillValue`` attribute replaced by `nodata`."""
    declared = np.atleast_1d(np.asarray(attrs.get("_FillValue", []))).ravel().tolist()
    fill = [f for f in {*fills, *declared} if _fits(f, data.dtype) and f != nodata]
    if fill:
        data = np.where(np.isin(data, fill), np.asarray(nodata, data.dtype), data)
    return data


def layer_asset(key: str, layer: GranuleLayer, resolution: float) -> pystac.Asset:
    """The COG asset a converted layer becomes: ``raster:bands`` with its type, nodata,
    resolution and (when the product defines them) scale, offset and unit."""
    band: dict[str, Any] = {
        "data_type": layer.dtype,
        "nodata": layer.nodata,
        "spatial_resolution": resolution,
    }
    for name in ("scale", "offset", "unit"):
        if getattr(layer, name) is not None:
            band[name] = getattr(layer, name)
    return pystac.Asset(
        f"./{key}.tif", layer.title, media_type=COG_MEDIA_TYPE, roles=["data"],
        extra_fields={"raster:bands": [band]},
    )  # fmt: skip


def write_cog(
    dest: Path, data: np.ndarray, *, transform: Affine, nodata: float, crs: str = SINUSOIDAL_WKT
) -> Path:
    """Write the 2-D `data` atomically as a COG at `dest` (`transform` in `crs`)."""
    with atomic_path(dest) as tmp:
        _write_cog(tmp, data, transform, nodata, crs)
    return dest


def _write_cog(path: Path, data: np.ndarray, transform: Affine, nodata: float, crs: str) -> None:
    rows, cols = data.shape
    profile = {
        "driver": "GTiff",
        "height": rows,
        "width": cols,
        "count": 1,
        "dtype": data.dtype.name,
        "crs": CRS.from_user_input(crs),
        "transform": transform,
        "nodata": nodata,
    }
    block = 512 if max(rows, cols) > 512 else 256
    opts: dict[str, Any] = {"BLOCKSIZE": block, "COMPRESS": "DEFLATE", "RESAMPLING": "NEAREST"}
    opts["OVERVIEWS"] = "AUTO" if max(rows, cols) > _OVERVIEW_MIN else "NONE"
    if data.dtype.kind in "iu" and data.dtype.itemsize > 1:
        opts["PREDICTOR"] = 2
    elif data.dtype.kind == "f":
        opts["PREDICTOR"] = 3
    with MemoryFile() as mem, mem.open(**profile) as src:
        src.write(data, 1)
        rasterio.shutil.copy(src, path, driver="COG", **opts)


def _fits(value: Any, dtype: np.dtype[Any]) -> bool:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    if not math.isfinite(v):
        return False
    if dtype.kind == "f":
        return True
    if v != int(v):
        return False
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    return info is None or info.min <= v <= info.max


def _open(path: Path) -> Any:
    import netCDF4

    try:
        return netCDF4.Dataset(str(path), "r")
    except OSError as exc:
        raise DataError(f"{path.name}: not a readable HDF5 granule ({exc})") from None


def _has(nc: Any, name: str) -> bool:
    group, _, leaf = name.rpartition("/")
    try:
        return leaf in nc[group].variables
    except (KeyError, IndexError):
        return False


def _text(nc: Any, name: str) -> str:
    group, _, leaf = name.rpartition("/")
    value = nc[group].variables[leaf][...]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value.item() if hasattr(value, "item") else value)


def _dataset(nc: Any, grid: str | None, dataset: str | None, path: Path) -> Any:
    """`dataset` of `grid` (any grid if None); the first 2-D dataset of `grid` if no name;
    a plain HDF5 path (``group/…/name``) as is."""
    if dataset is not None and "/" in dataset:
        group, _, leaf = dataset.strip("/").rpartition("/")
        try:
            return nc[group].variables[leaf]
        except (KeyError, IndexError):
            raise DataError(f"{path.name}: no dataset {dataset!r}") from None
    try:
        grids = nc[_GRIDS].groups
    except (KeyError, IndexError):
        raise DataError(f"{path.name}: no {_GRIDS} group: not an HDF-EOS5 grid granule") from None
    names = [grid] if grid is not None else list(grids)
    for name in names:
        fields = grids.get(name)
        fields = fields.groups.get("Data Fields") if fields is not None else None
        if fields is None:
            continue
        if dataset is None:
            found = next((v for v in fields.variables.values() if v.ndim == 2), None)
        else:
            found = fields.variables.get(dataset)
        if found is not None:
            return found
    what = f"dataset {dataset!r}" if dataset else "2-D dataset"
    where = f"grid {grid}" if grid else f"grids {', '.join(grids) or '(none)'}"
    raise DataError(f"{path.name}: no {what} in {where} (Data Fields)")
