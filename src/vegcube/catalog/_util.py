"""Small helpers shared by the catalog modules: an item's acquisition time in UTC, an
asset's declared pixel grid, the cloud-cover field, HTTP timeouts and short error text."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import pystac
from rasterio.crs import CRS
from rasterio.transform import Affine

#: an asset's pixel grid: CRS, transform, (rows, cols)
Grid = tuple[CRS, Affine, tuple[int, int]]

_CLOUD = "eo:cloud_cover"
_TIMEOUT = (10.0, 120.0)  # connect, read (seconds)


def _when(item: pystac.Item) -> dt.datetime | None:
    when = item.datetime or item.common_metadata.start_datetime
    return None if when is None else _utc(when)


def acquired(item: pystac.Item) -> dt.datetime:
    """When `item` was acquired (UTC): its `datetime`, or the start of its span when
    `datetime` is null (Planetary Computer's MODIS composites, SWI, …)."""
    when = _when(item)
    if when is None:  # pystac refuses such items; a hand-built one may still lack both
        raise ValueError(f"item {item.id} has neither datetime nor start_datetime")
    return when


def scene_day(item: pystac.Item, lon: float) -> dt.date:
    """The day a scene counts in: the local solar day at longitude `lon` of an acquisition
    (`datetime` set), the start's UTC day of a composite whose `datetime` is null (a
    16-day MODIS composite starting 1 January at 00:00 UTC is not a December scene west of
    Greenwich). The offset is odc-stac's `solar_day` grouping's: whole hours, int(lon / 15)."""
    if item.datetime is None:
        return acquired(item).date()
    return (_utc(item.datetime) + dt.timedelta(hours=int(lon / 15))).date()


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + " …"


def asset_grid(item: pystac.Item, asset: pystac.Asset) -> Grid | None:
    """CRS, transform and (rows, cols) of an asset from its (or its item's) ``proj:`` fields;
    None where they are missing or malformed (then only the file itself tells)."""

    def get(name: str) -> Any:
        return asset.extra_fields.get(name, item.properties.get(name))

    code, epsg = get("proj:code"), get("proj:epsg")
    tr, shp = get("proj:transform"), get("proj:shape")
    if tr is None or shp is None or (code is None and epsg is None):
        return None
    try:
        crs = _crs(str(code) if code is not None else int(epsg))
        return crs, Affine(*tr[:6]), (int(shp[0]), int(shp[1]))
    except Exception:  # malformed metadata
        return None


@lru_cache(maxsize=64)
def _crs(code: str | int) -> CRS:
    return CRS.from_user_input(code)
