"""Granules on one global grid (SMAP on EASE-Grid 2.0 global 9 km) → one COG item per UTC day.

`mirror_daily` takes the CMR-STAC granule items `cmr.mirror_granules` found for products of
`sensors.smap.SMAP_GRANULES`, groups them by collection and UTC day (of several versions of
a granule, the greatest id is kept), fetches the day's granules with the download machinery,
reads the AOI window (plus `margin` cells) of each layer on the product's global grid and
writes it as a COG:

- one granule a day (L3): the values as stored, fills → nodata (`hdf5.convert`);
- several (L4, 3-hourly): their cell-by-cell mean over the granules where every requested
  layer holds a value, and the count of those granules as the ``granule_count`` layer.

Each day becomes one item (``<short name>_<YYYYMMDD>``) dated at noon UTC (its solar day is
its UTC day anywhere on Earth), ``start_datetime``/``end_datetime`` spanning its granules,
``vegcube:granules`` listing them, ``proj:code`` EPSG:6933 and ``raster:bands`` with nodata.
A rerun skips days whose COGs are complete; granules are deleted once converted.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pystac
import rasterio.windows
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from ..errors import DataError
from ..sensors.smap import SmapProduct, smap_product
from . import clip as clipping
from . import hdf5
from .jobs import Grid, Job, MirroredFile, window
from .scheduler import Scheduler

__all__ = ["day_item", "granule_day", "mirror_daily", "overlaps"]

_EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
#: (collection, keys, CMR-STAC item) as `cmr.mirror_granules` finds them
Found = tuple[str, list[str], pystac.Item]


def mirror_daily(
    found: Sequence[Found],
    *,
    root: Path,
    scheduler: Scheduler,
    clip: bool,
    margin: int,
    bbox: tuple[float, ...],
    data_asset: Callable[[pystac.Item], tuple[str, str]],
    qa_keys: Callable[[str], set[str]],
    keep_granules: bool = False,
    log: Callable[[str], None] = lambda msg: None,
) -> tuple[list[MirroredFile], list[Job]]:
    """Fetch, convert and average the granules of `found` per day into
    ``root/<collection>/<short>_<YYYYMMDD>/<layer>.tif``: (COG records, one `Job` per COG)."""
    days: dict[tuple[str, dt.date], tuple[list[str], dict[Any, pystac.Item]]] = {}
    for coll, keys, item in found:
        start = _start(item)
        _, per_start = days.setdefault((coll, start.date()), (keys, {}))
        if start not in per_start or item.id > per_start[start].id:  # newest version
            per_start[start] = item
    done: list[MirroredFile] = []
    layers: list[Job] = []
    fetched = 0
    for (coll, day), (keys, per_start) in sorted(days.items()):
        product = smap_product(coll)
        assert product is not None
        grid: Grid = product.global_grid
        if not overlaps(grid, bbox):
            log(f"{coll} {day}: the AOI misses the grid; skipped")
            continue
        granules = [per_start[s] for s in sorted(per_start)]
        item = day_item(granules, collection=coll, product=product, day=day, grid=grid,
                        keys=keys)  # fmt: skip
        folder = root / coll / item.id
        href = data_asset(granules[0])[1]
        qa = qa_keys(coll)
        jobs = [Job(item, k, href, folder / f"{k}.tif", clip, k in qa, None, None, grid)
                for k in keys]  # fmt: skip
        layers += jobs
        if all(clipping.complete(j, bbox=bbox, margin=margin) for j in jobs):
            done += [j.mirrored("skipped", 0) for j in jobs]
            continue
        fetch = []
        for g in granules:
            key, url = data_asset(g)
            name = PurePosixPath(urllib.parse.urlsplit(url).path).name or f"{g.id}.h5"
            fetch.append(Job(g, key, url, folder / name, False, False, None, None, None))
        scheduler.run(fetch)
        fetched += len(fetch)
        win = window(grid, bbox, margin) if clip else None
        done += convert_day([j.dest for j in fetch], jobs, product, window=win)
        if not keep_granules:
            for j in fetch:
                j.dest.unlink(missing_ok=True)
    log(f"{len(days)} days of granules: {fetched} granules fetched and converted")
    return done, layers


def granule_day(item: pystac.Item) -> dt.date:
    """The UTC day a granule counts in: that of its start (or its datetime)."""
    return _start(item).date()


def _start(item: pystac.Item) -> dt.datetime:
    when = item.common_metadata.start_datetime or item.datetime
    if when is None:
        raise DataError(f"item {item.id}: no datetime or start_datetime")
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def day_item(
    granules: Sequence[pystac.Item],
    *,
    collection: str,
    product: SmapProduct,
    day: dt.date,
    grid: Grid,
    keys: Sequence[str],
) -> pystac.Item:
    """The day's item: its granules' span and ids, the global grid's ``proj:`` fields, one COG
    asset per layer of `keys` with ``raster:bands`` (data type, nodata, unit)."""
    _, tr, shape = grid
    starts = [_start(g) for g in granules]
    ends = [g.common_metadata.end_datetime or s for g, s in zip(granules, starts, strict=True)]
    noon = dt.datetime.combine(day, dt.time(12), dt.timezone.utc)
    props: dict[str, Any] = {
        "start_datetime": min(starts).isoformat().replace("+00:00", "Z"),
        "end_datetime": max(ends).isoformat().replace("+00:00", "Z"),
        "platform": product.platform,
        "instruments": list(product.instruments),
        "vegcube:granules": [g.id for g in granules],
        "proj:code": product.crs,
        "proj:shape": list(shape),
        "proj:transform": list(tr)[:6],
    }
    item = pystac.Item(
        f"{product.short_name}_{day:%Y%m%d}",
        granules[0].geometry,
        granules[0].bbox,
        noon,
        props,
        stac_extensions=list(_EXTENSIONS),
        collection=collection,
    )
    for key in keys:
        item.add_asset(key, hdf5.layer_asset(key, product.layers[key], round(tr.a, 3)))
    return item


def convert_day(
    paths: Sequence[Path], jobs: Sequence[Job], product: SmapProduct, *, window: Window | None
) -> list[MirroredFile]:
    """The layers of `jobs` from the day's granules `paths`: as stored from a single granule,
    else the mean over the granules where every requested layer holds a value (+ count)."""
    _, tr, _ = product.global_grid
    out_tr = tr if window is None else rasterio.windows.transform(window, tr)
    data = [j for j in jobs if product.layers[j.key].dataset]
    if len(paths) == 1 and len(data) == len(jobs):
        for j in jobs:
            layer = product.layers[j.key]
            hdf5.convert(paths[0], layer.dataset, j.dest, transform=tr, nodata=layer.nodata,
                         fills=layer.fills, dtype=layer.dtype, window=window,
                         crs=product.crs)  # fmt: skip
        return [j.mirrored("hdf5", j.dest.stat().st_size) for j in jobs]
    stacks = {j.key: np.stack([_values(p, product, j.key, window) for p in paths]) for j in data}
    ok = np.logical_and.reduce([np.isfinite(v) for v in stacks.values()]) if stacks else None
    if ok is None:
        raise DataError(f"{paths[0].name}: no data layer requested besides the granule count")
    count = ok.sum(axis=0)
    for j in jobs:
        layer = product.layers[j.key]
        if j.key in stacks:
            total = np.where(ok, stacks[j.key], 0.0).sum(axis=0)
            mean = np.where(count > 0, total / np.maximum(count, 1), layer.nodata)
            arr = mean.astype(layer.dtype)
        else:  # the granule count (vegcube's QA of the day's mean)
            arr = count.astype(layer.dtype)
        hdf5.write_cog(j.dest, arr, transform=out_tr, nodata=layer.nodata, crs=product.crs)
    return [j.mirrored("hdf5", j.dest.stat().st_size) for j in jobs]


def _values(path: Path, product: SmapProduct, key: str, win: Window | None) -> np.ndarray:
    """A layer's window as float64, every fill value (and ``_FillValue``) → NaN."""
    layer = product.layers[key]
    raw, attrs = hdf5.read_layer(path, layer.dataset, window=win)
    if raw.ndim != 2:
        raise DataError(f"{path.name}: {layer.dataset!r} has {raw.ndim} dimensions, expected 2")
    marked = hdf5.to_nodata(raw, attrs, fills=layer.fills, nodata=layer.nodata)
    return np.where(marked == layer.nodata, np.nan, marked.astype("float64"))


def overlaps(grid: Grid, bbox: tuple[float, ...]) -> bool:
    """True if the lon/lat `bbox` meets the grid's extent."""
    crs, tr, (rows, cols) = grid
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, *bbox, densify_pts=21)
    x0, y0 = tr.c, tr.f
    x1, y1 = x0 + cols * tr.a, y0 + rows * tr.e
    return left < x1 and right > x0 and bottom < y0 and top > y1
