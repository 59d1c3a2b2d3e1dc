"""What the found items say, for `vegcube search`: clear-sky scenes per month, and the
catalog's latency (acquisition → publication, from the items' published fields)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pystac

from ._util import _CLOUD, _utc, _when

__all__ = ["PUBLISHED_FIELDS", "MonthSummary", "latency", "monthly_summary", "published"]


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
