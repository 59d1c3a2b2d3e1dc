"""MODIS MOD09A1 v061 facts: 8-day surface reflectance (500 m) and its 500 m state QA.

Planetary Computer ``modis-09A1-061`` assets ``sur_refl_b01`` … ``sur_refl_b07`` (scale 1e-4,
fill −28672) and ``sur_refl_state_500m`` on the sinusoidal grid of `sensors.modis`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._bits import bit, decode, field, integer
from ._sensor import Sensor
from .modis import hv_tile

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["MODIS09A1", "STATE_QA_FLAGS"]

_CLOUD_FLAGS: frozenset[Hashable] = frozenset(
    {"cloud", "mixed_cloud", "shadow", "cirrus", "internal_cloud", "adjacent_cloud"}
)


def _scale_offset(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """Surface reflectance = DN × 1e-4."""
    return 1e-4, 0.0


#: MOD09A1 500 m state QA flag → what it tests (decoded by `_invalid`)
STATE_QA_FLAGS: dict[Hashable, str] = {
    "fill": "state QA 65535: fill",
    "cloud": "bits 0–1 (cloud state) = 01: cloudy",
    "mixed_cloud": "bits 0–1 (cloud state) = 10: mixed",
    "shadow": "bit 2: cloud shadow",
    "cirrus": "bits 8–9 (cirrus) ≥ 10: average or high cirrus",
    "internal_cloud": "bit 10: internal cloud algorithm flag",
    "snow": "bit 12: MOD35 snow/ice flag",
    "adjacent_cloud": "bit 13: pixel adjacent to cloud",
    "internal_snow": "bit 15: internal snow mask",
}


def _invalid(qa: xr.DataArray, flags: Iterable[Hashable]) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from the 500 m state QA bits; `flags` are names of `qa_flags`."""
    q = integer(qa)
    state, cirrus = field(q, 0, 2), field(q, 8, 2)
    tests = {
        "fill": lambda: q == 65535,
        "cloud": lambda: state == 1,
        "mixed_cloud": lambda: state == 2,
        "shadow": lambda: bit(q, 2),
        "cirrus": lambda: cirrus >= 2,
        "internal_cloud": lambda: bit(q, 10),
        "snow": lambda: bit(q, 12),
        "adjacent_cloud": lambda: bit(q, 13),
        "internal_snow": lambda: bit(q, 15),
    }
    return decode(q, tests, flags, cloud_flags=_CLOUD_FLAGS, product="MOD09A1")


MODIS09A1 = Sensor(
    name="modis09a1",
    collections=("modis-09A1-061",),
    # common band name → asset keys (MODIS bands 1–7: 620–670, 841–876, 459–479, 545–565,
    # 1230–1250, 1628–1652, 2105–2155 nm)
    asset_aliases={
        "red": ("sur_refl_b01",),
        "nir": ("sur_refl_b02",),
        "blue": ("sur_refl_b03",),
        "green": ("sur_refl_b04",),
        "nir12": ("sur_refl_b05",),
        "swir16": ("sur_refl_b06",),
        "swir22": ("sur_refl_b07",),
        "state_qa": ("sur_refl_state_500m",),
    },
    default_storage={"data_type": "int16", "nodata": -28672},
    band_storage={"state_qa": {"data_type": "uint16", "nodata": 65535}},
    value_rule=_scale_offset,
    qa_band="state_qa",
    qa_bands=("state_qa",),
    qa_flags=STATE_QA_FLAGS,
    default_flags=(
        "fill",
        "cloud",
        "mixed_cloud",
        "shadow",
        "cirrus",
        "internal_cloud",
        "snow",
        "internal_snow",
    ),
    cloud_flags=_CLOUD_FLAGS,
    mask_key="modis09a1_qa",
    qa_rule=_invalid,
    tile_rule=hv_tile,
)
