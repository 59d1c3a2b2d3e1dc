"""MODIS MOD09A1 v061 facts: 8-day surface reflectance (500 m) and its 500 m state QA.

Planetary Computer ``modis-09A1-061`` assets ``sur_refl_b01`` … ``sur_refl_b07`` (scale 1e-4,
fill −28672) and ``sur_refl_state_500m`` on the sinusoidal grid of `sensors.modis`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import xarray as xr

from ._bits import bit, decode, field, integer

__all__ = [
    "ASSET_ALIASES",
    "CLOUD_FLAGS",
    "COLLECTIONS",
    "DEFAULT_FLAGS",
    "INDEX_BANDS",
    "MASK_KEY",
    "NAME",
    "QA_BAND",
    "QA_BANDS",
    "QA_FLAGS",
    "invalid",
    "scale_offset",
    "storage",
]

NAME = "modis09a1"
COLLECTIONS = ("modis-09A1-061",)

#: common band name → asset keys (MODIS bands 1–7: 620–670, 841–876, 459–479, 545–565,
#: 1230–1250, 1628–1652, 2105–2155 nm)
ASSET_ALIASES: dict[str, tuple[str, ...]] = {
    "red": ("sur_refl_b01",),
    "nir": ("sur_refl_b02",),
    "blue": ("sur_refl_b03",),
    "green": ("sur_refl_b04",),
    "nir12": ("sur_refl_b05",),
    "swir16": ("sur_refl_b06",),
    "swir22": ("sur_refl_b07",),
    "state_qa": ("sur_refl_state_500m",),
}

QA_BAND = "state_qa"
QA_BANDS = ("state_qa",)
INDEX_BANDS: dict[str, str] = {}
MASK_KEY = "modis09a1_qa"

QA_FLAGS: dict[Hashable, str] = {
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
DEFAULT_FLAGS = (
    "fill",
    "cloud",
    "mixed_cloud",
    "shadow",
    "cirrus",
    "internal_cloud",
    "snow",
    "internal_snow",
)
CLOUD_FLAGS = frozenset(
    {"cloud", "mixed_cloud", "shadow", "cirrus", "internal_cloud", "adjacent_cloud"}
)


def storage(band: str) -> dict[str, Any]:
    """Storage type and nodata of a layer (for items without `raster:bands`)."""
    if band == "state_qa":
        return {"data_type": "uint16", "nodata": 65535}
    return {"data_type": "int16", "nodata": -28672}


def scale_offset(properties: dict[str, Any], band: str | None = None) -> tuple[float, float]:
    """Surface reflectance = DN × 1e-4."""
    return 1e-4, 0.0


def invalid(
    qa: xr.DataArray, *, flags: Iterable[Hashable] = DEFAULT_FLAGS
) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from the 500 m state QA bits; `flags` are names of `QA_FLAGS`."""
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
    return decode(q, tests, flags, cloud_flags=CLOUD_FLAGS, product="MOD09A1")
