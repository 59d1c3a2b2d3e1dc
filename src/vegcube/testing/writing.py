"""Writing the generated archives: tiled DEFLATE COGs, STAC items over the demo's tile, and
catalogs the generators join (Sentinel-2 L2A and L1C, Landsat, MODIS share them)."""

from __future__ import annotations

import json
import math
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio
import rasterio.shutil
from rasterio.io import MemoryFile
from rasterio.transform import Affine

from .world import Model

__all__ = ["blocksize", "iso", "join_catalog", "reusable", "stac_item", "write_cog"]


def blocksize(side: int) -> int:
    """The COG block size (128..512) for an image `side` pixels wide."""
    return int(min(512, max(128, 2 ** math.ceil(math.log2(side / 2)))))


def write_cog(
    path: Path,
    arr: np.ndarray,
    transform: Affine,
    *,
    crs: str,
    nodata: float | None,
    resampling: str = "nearest",
) -> None:
    """Write a single-band tiled DEFLATE COG with overviews (`resampling`), the horizontal
    predictor for integers wider than a byte."""
    profile = {
        "driver": "GTiff",
        "height": arr.shape[0],
        "width": arr.shape[1],
        "count": 1,
        "dtype": arr.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    opts: dict[str, Any] = {
        "BLOCKSIZE": blocksize(max(arr.shape)),
        "COMPRESS": "DEFLATE",
        "OVERVIEWS": "AUTO",
        "OVERVIEW_RESAMPLING": resampling,
    }
    if arr.dtype.kind in "iu" and arr.dtype.itemsize > 1:
        opts["PREDICTOR"] = 2
    with MemoryFile() as mem, mem.open(**profile) as src:
        src.write(arr, 1)
        rasterio.shutil.copy(src, path, driver="COG", **opts)


def reusable(root: Path, manifest: Path, params: dict[str, Any], collection: str) -> bool:
    """True when `manifest` records the same `params` and ``root/catalog.json`` exists: the
    archive is reused. Otherwise the manifest and the collection's folder are removed (and
    `root` made) for a fresh write; the manifest is written last, once everything is there."""
    if manifest.is_file() and (root / "catalog.json").is_file():
        try:
            if json.loads(manifest.read_text()).get("params") == params:
                return True
        except ValueError:
            pass
    manifest.unlink(missing_ok=True)
    if (root / collection).is_dir():
        shutil.rmtree(root / collection)
    root.mkdir(parents=True, exist_ok=True)
    return False


def iso(t: datetime) -> str:
    """`t` as STAC writes it: ISO 8601 in UTC with milliseconds and a Z."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def join_catalog(root: Path, coll: pystac.Collection, *, title: str) -> None:
    """Save `coll` under `root` as a child of ``root/catalog.json``, created (with `title`) or
    joined; a collection of the same id already there is replaced."""
    href = root / "catalog.json"
    if href.is_file():
        cat = pystac.Catalog.from_file(str(href))
        if cat.get_child(coll.id) is not None:
            cat.remove_child(coll.id)
    else:
        cat = pystac.Catalog(f"vegcube-{coll.id}", title)
        cat.normalize_hrefs(str(root))
    cat.add_child(coll)
    coll.normalize_hrefs(str(root / coll.id))
    coll.save(pystac.CatalogType.SELF_CONTAINED)
    cat.save_object(include_self_link=False, dest_href=str(href))


def stac_item(
    model: Model,
    item_id: str,
    when: datetime,
    props: dict[str, Any],
    assets: dict[str, pystac.Asset],
    *,
    collection: str,
    extensions: list[str],
) -> pystac.Item:
    """An item over the demo tile's footprint (shared by the demo's generators)."""
    lons = [p[0] for p in model.footprint]
    lats = [p[1] for p in model.footprint]
    item = pystac.Item(
        item_id,
        {"type": "Polygon", "coordinates": [model.footprint]},
        [min(lons), min(lats), max(lons), max(lats)],
        when,
        props,
        stac_extensions=list(extensions),
        collection=collection,
    )
    for key, asset in assets.items():
        item.add_asset(key, asset)
    return item
