"""Small helpers shared by the catalog modules: an item's acquisition time in UTC, the
cloud-cover field, HTTP timeouts and short error text."""

from __future__ import annotations

import datetime as dt

import pystac

_CLOUD = "eo:cloud_cover"
_TIMEOUT = (10.0, 120.0)  # connect, read (seconds)


def _when(item: pystac.Item) -> dt.datetime | None:
    when = item.datetime or item.common_metadata.start_datetime
    return None if when is None else _utc(when)


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + " …"
