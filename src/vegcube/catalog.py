"""Find the scenes: STAC APIs (pystac-client) and static catalogs (pystac), filtered alike.

Named catalogs (`CATALOGS`) know their URL, how their assets are signed and which environment
variables hold credentials. API searches page through the results, retry HTTP 429/5xx with
exponential backoff (honouring ``Retry-After``), send the cloud-cover limit to the server when
it can filter on it, and keep the client-side filters as a safety net. The same scene published
twice (two processing runs) is kept once: the newest.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import urllib.error
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pystac
from shapely.geometry import box, shape

from . import sensors
from .errors import SourceError
from .sensors.values import processing_baseline

__all__ = [
    "CATALOGS",
    "KNOWN_CATALOGS",
    "PUBLISHED_FIELDS",
    "MonthSummary",
    "NamedCatalog",
    "RetryingStacIO",
    "Signer",
    "asset_env",
    "deduplicate",
    "latency",
    "monthly_summary",
    "one_per_acquisition",
    "published",
    "requester_pays",
    "resolve_catalog",
    "retry_policy",
    "scene_key",
    "search",
    "signer_for",
    "storage_env",
]

#: a modifier applied to each item found (e.g. adds a token to its asset hrefs)
Signer = Callable[[pystac.Item], Any]


@dataclass(frozen=True)
class NamedCatalog:
    """A STAC API known by name: where it is, how assets are signed, which credentials."""

    name: str
    url: str
    description: str
    #: signing scheme of its assets (None: assets are public or read with credentials)
    signer: str | None = None
    #: environment variables read to access its assets (never printed)
    credentials: tuple[str, ...] = ()


CATALOGS: dict[str, NamedCatalog] = {
    c.name: c
    for c in (
        NamedCatalog(
            "earth-search",
            "https://earth-search.aws.element84.com/v1",
            "Element 84 Earth Search v1 (AWS open data; public COGs)",
        ),
        NamedCatalog(
            "planetary-computer",
            "https://planetarycomputer.microsoft.com/api/stac/v1",
            "Microsoft Planetary Computer (Azure; assets signed with a SAS token)",
            signer="planetary-computer",
            credentials=("PC_SDK_SUBSCRIPTION_KEY",),
        ),
        NamedCatalog(
            "cdse",
            "https://stac.dataspace.copernicus.eu/v1",
            "Copernicus Data Space Ecosystem (assets on its S3 endpoint, with your S3 keys)",
            credentials=("CDSE_S3_ACCESS_KEY", "CDSE_S3_SECRET_KEY"),
        ),
    )
}
#: name → URL of the named catalogs (kept for callers of earlier versions)
KNOWN_CATALOGS = {name: c.url for name, c in CATALOGS.items()}

_CDSE_S3_ENDPOINT = "eodata.dataspace.copernicus.eu"
_CLOUD = "eo:cloud_cover"
_PAGE_SIZE = 200
_TIMEOUT = (10.0, 120.0)  # connect, read (seconds)


def resolve_catalog(catalog: str) -> str:
    """A known catalog name, URL or path → the URL or absolute path to open."""
    if catalog in CATALOGS:
        return CATALOGS[catalog].url
    if "://" in catalog:
        return catalog
    path = Path(catalog).expanduser()
    if path.is_dir():
        path = path / "catalog.json"
    if not path.is_file():
        raise SourceError(
            f"source.catalog: {catalog!r} is neither a known catalog "
            f"({', '.join(CATALOGS)}), a URL, nor an existing catalog.json"
        )
    return str(path.resolve())


def _named(catalog: str) -> NamedCatalog | None:
    if catalog in CATALOGS:
        return CATALOGS[catalog]
    url = catalog.rstrip("/")
    return next((c for c in CATALOGS.values() if c.url == url), None)


def signer_for(catalog: str) -> Signer | None:
    """The signer a named catalog (or its URL) needs for its assets; None if it needs none.

    Planetary Computer's signer comes from the optional ``planetary-computer`` package.
    """
    named = _named(catalog)
    if named is None or named.signer is None:
        return None
    try:
        import planetary_computer  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise SourceError(
            f"source.catalog: {named.name!r} assets must be signed by the planetary-computer "
            "package, which is not installed; install it with "
            "`pip install 'vegcube[planetary-computer]'`"
        ) from None
    sign: Signer = planetary_computer.sign_inplace
    return sign


class _Masked(dict[str, str]):
    """GDAL options holding secrets: their repr never shows the values."""

    def __repr__(self) -> str:
        shown = {k: ("***" if _secret(k) else v) for k, v in self.items()}
        return f"{type(self).__name__}({shown!r})"

    __str__ = __repr__


def _secret(key: str) -> bool:
    return any(w in key.upper() for w in ("SECRET", "KEY_ID", "TOKEN", "PASSWORD"))


def asset_env(catalog: str) -> dict[str, str]:
    """GDAL/rasterio options needed to read the assets of `catalog` ({} if none are needed).

    ``cdse``: its assets are ``s3://eodata/...`` objects on CDSE's own S3 endpoint, read with
    the S3 keys you generate in your CDSE account, taken from ``CDSE_S3_ACCESS_KEY`` and
    ``CDSE_S3_SECRET_KEY``. The values are never printed (the mapping's repr masks them).
    """
    named = _named(catalog)
    if named is None or named.name != "cdse":
        return {}
    missing = [v for v in named.credentials if not os.environ.get(v)]
    if missing:
        raise SourceError(
            f"source.catalog: reading 'cdse' assets needs your CDSE S3 keys in the environment "
            f"variables {' and '.join(named.credentials)}; not set: {', '.join(missing)} "
            "(create keys at https://eodata-s3keysmanager.dataspace.copernicus.eu)"
        )
    return _Masked(
        AWS_S3_ENDPOINT=_CDSE_S3_ENDPOINT,
        AWS_VIRTUAL_HOSTING="FALSE",
        AWS_HTTPS="YES",
        AWS_ACCESS_KEY_ID=os.environ[named.credentials[0]],
        AWS_SECRET_ACCESS_KEY=os.environ[named.credentials[1]],
    )


def requester_pays(item: pystac.Item, key: str) -> bool:
    """Whether asset `key` of `item` lies in a requester-pays bucket: storage extension v1
    (``storage:requester_pays`` on the asset or the item) or v2 (every ``storage:schemes``
    entry the asset's ``storage:refs`` name has ``requester_pays: true``)."""
    asset = item.assets[key]
    for where in (asset.extra_fields, item.properties):
        if where.get("storage:requester_pays") is True:
            return True
    schemes = item.properties.get("storage:schemes") or {}
    refs = [r for r in asset.extra_fields.get("storage:refs") or list(schemes) if r in schemes]
    # CDSE lists its own free endpoint beside CREODIAS' requester-pays one: free if one is
    return bool(refs) and all(schemes[r].get("requester_pays") is True for r in refs)


def storage_env(items: Iterable[pystac.Item]) -> dict[str, str]:
    """GDAL options the object-storage hrefs of the items' assets need.

    ``s3://`` hrefs in a requester-pays bucket (Earth Search ``landsat-c2-l2``:
    ``s3://usgs-landsat``) get ``AWS_REQUEST_PAYER=requester``: GDAL then signs with your AWS
    credentials (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` or an
    instance role) and your account pays the transfer. Other ``s3://`` hrefs are read
    anonymously (``AWS_NO_SIGN_REQUEST=YES``) unless AWS credentials are set. Options already
    set in the environment win.
    """
    s3 = pays = False
    for item in items:
        for key, asset in item.assets.items():
            if asset.href.startswith("s3://"):
                s3 = True
                pays = pays or requester_pays(item, key)
    opts: dict[str, str] = {}
    if pays:
        opts["AWS_REQUEST_PAYER"] = "requester"
    elif s3 and not _aws_credentials():
        opts["AWS_NO_SIGN_REQUEST"] = "YES"
    return {k: os.environ.get(k, v) for k, v in opts.items()}


def _aws_credentials() -> bool:
    names = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")
    return any(os.environ.get(n) for n in names) or Path("~/.aws/credentials").expanduser().exists()


def retry_policy(*, total: int = 6, backoff: float = 1.0, connect: int = 2) -> Any:
    """The urllib3 `Retry` of catalog requests: 429/5xx and dropped connections.

    Waits 0, 2, 4, 8 … s (``backoff`` × 2ⁿ, at most 60 s) or what ``Retry-After`` says;
    POST searches are retried too. An unreachable host is retried ``connect`` times only.
    """
    from urllib3 import Retry

    return Retry(
        total=total,
        connect=connect,
        read=2,
        status=total,
        backoff_factor=backoff,
        backoff_max=60,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # every verb: STAC searches are POSTs without side effects
        respect_retry_after_header=True,
        raise_on_status=False,  # the last response reaches pystac-client: its status is shown
    )


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


def _when(item: pystac.Item) -> dt.datetime | None:
    when = item.datetime or item.common_metadata.start_datetime
    return None if when is None else _utc(when)


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


# --------------------------------------------------------------------------- duplicates


def scene_key(item: pystac.Item) -> tuple[str, ...]:
    """What identifies a scene across processing runs: platform, tile, UTC acquisition day.

    The tile is read by the item's sensor (`Sensor.tile`); items with no tile property are
    their own scene (keyed by id).
    """
    tile, when = sensors.tile(item.collection_id, item.properties), _when(item)
    if tile is None or when is None:
        return ("id", item.id)
    platform = str(item.properties.get("platform", "")).lower()
    return (item.collection_id or "", platform, tile, when.date().isoformat())


def _newness(item: pystac.Item) -> tuple[Any, ...]:
    p = item.properties
    baseline = processing_baseline(p) or ()
    stamp = str(p.get("updated") or p.get("created") or "")
    return (baseline, stamp, item.id)


def deduplicate(items: Iterable[pystac.Item]) -> list[pystac.Item]:
    """One item per scene (`scene_key`), sorted by datetime then id.

    Of several processing runs of a scene the newest is kept: highest processing baseline
    (``s2:processing_baseline`` or ``processing:version``), then latest ``updated``/``created``,
    then the greatest id (``…_1_L2A`` after ``…_0_L2A``).
    """
    best: dict[tuple[str, ...], pystac.Item] = {}
    for item in items:
        key = scene_key(item)
        if key not in best or _newness(item) > _newness(best[key]):
            best[key] = item
    return sorted(best.values(), key=lambda it: (_when(it) or dt.datetime.min, it.id))


def one_per_acquisition(
    items: Iterable[pystac.Item], *, preference: Sequence[str] = ()
) -> tuple[list[pystac.Item], dict[str, str]]:
    """One item per acquisition across collections: (kept items sorted by datetime then id,
    {left-out id: kept id}).

    An acquisition is a sensor, platform, tile and UTC day (`scene_key` without the collection):
    Earth Search publishes each Sentinel-2 scene in ``sentinel-2-l2a`` and ``sentinel-2-c1-l2a``,
    whose values differ by the 0.1 baseline offset. The item of the collection listed first in
    `preference` (the recipe's ``source.collection`` order) is kept, then the newest processing
    (`deduplicate`'s order).
    """
    rank = {c: i for i, c in enumerate(preference)}

    def order(it: pystac.Item) -> tuple[Any, ...]:
        return (-rank.get(it.collection_id or "", len(rank)), _newness(it))

    best: dict[tuple[str, ...], pystac.Item] = {}
    dropped: dict[str, tuple[str, ...]] = {}  # left-out id → its acquisition
    for item in items:
        key = scene_key(item)
        if key[0] != "id":
            try:
                sensor = sensors.for_collection(item.collection_id or "").name
            except SourceError:
                sensor = item.collection_id or ""
            key = (sensor, *key[1:])
        if key in best and best[key].id != item.id:
            loser, winner = sorted((best[key], item), key=order)
            best[key] = winner
            dropped[loser.id] = key
        else:
            best[key] = item
    kept = sorted(best.values(), key=lambda it: (_when(it) or dt.datetime.min, it.id))
    return kept, {lost: best[key].id for lost, key in dropped.items()}


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class MonthSummary:
    """Clear-sky observations of one calendar month."""

    month: str  # YYYY-MM
    scenes: int
    #: Σ (1 − cloud_cover/100) over the scenes whose cloud cover is known
    clear_equivalent: float
    #: scenes without ``eo:cloud_cover`` (not counted in `clear_equivalent`)
    unknown_cloud: int = 0


def monthly_summary(
    items: Sequence[pystac.Item], *, start: dt.date | None = None, end: dt.date | None = None
) -> list[MonthSummary]:
    """Scenes and "equivalent clear scenes" per month, from `start` to `end` (default: the items').

    Months without any scene are listed with zeros, so gaps in the revisit show.
    """
    times = [t for t in (_when(it) for it in items) if t is not None]
    if start is None or end is None:
        if not times:
            return []
        start = start or min(times).date()
        end = end or max(times).date()
    months: dict[str, list[float | None]] = {}
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        months[f"{y:04d}-{m:02d}"] = []
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    for item in items:
        when = _when(item)
        if when is None or f"{when:%Y-%m}" not in months:
            continue
        cloud = item.properties.get(_CLOUD)
        months[f"{when:%Y-%m}"].append(None if cloud is None else float(cloud))
    return [
        MonthSummary(
            month,
            len(clouds),
            round(sum(1 - c / 100 for c in clouds if c is not None), 3),
            sum(1 for c in clouds if c is None),
        )
        for month, clouds in months.items()
    ]


# --------------------------------------------------------------------------- latency

#: item fields telling when the catalog made an item available, most specific first.
#: ``published``: CDSE's time of publication; ``created``: Earth Search's time the item was
#: created in the catalog (its pipeline publishes as it creates); Planetary Computer's items
#: carry neither on most collections (no catalog latency is then reported).
PUBLISHED_FIELDS = ("published", "created")


def published(item: pystac.Item) -> tuple[str, dt.datetime] | None:
    """(field, time) when the catalog says it published `item`; None if it does not say."""
    for name in PUBLISHED_FIELDS:
        value = item.properties.get(name)
        if value:
            try:
                when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                continue
            return name, _utc(when)
    return None


def latency(items: Iterable[pystac.Item]) -> dict[str, dict[str, Any]]:
    """Days between acquisition and publication per collection (`published`), over the items
    whose catalog says when it published them: field used, items, median, min, max."""
    days: dict[str, list[float]] = {}
    fields: dict[str, set[str]] = {}
    for item in items:
        when, pub = _when(item), published(item)
        if when is None or pub is None:
            continue
        coll = item.collection_id or ""
        days.setdefault(coll, []).append((pub[1] - when).total_seconds() / 86400)
        fields.setdefault(coll, set()).add(pub[0])
    return {c: _spread(d) | {"field": ", ".join(sorted(fields[c]))} for c, d in days.items()}


def _spread(days: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(days)
    n = len(ordered)
    median = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    return {
        "items": n,
        "median_days": round(median, 2),
        "min_days": round(ordered[0], 2),
        "max_days": round(ordered[-1], 2),
    }


# --------------------------------------------------------------------------- sources


#: first wait (s) between attempts at a static catalog's file over HTTP; doubles each time
STATIC_BACKOFF_S = 0.1


class RetryingStacIO(pystac.stac_io.DefaultStacIO):
    """pystac's reader with HTTP(S) reads that survive transient faults, as API searches do:
    429/5xx (honouring ``Retry-After``), dropped connections and truncated bodies are retried
    with backoff (`retry_policy`'s limits); then a `SourceError` names the URL."""

    def __init__(
        self, *, retry: Any = None, attempts: int = 6, backoff: float | None = None
    ) -> None:
        super().__init__()
        import requests
        from requests.adapters import HTTPAdapter

        self.attempts = attempts
        self.backoff = STATIC_BACKOFF_S if backoff is None else backoff
        self.session = requests.Session()
        policy = retry if retry is not None else retry_policy(backoff=self.backoff)
        adapter = HTTPAdapter(max_retries=policy)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def read_text_from_href(self, href: str) -> str:
        if not href.startswith(("http://", "https://")):
            return str(super().read_text_from_href(href))
        import requests

        last: Exception | None = None
        for attempt in range(self.attempts):
            try:
                r = self.session.get(href, timeout=_TIMEOUT)
                if r.status_code < 400:
                    return str(r.text)  # a truncated body raised above (Content-Length)
                if r.status_code not in (429, 500, 502, 503, 504):
                    raise SourceError(f"source.catalog: {href} answered HTTP {r.status_code}")
                last = OSError(f"HTTP {r.status_code}")
            except requests.RequestException as exc:  # reset, truncated body, timeout
                last = exc
            time.sleep(min(60.0, self.backoff * 2**attempt))
        raise SourceError(
            f"source.catalog: cannot read {href} after {self.attempts} attempts ({last}); "
            "check the address and the network, then run again"
        )


def _walk_static(href: str, collection: str) -> Iterator[pystac.Item]:
    """The items of `collection` in the static catalog at `href`, read lazily; a file that is
    missing, not JSON or not STAC is a `SourceError` naming it (bad input, exit 2)."""
    io = RetryingStacIO()
    where = href
    try:
        root = pystac.Catalog.from_file(href, stac_io=io)
        colls = {c.id: c for c in root.get_all_collections()}
        if isinstance(root, pystac.Collection):
            colls.setdefault(root.id, root)
        if collection not in colls:
            raise SourceError(
                f"source.collection: {collection!r} is not in {href}; "
                f"it has: {', '.join(sorted(colls)) or 'no collections'}"
            )
        for item in colls[collection].get_items(recursive=True):
            where = item.get_self_href() or href
            yield item
    except SourceError:
        raise
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError, AttributeError,
            pystac.STACError, pystac.errors.STACTypeError) as exc:  # fmt: skip
        at = f" (at or after {where})" if where != href else ""
        raise SourceError(
            f"source.catalog: cannot read static catalog {href}{at}: {_short(exc)}; accepted: "
            "a STAC catalog.json whose children and items exist and are STAC JSON"
        ) from None


def _open_client(url: str, retry: Any) -> Any:
    from pystac_client import Client
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO

    try:
        return Client.open(url, stac_io=StacApiIO(max_retries=retry, timeout=_TIMEOUT))
    except APIError as exc:
        status = getattr(exc, "status_code", None)
        why = f"HTTP {status}: {_short(exc)}" if status else _short(exc)
        raise SourceError(
            f"source.catalog: cannot reach the STAC API at {url} ({why}); accepted: a known "
            f"catalog ({', '.join(CATALOGS)}), a STAC API URL, or a static catalog.json"
        ) from None
    except (OSError, ValueError, pystac.STACError) as exc:  # not JSON, not STAC
        raise SourceError(
            f"source.catalog: {url} is not a STAC API landing page ({_short(exc)}); accepted: "
            f"a known catalog ({', '.join(CATALOGS)}), a STAC API URL, or a static catalog.json"
        ) from None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + " …"


def _check_collection(client: Any, url: str, collection: str) -> Any:
    from pystac_client.exceptions import APIError

    try:
        found = client.get_collection(collection)
        if found is not None:
            return found
        ids = sorted(c.id for c in client.get_collections())
    except APIError as exc:
        raise SourceError(f"source.catalog: the STAC API at {url} failed: {_short(exc)}") from None
    shown = ", ".join(ids[:40]) + (f" … ({len(ids)} in all)" if len(ids) > 40 else "")
    raise SourceError(
        f"source.collection: {collection!r} is not a collection of {url}; "
        f"it has: {shown or 'no collections'}"
    )


def _cloud_declared(coll: Any) -> bool:
    """Whether the collection says its items have ``eo:cloud_cover`` (summaries, queryables)."""
    from pystac_client.exceptions import APIError

    summaries = getattr(coll, "summaries", None)
    if summaries is not None and _CLOUD in summaries.to_dict():
        return True
    try:
        with warnings.catch_warnings():  # "no queryables link": the endpoint is tried anyway
            warnings.simplefilter("ignore")
            queryables = coll.get_queryables()
    except (APIError, Warning, NotImplementedError, OSError, ValueError, AttributeError):
        return False
    return _CLOUD in (queryables or {}).get("properties", {})


def _cloud_params(
    *, max_cloud_cover: float, filter_ok: bool, query_ok: bool, cloud_known: bool
) -> dict[str, Any]:
    """Search parameters asking the server for ``eo:cloud_cover ≤ max`` when it can do it.

    CQL2 (filter extension) first, then the query extension; nothing when the collection does
    not declare ``eo:cloud_cover`` (a server filter would drop items lacking it, e.g. MODIS).
    """
    if max_cloud_cover >= 100 or not cloud_known:
        return {}
    if filter_ok:
        return {
            "filter": {"op": "<=", "args": [{"property": _CLOUD}, max_cloud_cover]},
            "filter_lang": "cql2-json",
        }
    if query_ok:
        return {"query": {_CLOUD: {"lte": max_cloud_cover}}}
    return {}


def _search_api(
    url: str,
    collections: list[str],
    bbox: tuple[float, float, float, float],
    start: dt.date,
    end: dt.date,
    max_cloud_cover: float,
    *,
    page_size: int,
    retry: Any,
) -> list[pystac.Item]:
    from pystac_client import ConformanceClasses
    from pystac_client.exceptions import APIError

    client = _open_client(url, retry)
    colls = [_check_collection(client, url, c) for c in collections]
    filter_ok = client.conforms_to(ConformanceClasses.FILTER)
    query_ok = client.conforms_to(ConformanceClasses.QUERY)
    cloud_known = (
        max_cloud_cover < 100 and (filter_ok or query_ok) and all(map(_cloud_declared, colls))
    )
    extra = _cloud_params(
        max_cloud_cover=max_cloud_cover,
        filter_ok=filter_ok,
        query_ok=query_ok,
        cloud_known=cloud_known,
    )
    try:
        found = client.search(
            collections=collections,
            bbox=bbox,
            datetime=f"{start.isoformat()}/{end.isoformat()}",
            limit=page_size,
            **extra,
        )
        return list(found.items())
    except APIError as exc:
        status = getattr(exc, "status_code", None)
        code = f" (HTTP {status})" if status else ""
        raise SourceError(
            f"source: the STAC API at {url} refused the search{code}: {_short(exc)}"
        ) from None
