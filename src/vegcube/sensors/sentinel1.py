"""Sentinel-1 radiometrically terrain-corrected backscatter (Planetary Computer ``sentinel-1-rtc``).

Planetary Computer publishes, per GRD slice in Interferometric Wide swath mode, one COG per
polarisation (asset keys ``vv``, ``vh``, and ``hh``, ``hv`` where the scene was acquired so):
γ⁰ (gamma naught, radiometrically terrain-flattened) as *calibrated intensity*, i.e. linear
power, ``float32`` with ``nodata`` −32768 declared in ``raster:bands`` (no scale, no offset),
on a UTM grid at 10 m (``proj:epsg``, ``proj:transform``). The cube gets them unchanged:
linear power, float32, nodata → NaN (γ⁰ ≤ 0 holds no return and has no dB value; the indices
treat it as missing). The items hold no quality asset (the collection's description says
radar shadow is "flagged", not how: no flag band is published), so the sensor has no QA band
and no ``mask`` key of flags; speckle, which RTC does not filter, is reduced by
`vegcube.speckle` (recipe ``mask.speckle``).

Items carry ``sat:orbit_state`` (``ascending``/``descending``), ``sat:relative_orbit``,
``sar:polarizations``, ``sar:looks_equivalent_number`` (4.4 for GRD IW high resolution) and
``s1:*`` fields; the recipe's ``source.orbit_state`` keeps one direction. Facts and their
sources: ``tests/data/items/EVIDENCE-sentinel1.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._sensor import Sensor

__all__ = [
    "COLLECTION",
    "EQUIVALENT_LOOKS",
    "NODATA",
    "ORBIT_STATES",
    "POLARISATIONS",
    "SENTINEL1",
    "equivalent_looks",
    "orbit_state",
]

#: the Planetary Computer collection id
COLLECTION = "sentinel-1-rtc"
#: ``raster:bands`` nodata of every polarisation asset (float32)
NODATA = -32768.0
#: common band name → asset key (lower-case polarisation, as Planetary Computer names them)
POLARISATIONS = ("vv", "vh", "hh", "hv")
#: the values of ``sat:orbit_state``
ORBIT_STATES = ("ascending", "descending")
#: ``sar:looks_equivalent_number`` of every PC RTC item seen (GRD IW high resolution)
EQUIVALENT_LOOKS = 4.4


def _values(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """γ⁰ is stored as linear power: no scale, no offset."""
    return 1.0, 0.0


def _track(properties: Mapping[str, Any]) -> str | None:
    """No tile: each GRD slice is its own scene (slices of one pass join by solar day)."""
    return None


def orbit_state(properties: Mapping[str, Any]) -> str | None:
    """``ascending`` or ``descending`` from ``sat:orbit_state`` (None when absent)."""
    state = properties.get("sat:orbit_state")
    return str(state).lower() if state is not None else None


def equivalent_looks(properties: Mapping[str, Any]) -> float:
    """The equivalent number of looks of a scene (``sar:looks_equivalent_number``), else 4.4."""
    value = properties.get("sar:looks_equivalent_number")
    return float(value) if value else EQUIVALENT_LOOKS


_ATTRS = {
    band: {
        "units": "1",
        "long_name": f"gamma naught {band.upper()} (terrain-flattened backscatter, linear power)",
    }
    for band in POLARISATIONS
}


SENTINEL1 = Sensor(
    name="sentinel1",
    collections=(COLLECTION,),
    asset_aliases={band: (band,) for band in POLARISATIONS},
    default_storage={"data_type": "float32", "nodata": NODATA},
    value_rule=_values,
    rule_name="Sentinel-1 RTC gamma naught, linear power",
    tile_rule=_track,
    band_attrs=_ATTRS,
)
