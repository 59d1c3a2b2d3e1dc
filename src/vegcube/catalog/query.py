"""The one search entry point: a STAC API or a static catalog, the same client-side filters
(dates, cloud cover, footprint) whatever the server applied, one item per scene, signed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pystac
from shapely.geometry import box, shape

from ._util import _CLOUD, _when
from .api import _PAGE_SIZE, _search_api, retry_policy
from .names import Signer, resolve_catalog, signer_for
from .scenes import deduplicate
from .static import _walk_static

__all__ = ["search"]


def search(
    catalog: str,
    *,
    collection: str | Sequence[str],
    bbox: tuple[float, float, float, float],
    start: dt.date,
    end: dt.date,
    max_cloud_cover: float = 100,
    sign: Signer | None = None,
    page_size: int = _PAGE_SIZE,
    retry: Any = None,
) -> list[pystac.Item]:
    """Items of `collection` intersecting `bbox` (lon/lat) acquired from `start` to `end` inclusive.

    `catalog` is a known name (`CATALOGS`), a STAC API URL, or a static catalog (path or URL);
    `collection` one collection id or several (their items are merged).
    Items are returned sorted by datetime; the same scene from several processing runs is kept
    once, the newest (`deduplicate`). `sign` is applied to each item returned; by default a
    named catalog's own signer is used (`signer_for`). `page_size` is the ``limit`` asked of an
    API per page; `retry` a urllib3 `Retry` replacing `retry_policy()`.
    """
    href = resolve_catalog(catalog)
    signer = sign if sign is not None else signer_for(catalog)
    collections = [collection] if isinstance(collection, str) else list(collection)
    if "://" in href and not href.endswith(".json"):
        items: Iterable[pystac.Item] = _search_api(
            href,
            collections,
            bbox,
            start,
            end,
            max_cloud_cover,
            page_size=page_size,
            retry=retry if retry is not None else retry_policy(),
        )
    else:
        items = (it for c in collections for it in _walk_static(href, c))
    window = box(*bbox)
    t0 = dt.datetime.combine(start, dt.time.min, dt.timezone.utc)
    t1 = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, dt.timezone.utc)
    found: dict[str, pystac.Item] = {}
    for item in items:  # the safety net: the same filters whatever the server applied
        when = _when(item)
        if when is None or not t0 <= when < t1:
            continue
        if item.properties.get(_CLOUD, 0) > max_cloud_cover:
            continue
        if item.geometry is not None and not shape(item.geometry).intersects(window):
            continue
        found.setdefault(item.id, item)
    kept = deduplicate(found.values())
    if signer is not None:
        for item in kept:
            signer(item)
    return kept
