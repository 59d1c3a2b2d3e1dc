"""Landsat 7/8/9 Collection 2 Level-2 facts: asset names, DN rules, QA_PIXEL bits.

Earth Search v1 and Planetary Computer both publish ``landsat-c2-l2`` with lowercase asset
names (``red``, ``nir08``, ``swir16``, ``qa_pixel``, ``lwir11``; Landsat 7's thermal band is
``lwir`` on Planetary Computer). Surface reflectance = DN × 2.75e-5 − 0.2, surface temperature
(K) = DN × 0.00341802 + 149.0; DN 0 is fill. Landsat 7 SLC-off stripes are fill: they stay NaN.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import xarray as xr

from ._bits import bit, integer

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
    "QA_BITS",
    "QA_FLAGS",
    "SR_SCALE_OFFSET",
    "ST_SCALE_OFFSET",
    "invalid",
    "scale_offset",
    "storage",
]

NAME = "landsat"
COLLECTIONS = ("landsat-c2-l2",)

#: common band name → asset keys (Earth Search v1, Planetary Computer, USGS STAC)
ASSET_ALIASES: dict[str, tuple[str, ...]] = {
    "coastal": ("coastal",),
    "blue": ("blue",),
    "green": ("green",),
    "red": ("red",),
    "nir": ("nir08",),  # so that ndvi/ndwi work on Landsat as on Sentinel-2
    "nir08": ("nir08",),
    "swir16": ("swir16",),
    "swir22": ("swir22",),
    "lwir": ("lwir11", "lwir"),  # surface temperature (K): Landsat 8/9 band 10, Landsat 7 band 6
    "lwir11": ("lwir11", "lwir"),
    "qa_pixel": ("qa_pixel",),
}

QA_BAND = "qa_pixel"
QA_BANDS = ("qa_pixel",)
INDEX_BANDS: dict[str, str] = {}
MASK_KEY = "landsat_qa"

#: QA_PIXEL bit → flag name (USGS Landsat 8-9 C2 L2 Science Product Guide, table 6-3)
QA_BITS = {
    0: "fill",
    1: "dilated_cloud",
    2: "cirrus",  # Landsat 8/9 only
    3: "cloud",
    4: "shadow",
    5: "snow",
    6: "clear",
    7: "water",
}
QA_FLAGS: dict[Hashable, str] = {
    "fill": "bit 0: fill (no data, Landsat 7 SLC-off gaps)",
    "dilated_cloud": "bit 1: dilated cloud",
    "cirrus": "bit 2: cirrus (high confidence; Landsat 8/9)",
    "cloud": "bit 3: cloud",
    "shadow": "bit 4: cloud shadow",
    "snow": "bit 5: snow",
    "water": "bit 7: water",
    "not_clear": "bit 6 unset: not clear (any of the above but water)",
}
DEFAULT_FLAGS = ("fill", "dilated_cloud", "cirrus", "cloud", "shadow", "snow")
CLOUD_FLAGS = frozenset({"dilated_cloud", "cirrus", "cloud", "shadow"})
_BIT_OF = {name: n for n, name in QA_BITS.items()}

SR_SCALE_OFFSET = (2.75e-5, -0.2)
ST_SCALE_OFFSET = (0.00341802, 149.0)
_THERMAL = frozenset({"lwir", "lwir11"})


def storage(band: str) -> dict[str, Any]:
    """Storage type and nodata of a band's asset (for items without `raster:bands`)."""
    if band == "qa_pixel":
        return {"data_type": "uint16", "nodata": 1}
    return {"data_type": "uint16", "nodata": 0}


def scale_offset(properties: dict[str, Any], band: str | None = None) -> tuple[float, float]:
    """DN → surface reflectance (or surface temperature in K for the thermal band)."""
    return ST_SCALE_OFFSET if band in _THERMAL else SR_SCALE_OFFSET


def invalid(
    qa: xr.DataArray, *, flags: Iterable[Hashable] = DEFAULT_FLAGS
) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from QA_PIXEL bits: `flags` are names of `QA_FLAGS`.

    `cloud_like` gathers the cloud, dilated-cloud, cirrus and shadow bits (callers may dilate
    it); `bad` the others (fill, snow, water, not_clear), never dilated.
    """
    q = integer(qa)
    bad = xr.zeros_like(q, dtype=bool)
    cloud = xr.zeros_like(q, dtype=bool)
    for name in flags:
        if name == "not_clear":
            hit = ~bit(q, 6)
        elif name in _BIT_OF and name != "clear":
            hit = bit(q, _BIT_OF[str(name)])
        else:
            raise ValueError(
                f"unknown Landsat QA flag {name!r}; accepted: {', '.join(map(str, QA_FLAGS))}"
            )
        if name in CLOUD_FLAGS:
            cloud = cloud | hit
        else:
            bad = bad | hit
    return bad, cloud
