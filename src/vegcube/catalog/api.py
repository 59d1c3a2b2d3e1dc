"""STAC API searches (pystac-client): requests retried on HTTP 429/5xx with exponential
backoff (honouring ``Retry-After``), the cloud-cover limit sent to the server when it can
filter on it, and errors that name the catalog or collection at fault."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import pystac

from ..errors import SourceError, UnreachableError
from ._util import _CLOUD, _TIMEOUT, _short
from .names import CATALOGS

__all__ = ["retry_policy"]

_PAGE_SIZE = 200


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


def _open_client(url: str, retry: Any) -> Any:
    from pystac_client import Client
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO

    try:
        return Client.open(url, stac_io=StacApiIO(max_retries=retry, timeout=_TIMEOUT))
    except APIError as exc:
        status = getattr(exc, "status_code", None)
        why = f"HTTP {status}: {_short(exc)}" if status else _short(exc)
        raise UnreachableError(
            f"cannot reach the STAC API at {url} ({why}); accepted: a known "
            f"catalog ({', '.join(CATALOGS)}), a STAC API URL, or a static catalog.json",
            field="source.catalog",
        ) from None
    except (OSError, ValueError, pystac.STACError) as exc:  # not JSON, not STAC
        raise SourceError(
            f"{url} is not a STAC API landing page ({_short(exc)}); accepted: "
            f"a known catalog ({', '.join(CATALOGS)}), a STAC API URL, or a static catalog.json",
            field="source.catalog",
        ) from None


def _check_collection(client: Any, url: str, collection: str) -> Any:
    from pystac_client.exceptions import APIError

    try:
        found = client.get_collection(collection)
        if found is not None:
            return found
        ids = sorted(c.id for c in client.get_collections())
    except APIError as exc:
        raise UnreachableError(
            f"the STAC API at {url} failed: {_short(exc)}",
            field="source.catalog",
        ) from None
    shown = ", ".join(ids[:40]) + (f" … ({len(ids)} in all)" if len(ids) > 40 else "")
    raise SourceError(
        f"{collection!r} is not a collection of {url}; it has: {shown or 'no collections'}",
        field="source.collection",
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
