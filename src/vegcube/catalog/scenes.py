"""One acquisition used once: what identifies a scene across processing runs and
collections, and which of its items is kept (preferred collection, then newest processing)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pystac

from .. import sensors
from ..errors import SourceError
from ..sensors.values import processing_baseline
from ._util import _when

__all__ = ["deduplicate", "one_per_acquisition", "scene_key"]


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
