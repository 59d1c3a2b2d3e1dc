"""The mirror's static STAC catalog: the source items, their assets pointing to local files.

``DIR/catalog.json`` → a collection per source collection (``DIR/<collection>/``) → an item
per scene whose assets are the mirrored files, with their clipped grids and footprints; a
recipe can use it as ``source.catalog``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pystac
import rasterio
from rasterio.warp import transform_bounds
from shapely.geometry import box, mapping, shape

from ..catalog import acquired
from ..export import save_catalog
from .jobs import Job, MirroredFile

__all__ = ["Mirror", "write_catalog"]

_COG_MEDIA = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass
class Mirror:
    """What `download` wrote, and what it took."""

    catalog: Path
    files: list[MirroredFile] = field(default_factory=list)
    retries: int = 0  #: transient failures survived (HTTP 429/5xx, resets, truncation, checksum)
    polls: int = 0  #: staging polls made
    seconds: float = 0.0

    @property
    def bytes(self) -> int:
        """Bytes written by this download (files complete from an earlier run not counted)."""
        return sum(f.bytes for f in self.files if f.mode != "skipped")


def write_catalog(root: Path, name: str, jobs: list[Job]) -> Path:
    """``root/catalog.json``: a self-contained catalog of the files of `jobs` (recipe `name`)."""
    groups: dict[str, dict[int, list[Job]]] = {}
    for job in jobs:
        coll_id = job.dest.parent.parent.name
        groups.setdefault(coll_id, {}).setdefault(id(job.item), []).append(job)
    cat = pystac.Catalog("vegcube-mirror", f"vegcube download mirror for recipe {name!r}")
    for coll_id, per_item in groups.items():
        mirrored = [_mirror_item(js[0].item, js) for js in per_item.values()]
        boxes = [it.bbox for it in mirrored if it.bbox]
        times = [acquired(it) for it in mirrored]
        extent = pystac.Extent(
            pystac.SpatialExtent([[min(b[0] for b in boxes), min(b[1] for b in boxes),
                                   max(b[2] for b in boxes), max(b[3] for b in boxes)]]),
            pystac.TemporalExtent([[min(times), max(times)]]),
        )  # fmt: skip
        keys = sorted({j.key for js in per_item.values() for j in js})
        coll = pystac.Collection(
            coll_id,
            f"vegcube mirror of {coll_id} for recipe {name!r}: assets {', '.join(keys)} "
            "clipped to the AOI.",
            extent,
            license="other",
        )
        cat.add_child(coll)
        coll.add_items(mirrored)
    cat.normalize_hrefs(str(root))
    return save_catalog(cat, root)


def _mirror_item(item: pystac.Item, jobs: list[Job]) -> pystac.Item:
    """A copy of `item` whose assets are the local files, with their clipped grids."""
    new = item.clone()
    new.clear_links()
    new.collection_id = jobs[0].dest.parent.parent.name
    new.assets = {}
    footprint = None
    for job in jobs:
        asset = item.assets[job.key].clone()
        asset.href = f"./{job.dest.name}"
        extra = asset.extra_fields
        extra.pop("alternate", None)
        with rasterio.open(job.dest) as ds:
            extra["proj:shape"] = [ds.height, ds.width]
            extra["proj:transform"] = list(ds.transform)[:6]
            if "proj:bbox" in extra:
                extra["proj:bbox"] = list(ds.bounds)
            ll = box(*transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21))
            full = job.grid[2] if job.grid is not None else None
            clipped = job.clip if full is None else (ds.height, ds.width) != full
        if clipped:
            extra.pop("file:checksum", None)
            extra.pop("file:size", None)
            footprint = ll if footprint is None else footprint.union(ll)
        if asset.media_type is None:
            asset.media_type = _COG_MEDIA
        new.add_asset(job.key, asset)
    if footprint is not None and item.geometry is not None:
        geom = shape(item.geometry).intersection(footprint)
        if not geom.is_empty:
            new.geometry, new.bbox = mapping(geom), list(geom.bounds)
    return new
