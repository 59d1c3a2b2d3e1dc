"""The private odc-stac / odc-loader names vegcube needs, in one place.

odc-stac exposes no public hook for these; pin-compatible upgrades should only need this
module checked (and `tests/unit/test_cube.py`, which reads through both).

- `StacAuxReader` (``odc.stac._mdtools``): the reader of auxiliary (non-raster) metadata that
  `odc.stac.load` builds by default; passing our own driver means passing it too.
- `RioDriver` / `RioReader` (``odc.loader._rio``): odc-loader's rasterio driver and reader,
  subclassed by `cube` so that a failed read names the asset and retries a truncated remote
  read (odc re-raises rasterio's bare "Read failed").
- `replicated_read`: that reader's read of a whole-factor nearest up-sampling, through
  odc-loader's nodata helpers (``odc.loader._reader``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import rasterio
import rasterio.enums
from odc.geo.converters import rio_geobox
from odc.geo.geobox import GeoBox
from odc.geo.overlap import compute_reproject_roi
from odc.geo.roi import roi_is_empty, roi_shape
from odc.loader._reader import (
    nodata_mask,
    resolve_band_query,
    resolve_dst_dtype,
    resolve_dst_nodata,
    resolve_src_nodata,
    same_nodata,
)
from odc.loader._rio import RioDriver, RioReader, rio_env
from odc.stac._mdtools import StacAuxReader
from rasterio.windows import Window

__all__ = ["RioDriver", "RioReader", "StacAuxReader", "replicated_read"]


def replicated_read(
    src: Any, cfg: Any, dst_geobox: GeoBox, dst: np.ndarray | None, selection: Any
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """odc-loader's read of one band (`RioReader.read`) when it is a nearest-neighbour
    up-sampling by a whole factor k onto a grid whose pixel corners lie on the source's 1/k
    lattice (20 m SCL onto any 10 m grid of the same tile), read by GDAL's RasterIO instead
    of a warp; None otherwise.

    RasterIO samples the source pixel under each output pixel's centre, as the warp's
    nearest neighbour does: the same values, about 5× faster (a warp per scene was the
    largest cost of reading Sentinel-2 masks). The nodata rule is odc-loader's pasted read's.
    """
    if not cfg.nearest or src.ydim != 0 or (dst is not None and dst.ndim != 2):
        return None
    if isinstance(src.geobox, GeoBox) and _replication(src.geobox, dst_geobox) is None:
        return None  # the item's own grid says no: not even opened
    with rasterio.open(src.uri, "r", sharing=False) as rdr:
        bidx = resolve_band_query(src, rdr.count, selection=selection)
        grid = rio_geobox(rdr)
        how = _replication(grid, dst_geobox) if isinstance(grid, GeoBox) else None
        if how is None or not isinstance(bidx, int):
            return None
        roi, k, col, row = how
        h, w = roi_shape(roi)
        if col < 0 or row < 0 or col + w / k > rdr.width + 1e-9 or row + h / k > rdr.height + 1e-9:
            return None
        dtype = resolve_dst_dtype(rdr.dtypes[bidx - 1], cfg)
        out = np.empty((h, w), dtype=dtype) if dst is None else dst[roi]
        target = out if out.flags.c_contiguous else np.empty((h, w), dtype=out.dtype)
        with rio_env(VSI_CACHE=False):
            rdr.read(
                bidx,
                out=target,
                window=Window(col, row, w / k, h / k),
                resampling=rasterio.enums.Resampling.nearest,
            )
        src_nodata = resolve_src_nodata(rdr.nodatavals[bidx - 1], cfg)
        dst_nodata = resolve_dst_nodata(target.dtype, cfg, src_nodata)
        if dst_nodata is not None and not same_nodata(src_nodata, dst_nodata):
            np.copyto(target, dst_nodata, where=nodata_mask(target, src_nodata))
        if target is not out:
            out[...] = target
        return roi, out


@lru_cache(maxsize=256)
def _replication(
    grid: GeoBox, dst_geobox: GeoBox
) -> tuple[tuple[slice, slice], int, float, float] | None:
    """(the destination's region, k, its corner's source column and row) when `dst_geobox`
    up-samples `grid` by a whole factor k, with its pixel corners on the 1/k lattice (so that
    no pixel centre falls on a source pixel's edge, where two samplings could round apart).

    Cached: a task's scenes of one tile share their grid and the task's, and the answer
    (~1 ms of Python under the GIL) was asked twice per scene."""
    if grid.crs != dst_geobox.crs:
        return None
    roi: tuple[slice, slice] = compute_reproject_roi(grid, dst_geobox, ttol=0.9).roi_dst  # type: ignore[assignment]
    if roi_is_empty(roi):
        return None
    to_src = ~grid.affine * dst_geobox[roi].affine  # destination pixel → source pixel
    k = round(1 / to_src.a) if to_src.a else 0
    if not (
        k >= 2
        and abs(k * to_src.a - 1) < 1e-9
        and abs(to_src.e - to_src.a) < 1e-12
        and to_src.b == 0
        and to_src.d == 0
        and all(abs(v * k - round(v * k)) < 1e-6 for v in (to_src.c, to_src.f))
    ):
        return None
    return roi, k, round(to_src.c * k) / k, round(to_src.f * k) / k
