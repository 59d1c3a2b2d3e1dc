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
