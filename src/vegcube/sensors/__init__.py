"""Per-sensor facts. One module per sensor; `for_collection` picks it.

Every sensor module exposes the same interface, so supporting a new sensor (VIIRS, …) is a new
module added to `_SENSORS`, not edits across the code:

=================  ==========================================================================
``NAME``           sensor id: the value of a cube's ``sensor`` coordinate
``COLLECTIONS``    STAC collection ids it describes
``ASSET_ALIASES``  common band name → asset keys seen in catalogs (first match wins)
``QA_BAND``        common name of the QA band the masks decode
``QA_BANDS``       every QA-like band (never scaled, dropped by `mask.apply`)
``INDEX_BANDS``    index name → band holding it ready-made (MOD13Q1 NDVI); empty otherwise
``MASK_KEY``       the recipe ``mask`` key listing this sensor's flags
``QA_FLAGS``       accepted flags (SCL class numbers or bit-flag names) → description
``DEFAULT_FLAGS``  flags masked when the recipe does not say
``CLOUD_FLAGS``    the flags that are clouds or shadows: only these are dilated
``storage(band)``  {data_type, nodata} of an asset, for items without ``raster:bands``
``scale_offset(properties, band=None)``  DN → physical value when ``raster:bands`` is absent
``invalid(qa, *, flags)``  → (bad, cloud_like) booleans: flags not to grow, and to grow
=================  ==========================================================================

Auxiliary sensors (`AUXILIARY`: Sentinel-2 L1C, read for s2cloudless cloud probability) have
the same interface with empty QA facts; `for_collection` finds them, `SENSORS` (the sensors a
``source`` is made of) does not list them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from types import ModuleType

from ..errors import SourceError
from . import landsat, modis, modis09, sentinel2, sentinel2_l1c

__all__ = [
    "AUXILIARY",
    "SENSORS",
    "bands_for",
    "check_flags",
    "for_collection",
    "for_name",
    "landsat",
    "modis",
    "modis09",
    "qa_bands",
    "sentinel2",
    "sentinel2_l1c",
]

_SENSORS: tuple[ModuleType, ...] = (sentinel2, landsat, modis, modis09)
#: the registered sensor modules
SENSORS = _SENSORS
#: sensors read only to help mask another (never a `source` of indices)
AUXILIARY: tuple[ModuleType, ...] = (sentinel2_l1c,)


def for_collection(collection: str) -> ModuleType:
    """The sensor module describing `collection`; `SourceError` lists the supported ones."""
    for mod in (*_SENSORS, *AUXILIARY):
        if collection in mod.COLLECTIONS:
            return mod
    known = ", ".join(c for m in _SENSORS for c in m.COLLECTIONS)
    raise SourceError(f"source.collection: {collection!r} is not supported; known: {known}")


def for_name(name: str) -> ModuleType:
    """The sensor module whose `NAME` (or one of whose collections) is `name`."""
    for mod in (*_SENSORS, *AUXILIARY):
        if name == mod.NAME or name in mod.COLLECTIONS:
            return mod
    known = ", ".join(m.NAME for m in _SENSORS)
    raise SourceError(f"sensor {name!r} is not known; known: {known}")


def qa_bands() -> frozenset[str]:
    """Common names of every QA band of every sensor."""
    return frozenset(b for m in _SENSORS for b in m.QA_BANDS)


def bands_for(collection: str, indices: Sequence[str]) -> list[str]:
    """Common bands to load from `collection` for `indices`, its QA band last.

    An index the sensor delivers ready-made (`INDEX_BANDS`) is read, not computed.
    """
    from ..indices import resolve

    sensor = for_collection(collection)
    out: list[str] = []
    for name in indices:
        needed = (sensor.INDEX_BANDS[name],) if name in sensor.INDEX_BANDS else resolve(name).bands
        out += [b for b in needed if b not in out]
    return [*out, sensor.QA_BAND]


def check_flags(sensor: ModuleType, flags: Iterable[Hashable]) -> list[Hashable]:
    """`flags` as a list if every one is accepted by `sensor`; else `ValueError` listing them."""
    given = list(flags)
    bad = [f for f in given if f not in sensor.QA_FLAGS]
    if bad:
        accepted = ", ".join(str(f) for f in sensor.QA_FLAGS)
        raise ValueError(f"unknown {sensor.NAME} QA flags {bad}; accepted: {accepted}")
    return given
