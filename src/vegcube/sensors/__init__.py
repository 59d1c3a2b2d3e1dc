"""Per-sensor facts. One module per sensor; `for_collection` picks it."""

from __future__ import annotations

from types import ModuleType

from ..errors import SourceError
from . import sentinel2

__all__ = ["for_collection", "sentinel2"]

_SENSORS: tuple[ModuleType, ...] = (sentinel2,)


def for_collection(collection: str) -> ModuleType:
    """The sensor module describing `collection`; `SourceError` lists the supported ones."""
    for mod in _SENSORS:
        if collection in mod.COLLECTIONS:
            return mod
    known = ", ".join(c for m in _SENSORS for c in m.COLLECTIONS)
    raise SourceError(f"source.collection: {collection!r} is not supported; known: {known}")
