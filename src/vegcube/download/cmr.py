"""HDF5 granules from CMR-STAC → the mirror: search, fetch each granule, convert, write items.

NASA's CMR-STAC (``https://cmr.earthdata.nasa.gov/stac/LPCLOUD``) lists VIIRS granules as
items with one ``.h5`` data asset (keyed by a token of the granule name), no ``proj:`` and no
``raster:`` fields; the files need an Earthdata login (SMAP: ``…/stac/NSIDC_CPRD``, likewise).
For a recipe whose collections are granule products (`granule_product`: `sensors.viirs.GRANULES`,
`sensors.smap.SMAP_GRANULES`), `mirror_granules` searches the API like any STAC
API, fetches each granule with the download machinery (``VEGCUBE_HTTP_TOKEN`` bearer token or
``~/.netrc``, retries, resume, staging), converts the layers the recipe needs into COGs on the
tile's sinusoidal grid (`hdf5`; the AOI window plus `margin` pixels when clipping) and returns
one `Job` per COG, whose item is the granule in Planetary Computer's MODIS shape (``proj:wkt2``,
``proj:transform``, ``raster:bands`` with scale and nodata), for `mirror.write_catalog`.
Products on one global grid (SMAP, EASE-Grid 2.0) become one item per UTC day (`ease`).

A rerun skips granules whose COGs are complete; a granule is deleted once converted (pass
`keep_granules` to keep it).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pystac
from rasterio.crs import CRS

from .. import catalog, indices, sensors
from ..aoi import read_aoi
from ..errors import BandError, SourceError
from ..sensors.modis import SINUSOIDAL_WKT
from ..sensors.smap import smap_product
from ..sensors.viirs import GranuleProduct, granule_tile
from ..sensors.viirs import granule_product as tiled_product
from . import clip as clipping
from . import ease, hdf5
from .jobs import Grid, Job, MirroredFile, window
from .scheduler import Scheduler

__all__ = ["data_asset", "granule_item", "granule_product", "mirror_granules"]

_EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]


def mirror_granules(
    rc: Any,
    *,
    root: Path,
    scheduler: Scheduler,
    clip: bool,
    margin: int,
    keep_granules: bool = False,
    log: Callable[[str], None] = lambda msg: None,
) -> tuple[list[MirroredFile], list[Job]]:
    """Fetch and convert the granules recipe `rc` needs into ``root/<collection>/<item>/``:
    (the COG records, one `Job` per COG for `mirror.write_catalog`)."""
    geom = read_aoi(rc.aoi)
    bbox = tuple(float(v) for v in geom.boundingbox)
    found: list[tuple[str, list[str], pystac.Item]] = []
    for coll, where, keys, cloud in _targets(rc):
        items = catalog.search(
            where,
            collection=coll,
            bbox=bbox,  # type: ignore[arg-type]
            start=rc.time.start,
            end=rc.time.end,
            max_cloud_cover=cloud,
        )
        found += [(coll, keys, it) for it in items]
    if not found:
        raise SourceError(
            f"source: no {' or '.join(rc.source.collections)} granules in {rc.source.catalog} "
            f"intersect the AOI between {rc.time.start} and {rc.time.end}; check aoi and time"
        )
    daily = [f for f in found if smap_product(f[0]) is not None]
    done, layers = ease.mirror_daily(
        daily, root=root, scheduler=scheduler, clip=clip, margin=margin, bbox=bbox,
        data_asset=data_asset, qa_keys=_qa_keys, keep_granules=keep_granules, log=log,
    )  # fmt: skip
    fetch: dict[Job, list[Job]] = {}
    for coll, keys, item in found:
        product = tiled_product(coll)
        if product is None:
            continue  # a global-grid product (SMAP), mirrored above
        tile = granule_tile(item.id)
        if tile is None:
            raise SourceError(f"item {item.id}: not a tiled granule name (…hHHvVV…)")
        grid: Grid = (CRS.from_wkt(SINUSOIDAL_WKT), hdf5.tile_grid(*tile, product.pixels),
                      (product.pixels, product.pixels))  # fmt: skip
        if not ease.overlaps(grid, bbox):
            log(f"{item.id}: the AOI misses tile h{tile[0]:02d}v{tile[1]:02d}; skipped")
            continue
        key, href = data_asset(item)
        folder = root / coll / item.id
        new = granule_item(item, collection=coll, product=product, grid=grid, keys=keys)
        jobs = [
            Job(new, k, href, folder / f"{k}.tif", clip, k in _qa_keys(coll), None, None, grid)
            for k in keys
        ]
        layers += jobs
        if all(clipping.complete(j, bbox=bbox, margin=margin) for j in jobs):
            done += [j.mirrored("skipped", 0) for j in jobs]
            continue
        name = PurePosixPath(urllib.parse.urlsplit(href).path).name or f"{item.id}.h5"
        granule = Job(item, key, href, folder / name, False, False, None, None, None)
        fetch[granule] = jobs
    if fetch or not daily:
        log(f"{len(found) - len(daily)} granules: {len(fetch)} to fetch and convert")
    for got in scheduler.run(list(fetch)) if fetch else []:
        granule = next(g for g in fetch if g.dest == got.path)
        for job in fetch[granule]:
            done.append(_convert(granule.dest, job, product_of(job), bbox=bbox, margin=margin))
        if not keep_granules:
            granule.dest.unlink(missing_ok=True)
    return done, layers


def data_asset(item: pystac.Item) -> tuple[str, str]:
    """(key, href) of the item's HDF5 data file: the ``.h5`` asset served over HTTP(S) (or a
    local path), not its ``s3://`` twin. `SourceError` lists the assets when there is none."""
    best: tuple[int, str, str] | None = None
    for key, asset in item.assets.items():
        href = asset.get_absolute_href() or asset.href
        parts = urllib.parse.urlsplit(href)
        if not parts.path.lower().endswith((".h5", ".he5")) or "data" not in (asset.roles or []):
            continue
        rank = {"https": 0, "http": 1, "file": 2, "": 2}.get(parts.scheme, 9)
        if rank < 9 and (best is None or rank < best[0]):
            best = (rank, key, href)
    if best is None:
        listing = ", ".join(f"{k} ({a.href})" for k, a in item.assets.items())
        raise SourceError(
            f"item {item.id}: no HDF5 (.h5) data asset served over HTTP(S); its assets are: "
            f"{listing}"
        )
    return best[1], best[2]


def granule_item(
    src: pystac.Item,
    *,
    collection: str,
    product: GranuleProduct,
    grid: Grid,
    keys: list[str],
) -> pystac.Item:
    """`src` (a CMR-STAC granule item) in Planetary Computer's MODIS item shape: sinusoidal
    ``proj:`` fields of its tile, one COG asset per layer of `keys` with ``raster:bands``."""
    tile = granule_tile(src.id)
    assert tile is not None
    h, v = tile
    _, tr, shape = grid
    p = src.properties
    props: dict[str, Any] = {
        "start_datetime": p.get("start_datetime"),
        "end_datetime": p.get("end_datetime"),
        "platform": product.platform,
        "instruments": ["viirs"],
        "viirs:horizontal-tile": h,
        "viirs:vertical-tile": v,
        "viirs:tile-id": f"51{h:03d}{v:03d}",
        "proj:epsg": None,
        "proj:wkt2": SINUSOIDAL_WKT,
        "proj:shape": list(shape),
        "proj:transform": list(tr)[:6],
    }
    when = src.datetime or src.common_metadata.start_datetime or dt.datetime.now(dt.timezone.utc)
    item = pystac.Item(
        src.id,
        src.geometry,
        src.bbox,
        when,
        {k: v for k, v in props.items() if v is not None or k == "proj:epsg"},
        stac_extensions=list(_EXTENSIONS),
        collection=collection,
    )
    for key in keys:
        item.add_asset(key, hdf5.layer_asset(key, product.layers[key], product.resolution))
    return item


def granule_product(collection: str | None) -> GranuleProduct | None:
    """The HDF5 granule product of a CMR-STAC collection id: tiled (VIIRS) or on a global
    grid (SMAP); None if the collection is not a granule product."""
    return tiled_product(collection) or smap_product(collection)


def _qa_keys(collection: str) -> set[str]:
    """The asset keys of the collection's QA layers (categorical)."""
    sensor = sensors.for_collection(collection)
    return {sensor.asset_aliases[b][0] for b in sensor.qa_bands if b in sensor.asset_aliases}


def product_of(job: Job) -> GranuleProduct:
    """The granule product of a layer job's item."""
    product = granule_product(job.item.collection_id)
    assert product is not None
    return product


def _targets(rc: Any) -> list[tuple[str, str, list[str], float]]:
    """(collection, catalog, layers, max cloud cover) to mirror: the source collections'
    layers for the recipe's indices (QA included) and, when the ``lst`` source is a granule
    product too, its temperature band and that band's own QA."""
    out = []
    for coll in rc.source.collections:
        sensor = sensors.for_collection(coll)
        bands = indices.bands_for(coll, rc.indices)
        missing = [b for b in bands if b not in sensor.asset_aliases]
        if missing:
            raise BandError(
                f"{coll} has no {', '.join(missing)} band for indices {', '.join(rc.indices)}; "
                f"its bands: {', '.join(sensor.asset_aliases)}",
                band=missing[0],
                field="indices",
            )
        keys = [sensor.asset_aliases[b][0] for b in bands]
        out.append((coll, rc.source.catalog, keys, rc.source.max_cloud_cover))
    lst = getattr(rc, "lst", None)
    if lst is None:
        return out
    for coll in lst.collections:
        if granule_product(coll) is None:
            continue
        sensor = sensors.for_collection(coll)
        band = lst.band_of(coll)
        keys = [sensor.asset_aliases[b][0] for b in (band, sensor.qa_for(band))]
        out.append((coll, lst.catalog or rc.source.catalog, keys, lst.max_cloud_cover))
    return out


def _convert(
    h5: Path, job: Job, product: GranuleProduct, *, bbox: tuple[float, ...], margin: int
) -> MirroredFile:
    """One layer of a fetched granule → ``job.dest`` (the AOI window when clipping)."""
    assert job.grid is not None
    layer = product.layers[job.key]
    tile = granule_tile(job.item.id)
    assert tile is not None
    tr, _, grid = hdf5.granule_grid(h5, dataset=layer.dataset, tile=tile)
    win = window(job.grid, bbox, margin) if job.clip else None
    hdf5.convert(
        h5,
        layer.dataset,
        job.dest,
        transform=tr,
        nodata=layer.nodata,
        fills=layer.fills,
        dtype=layer.dtype,
        grid=grid,
        window=win,
    )
    return job.mirrored("hdf5", job.dest.stat().st_size)
