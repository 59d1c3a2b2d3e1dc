"""Per-sensor facts: one `Sensor` record per sensor module, and the registry that finds them.

Each module (`sentinel2`, `landsat`, `modis`, `modis09`, `sentinel2_l1c`) builds one frozen
`Sensor` from its own tables and functions: its name and collections, asset names per catalog,
storage per band, DN → value rule (`Sensor.scale_offset`), QA band, flags and their decoding
(`Sensor.invalid`), default and cloud flags, the recipe ``mask`` key, ready-made index bands,
how an item names its tile (`Sensor.tile`) and the attributes of its bands (`Sensor.attrs`).
Supporting a new sensor (VIIRS, …) is a new module and one line in `SENSORS` (or
`AUXILIARY`), not edits across the code; `vegcube.sensors.values` applies the DN → value
rules in their documented precedence.

Auxiliary sensors (`AUXILIARY`: Sentinel-2 L1C, read for s2cloudless cloud probability) have
the same record with empty QA facts; `for_collection` finds them, `SENSORS` (the sensors a
``source`` is made of) does not list them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from ..errors import InputError, SourceError
from ._sensor import Sensor
from .landsat import LANDSAT
from .modis import MODIS13Q1
from .modis09 import MODIS09A1
from .modis_lst import MODIS11A2, MODIS21A2
from .sentinel1 import SENTINEL1
from .sentinel2 import SENTINEL2
from .sentinel2_l1c import SENTINEL2_L1C
from .slstr import SLSTR
from .smap import SMAP_L3, SMAP_L4
from .swi import SWI
from .syn_v10 import SYN_V10
from .viirs import VIIRS13A1, VIIRS21A2

__all__ = [
    "AUXILIARY",
    "LANDSAT",
    "MODIS09A1",
    "MODIS11A2",
    "MODIS13Q1",
    "MODIS21A2",
    "SENSORS",
    "SENTINEL1",
    "SENTINEL2",
    "SENTINEL2_L1C",
    "SLSTR",
    "SMAP_L3",
    "SMAP_L4",
    "SWI",
    "SYN_V10",
    "VIIRS13A1",
    "VIIRS21A2",
    "Sensor",
    "check_flags",
    "for_collection",
    "for_name",
    "qa_bands",
    "tile",
]

#: the sensors a `source` is made of, in the order their rules are tried
SENSORS: tuple[Sensor, ...] = (
    SENTINEL2,
    LANDSAT,
    MODIS13Q1,
    MODIS09A1,
    VIIRS13A1,
    MODIS11A2,
    MODIS21A2,
    SLSTR,
    VIIRS21A2,
    SENTINEL1,
    SMAP_L4,
    SMAP_L3,
    SWI,
    SYN_V10,
)
#: sensors read only to help mask another (never a `source` of indices)
AUXILIARY: tuple[Sensor, ...] = (SENTINEL2_L1C,)


def for_collection(collection: str) -> Sensor:
    """The sensor describing `collection`; `SourceError` lists the supported ones."""
    for sensor in (*SENSORS, *AUXILIARY):
        if collection in sensor.collections:
            return sensor
    known = ", ".join(c for s in SENSORS for c in s.collections)
    raise SourceError(
        f"{collection!r} is not supported; known: {known}",
        field="source.collection",
    )


def for_name(name: str) -> Sensor:
    """The sensor whose `name` (or one of whose collections) is `name`."""
    for sensor in (*SENSORS, *AUXILIARY):
        if name == sensor.name or name in sensor.collections:
            return sensor
    known = ", ".join(s.name for s in SENSORS)
    raise SourceError(f"sensor {name!r} is not known; known: {known}")


def qa_bands() -> frozenset[str]:
    """Common names of every QA band of every sensor."""
    return frozenset(b for s in SENSORS for b in s.qa_bands)


def tile(collection: str | None, properties: Mapping[str, Any]) -> str | None:
    """A scene's tile, read by its collection's sensor; for a collection no sensor describes,
    the first tile any sensor reads from the properties (None: no tile)."""
    known = [s for s in (*SENSORS, *AUXILIARY) if collection in s.collections]
    for sensor in known or SENSORS:
        found = sensor.tile(properties)
        if found is not None:
            return found
    return None


def check_flags(sensor: Sensor, flags: Iterable[Hashable]) -> list[Hashable]:
    """`flags` as a list if every one is accepted by `sensor`; else `ValueError` listing them."""
    given = list(flags)
    bad = [f for f in given if f not in sensor.qa_flags]
    if bad:
        accepted = ", ".join(str(f) for f in sensor.qa_flags)
        raise InputError(f"unknown {sensor.name} QA flags {bad}; accepted: {accepted}")
    return given
