"""Sentinel-2 L1C facts: top-of-atmosphere bands for cloud probability (s2cloudless).

An auxiliary sensor: its scenes are not a source of indices (no scene classification, no
surface reflectance) but feed `mask.cloud_probability` for the L2A scenes of the same solar
day. DN → reflectance follows the L2A rule: DN / 10000, minus 0.1 from processing baseline
04.00 (2022-01-25).
"""

from __future__ import annotations

from dataclasses import replace

from .sentinel2 import SENTINEL2

__all__ = ["SENTINEL2_L1C"]

#: the L2A record without its scene classification (no QA band: nothing decoded, nothing
#: masked), with the cirrus band; the same asset names, storage, DN rule and tiles
SENTINEL2_L1C = replace(
    SENTINEL2,
    name="sentinel2_l1c",
    collections=("sentinel-2-l1c",),
    # common band name → asset keys (Earth Search v1, Planetary Computer/SAFE, CDSE)
    asset_aliases={
        **{k: v for k, v in SENTINEL2.asset_aliases.items() if k not in SENTINEL2.qa_bands},
        "cirrus": ("cirrus", "B10", "B10_60m"),
    },
    band_storage={},
    qa_band="",
    qa_bands=(),
    qa_fallbacks=(),
    qa_flags={},
    default_flags=(),
    cloud_flags=frozenset(),
    mask_key="",
    qa_rule=None,
    cloud_probability=False,
    # the bands s2cloudless reads, in its order: B01, B02, B04, B05, B08, B8A, B09, B10, B11, B12
    cloud_bands=(
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
    ),
)
