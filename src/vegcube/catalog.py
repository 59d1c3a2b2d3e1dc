"""Find the scenes: STAC APIs (pystac-client) and static catalogs (pystac), filtered alike."""

from __future__ import annotations

import datetime as dt
import urllib.error
from collections.abc import Iterable
from pathlib import Path

import pystac
from shapely.geometry import box, shape

from .errors import SourceError

__all__ = ["KNOWN_CATALOGS", "resolve_catalog", "search"]

KNOWN_CATALOGS = {
    "earth-search": "https://earth-search.aws.element84.com/v1",
}


def resolve_catalog(catalog: str) -> str:
    """A known catalog name, URL or path → the URL or absolute path to open."""
    if catalog in KNOWN_CATALOGS:
        return KNOWN_CATALOGS[catalog]
    if "://" in catalog:
        return catalog
    path = Path(catalog).expanduser()
    if path.is_dir():
        path = path / "catalog.json"
    if not path.is_file():
        raise SourceError(
            f"source.catalog: {catalog!r} is neither a known catalog "
            f"({', '.join(KNOWN_CATALOGS)}), a URL, nor an existing catalog.json"
        )
    return str(path.resolve())


def search(
    catalog: str,
    *,
    collection: str,
    bbox: tuple[float, float, float, float],
    start: dt.date,
    end: dt.date,
    max_cloud_cover: float = 100,
) -> list[pystac.Item]:
    """Items of `collection` intersecting `bbox` (lon/lat) acquired from `start` to `end` inclusive.

    `catalog` is a known name, a STAC API URL, or a static catalog (path or URL).
    Items are returned sorted by datetime, duplicates (same id) removed.
    """
    href = resolve_catalog(catalog)
    if "://" in href and not href.endswith(".json"):
        items: Iterable[pystac.Item] = _search_api(href, collection, bbox, start, end)
    else:
        items = _walk_static(href, collection)
    window = box(*bbox)
    t0 = dt.datetime.combine(start, dt.time.min, dt.timezone.utc)
    t1 = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, dt.timezone.utc)
    found: dict[str, pystac.Item] = {}
    for item in items:
        when = item.datetime or item.common_metadata.start_datetime
        if when is None or not t0 <= _utc(when) < t1:
            continue
        if item.properties.get("eo:cloud_cover", 0) > max_cloud_cover:
            continue
        if item.geometry is not None and not shape(item.geometry).intersects(window):
            continue
        found.setdefault(item.id, item)
    return sorted(found.values(), key=lambda it: (_utc(it.datetime), it.id))  # type: ignore[arg-type]


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _walk_static(href: str, collection: str) -> Iterable[pystac.Item]:
    try:
        root = pystac.Catalog.from_file(href)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise SourceError(f"source.catalog: cannot read static catalog {href}: {exc}") from exc
    colls = {c.id: c for c in root.get_all_collections()}
    if isinstance(root, pystac.Collection):
        colls.setdefault(root.id, root)
    if collection not in colls:
        raise SourceError(
            f"source.collection: {collection!r} is not in {href}; "
            f"it has: {', '.join(sorted(colls)) or 'no collections'}"
        )
    return colls[collection].get_items(recursive=True)


def _search_api(
    url: str,
    collection: str,
    bbox: tuple[float, float, float, float],
    start: dt.date,
    end: dt.date,
) -> Iterable[pystac.Item]:
    from pystac_client import Client
    from pystac_client.exceptions import APIError

    try:
        client = Client.open(url)
        search = client.search(
            collections=[collection],
            bbox=bbox,
            datetime=f"{start.isoformat()}/{end.isoformat()}",
        )
        return list(search.items())
    except APIError as exc:
        raise SourceError(f"source: the STAC API at {url} refused the search: {exc}") from exc
    except (OSError, urllib.error.URLError) as exc:
        raise SourceError(f"source.catalog: cannot reach the STAC API at {url}: {exc}") from exc
