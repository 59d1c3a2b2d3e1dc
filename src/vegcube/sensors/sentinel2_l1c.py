"""Sentinel-2 L1C facts: top-of-atmosphere bands for cloud probability (s2cloudless).

An auxiliary sensor: its scenes are not a source of indices (no scene classification, no
surface reflectance) but feed `mask.cloud_probability` for the L2A scenes of the same solar
day. DN → reflectance follows the L2A rule: DN / 10000, minus 0.1 from processing baseline
04.00 (2022-01-25).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import xarray as xr

from . import sentinel2

__all__ = [
    "ASSET_ALIASES",
    "CLOUD_BANDS",
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

NAME = "sentinel2_l1c"
COLLECTIONS = ("sentinel-2-l1c",)

#: common band name → asset keys (Earth Search v1, Planetary Computer/SAFE, CDSE)
ASSET_ALIASES: dict[str, tuple[str, ...]] = {
    **{k: v for k, v in sentinel2.ASSET_ALIASES.items() if k not in sentinel2.QA_BANDS},
    "cirrus": ("cirrus", "B10", "B10_60m"),
}

#: the bands s2cloudless reads, in its order: B01, B02, B04, B05, B08, B8A, B09, B10, B11, B12
CLOUD_BANDS = (
    "coastal",
    "blue",
    "red",
    "rededge1",
    "nir",
    "nir08",
    "nir09",
    "cirrus",
    "swir16",
    "swir22",
)

# L1C has no scene classification: the QA interface is empty (nothing decoded, nothing masked)
QA_BAND = ""
QA_BANDS: tuple[str, ...] = ()
INDEX_BANDS: dict[str, str] = {}
MASK_KEY = ""
QA_FLAGS: dict[Hashable, str] = {}
DEFAULT_FLAGS: tuple[Hashable, ...] = ()
CLOUD_FLAGS: frozenset[Hashable] = frozenset()


def storage(band: str) -> dict[str, Any]:
    """Storage type and nodata of a band's asset (uint16, nodata 0)."""
    return sentinel2.REFLECTANCE_STORAGE


def scale_offset(properties: dict[str, Any], band: str | None = None) -> tuple[float, float]:
    """DN → top-of-atmosphere reflectance: the L2A processing-baseline rule."""
    return sentinel2.scale_offset(properties, band)


def invalid(
    qa: xr.DataArray, *, flags: Iterable[Hashable] = DEFAULT_FLAGS
) -> tuple[xr.DataArray, xr.DataArray]:
    """Nothing is flagged: L1C has no QA band the chain decodes."""
    none = xr.zeros_like(qa, dtype=bool)
    return none, none
