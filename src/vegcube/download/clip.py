"""Clip to COG: read the AOI window of a remote COG (GDAL range reads), write it as a COG.

The window is the AOI bbox in the asset's CRS, snapped outwards to its pixel grid plus
`margin` pixels; the COG keeps the source's tiling, compression and predictor, and gets
overviews down to `_OVERVIEW_MIN` pixels. It is verified by validating the COG and reading
it back before it is renamed into place.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
from rasterio.windows import Window

from ..errors import DataError
from ..export import atomic_path
from .http import Transient, scrub
from .jobs import Job, MirroredFile, same_grid, window

__all__ = ["WHOLE", "clip", "complete"]

#: what `clip` returns when the AOI window is the whole file (copy it unchanged)
WHOLE = "whole"

_OVERVIEW_MIN = 256  # px: a clip this small is read whole, it needs no overviews


def clip(
    job: Job, *, bbox: tuple[float, ...], margin: int, env: dict[str, str]
) -> MirroredFile | str:
    """Write the AOI window of `job`'s file as a COG at `job.dest` (GDAL options `env`);
    `WHOLE` if the window is the whole file. A failed read raises `Transient`."""
    if job.grid is not None and window(job.grid, bbox, margin) is None:
        return WHOLE  # known from the metadata: no need to open the file
    try:
        with rasterio.Env(**env), rasterio.open(job.href) as src:
            grid = (src.crs, src.transform, (src.height, src.width))
            if (
                src.crs is None
                or src.transform.is_identity
                or (job.grid is not None and not same_grid(job.grid, grid))
            ):  # a truncated header read: GDAL may open it without its georeferencing
                raise Transient("the header read does not match the item's proj: grid")
            win = window(grid, bbox, margin)
            if win is None:
                return WHOLE
            data = src.read(window=win)
            profile = _cog_profile(src, win)
            meta = _band_meta(src)
    except RasterioError as exc:
        raise Transient(f"GDAL read failed: {scrub(str(exc))}") from None
    with atomic_path(job.dest) as tmp:
        _write_cog(tmp, data, profile, meta, categorical=job.categorical)
        _verify_cog(job, tmp, data, profile)
    return job.mirrored("clip", job.dest.stat().st_size)


def complete(job: Job, *, bbox: tuple[float, ...], margin: int) -> bool:
    """A file from an earlier run is complete if it exists with the grid expected now."""
    if not job.dest.is_file():
        return False
    if job.grid is None:
        return True
    win = window(job.grid, bbox, margin) if job.clip else None
    _, tr, (rows, cols) = job.grid
    if win is not None:
        tr = rasterio.windows.transform(win, tr)
        rows, cols = int(win.height), int(win.width)
    elif job.size is not None and job.dest.stat().st_size != job.size:
        return False
    try:
        with rasterio.open(job.dest) as ds:
            return ds.shape == (rows, cols) and ds.transform.almost_equals(tr)
    except RasterioError:
        return False


def _cog_profile(src: Any, win: Window) -> dict[str, Any]:
    block = src.block_shapes[0][1] if src.profile.get("tiled") else 512
    structure = src.tags(ns="IMAGE_STRUCTURE")
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "dtype": src.dtypes[0],
        "count": src.count,
        "height": int(win.height),
        "width": int(win.width),
        "crs": src.crs,
        "transform": src.window_transform(win),
        "nodata": src.nodata,
        "BLOCKSIZE": max(16, min(block - block % 16, 512)),
        "COMPRESS": (src.compression.name if src.compression else "DEFLATE").upper(),
    }
    if structure.get("PREDICTOR") in ("2", "3"):
        profile["PREDICTOR"] = structure["PREDICTOR"]
    return profile


def _band_meta(src: Any) -> dict[str, Any]:
    return {
        "tags": src.tags(),
        "band_tags": [src.tags(i) for i in src.indexes],
        "descriptions": src.descriptions,
        "scales": src.scales,
        "offsets": src.offsets,
        "units": src.units,
        "colorinterp": src.colorinterp,
    }


def _write_cog(
    path: Path,
    data: np.ndarray,
    profile: dict[str, Any],
    meta: dict[str, Any],
    *,
    categorical: bool,
) -> None:
    """Write `data` as a COG with the source's compression and predictor, tiles of at most
    512 px, and overviews halving until the smallest fits in `_OVERVIEW_MIN` px (nearest
    resampling for categorical QA bands, average otherwise)."""
    base = {k: v for k, v in profile.items() if k.islower()}
    opts = {k: v for k, v in profile.items() if k.isupper()}
    levels = max(0, math.ceil(math.log2(max(data.shape[1:]) / _OVERVIEW_MIN)))
    opts |= {
        "OVERVIEWS": "AUTO" if levels else "NONE",
        "OVERVIEW_COUNT": levels,
        "OVERVIEW_RESAMPLING": "NEAREST" if categorical else "AVERAGE",
        "BIGTIFF": "IF_SAFER",
    }
    if not levels:
        del opts["OVERVIEW_COUNT"]
    with MemoryFile() as mem, mem.open(**base) as ds:
        ds.write(data)
        ds.update_tags(**meta["tags"])
        for i, tags in enumerate(meta["band_tags"], start=1):
            ds.update_tags(i, **tags)
            if meta["descriptions"][i - 1]:
                ds.set_band_description(i, meta["descriptions"][i - 1])
            if meta["units"][i - 1]:
                ds.set_band_unit(i, meta["units"][i - 1])
        ds.scales, ds.offsets = meta["scales"], meta["offsets"]
        ds.colorinterp = meta["colorinterp"]
        rasterio.shutil.copy(ds, str(path), driver="COG", **opts)


def _verify_cog(job: Job, path: Path, data: np.ndarray, profile: dict[str, Any]) -> None:
    from rio_cogeo.cogeo import cog_validate

    valid, errors, _ = cog_validate(str(path), quiet=True)
    if not valid:
        raise DataError(f"{job.name}: the clipped file is not a valid COG: {'; '.join(errors)}")
    with rasterio.open(path) as ds:
        same = ds.transform.almost_equals(profile["transform"]) and ds.crs == profile["crs"]
        if not same or not np.array_equal(ds.read(), data):
            raise DataError(f"{job.name}: the clipped file does not read back as written")
