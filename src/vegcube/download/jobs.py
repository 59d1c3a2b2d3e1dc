"""What to fetch: one `Job` per asset of each scene, and the window of the AOI in it."""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pystac
from rasterio.transform import Affine
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from .. import catalog, cube, sensors
from ..errors import SourceError
from ..indices import bands_for

__all__ = ["Grid", "Job", "MirroredFile", "plan_jobs", "same_grid", "window"]

#: CRS, transform and (rows, cols) of an asset
Grid = catalog.Grid


@dataclass(frozen=True)
class MirroredFile:
    """One asset of the mirror: where it is, how it was copied, how many bytes it holds."""

    item: str
    asset: str
    path: Path
    mode: str  #: "clip", "whole" or "skipped" (complete from an earlier run)
    bytes: int


@dataclass(eq=False)
class Job:
    """One asset to mirror: its source, its local path, and how to copy it."""

    item: pystac.Item
    key: str
    href: str
    dest: Path
    clip: bool
    categorical: bool
    size: int | None
    checksum: str | None
    grid: Grid | None  # from the item's proj metadata
    poll: float = 0.0

    @property
    def name(self) -> str:
        """``<item>/<asset>``, as messages name the file."""
        return f"{self.item.id}/{self.key}"

    @property
    def remote(self) -> bool:
        """True if fetched over HTTP(S), False if copied from a local file."""
        return urllib.parse.urlsplit(self.href).scheme in ("http", "https")

    def mirrored(self, mode: str, size: int) -> MirroredFile:
        """The record of this job's file, copied in `mode`."""
        return MirroredFile(self.item.id, self.key, self.dest, mode, size)


def plan_jobs(
    items: list[pystac.Item],
    collections: list[str],
    indices: list[str],
    root: Path,
    *,
    clip: bool,
) -> list[Job]:
    """The assets of the bands `indices` need (QA bands included) for every item, each
    mirrored at ``root/<collection>/<item>/<asset>.tif``."""
    jobs = []
    for coll, its in _by_collection(items, collections).items():
        sensor = sensors.for_collection(coll)
        bands = bands_for(coll, indices)
        keys = cube.asset_keys(its, bands, collection=coll)
        qa = set(sensor.qa_bands) | {sensor.qa_band}
        for item in its:
            for band, key in keys.items():
                jobs.append(_job(item, key, root / coll, clip=clip, categorical=band in qa))
    return jobs


def window(grid: Grid, bbox: tuple[float, ...], margin: int) -> Window | None:
    """The AOI window on the asset's pixel grid, `margin` pixels wider; None if it is the file."""
    crs, tr, (rows, cols) = grid
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, *bbox, densify_pts=21)
    w = from_bounds(left, bottom, right, top, transform=tr)
    c0 = max(0, math.floor(w.col_off + 1e-6) - margin)
    r0 = max(0, math.floor(w.row_off + 1e-6) - margin)
    c1 = min(cols, math.ceil(w.col_off + w.width - 1e-6) + margin)
    r1 = min(rows, math.ceil(w.row_off + w.height - 1e-6) + margin)
    if c1 <= c0 or r1 <= r0 or (c0, r0, c1, r1) == (0, 0, cols, rows):
        return None  # the AOI covers the asset (or misses it): copy the file unchanged
    return Window(c0, r0, c1 - c0, r1 - r0)


def same_grid(a: Grid, b: tuple[Any, Affine, tuple[int, int]]) -> bool:
    """True if two grids have the same shape, transform and CRS."""
    return a[2] == b[2] and a[1].almost_equals(b[1]) and a[0] == b[0]


def _by_collection(items: list[pystac.Item], colls: list[str]) -> dict[str, list[pystac.Item]]:
    """Items per collection id (all of them when the recipe names a single collection)."""
    if len(colls) == 1:
        return {colls[0]: list(items)}
    out: dict[str, list[pystac.Item]] = {c: [] for c in colls}
    for item in items:
        if item.collection_id not in out:
            raise SourceError(
                f"item {item.id}: its collection {item.collection_id!r} is not one of "
                f"source.collection ({', '.join(colls)})"
            )
        out[item.collection_id].append(item)
    return {c: its for c, its in out.items() if its}


def _job(item: pystac.Item, key: str, folder: Path, *, clip: bool, categorical: bool) -> Job:
    asset = item.assets[key]
    href = asset.get_absolute_href() or asset.href
    suffix = PurePosixPath(urllib.parse.urlsplit(href).path).suffix or ".tif"
    size = asset.extra_fields.get("file:size")
    return Job(
        item=item,
        key=key,
        href=href,
        dest=folder / item.id / f"{key}{suffix if not clip else '.tif'}",
        clip=clip,
        categorical=categorical,
        size=int(size) if size is not None else None,
        checksum=asset.extra_fields.get("file:checksum"),
        grid=catalog.asset_grid(item, asset),
    )
