"""Sentinel-2 L2A facts: asset names per catalog, DN → reflectance rules, SCL classes."""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = [
    "ASSET_ALIASES",
    "BASELINE_SWITCH",
    "COLLECTIONS",
    "QA_BAND",
    "QA_STORAGE",
    "REFLECTANCE_STORAGE",
    "SCL_CLASSES",
    "scale_offset",
]

COLLECTIONS = ("sentinel-2-l2a", "sentinel-2-c1-l2a")

#: common band name → asset keys seen in catalogs (Earth Search v1, Planetary Computer, CDSE)
ASSET_ALIASES: dict[str, tuple[str, ...]] = {
    "coastal": ("coastal", "B01", "B01_60m"),
    "blue": ("blue", "B02", "B02_10m"),
    "green": ("green", "B03", "B03_10m"),
    "red": ("red", "B04", "B04_10m"),
    "rededge1": ("rededge1", "B05", "B05_20m"),
    "rededge2": ("rededge2", "B06", "B06_20m"),
    "rededge3": ("rededge3", "B07", "B07_20m"),
    "nir": ("nir", "B08", "B08_10m"),
    "nir08": ("nir08", "B8A", "B8A_20m"),
    "nir09": ("nir09", "B09", "B09_60m"),
    "swir16": ("swir16", "B11", "B11_20m"),
    "swir22": ("swir22", "B12", "B12_20m"),
    "scl": ("scl", "SCL", "SCL_20m"),
}

QA_BAND = "scl"

#: storage of the assets, for items without `raster:bands` (else readers guess float, no nodata)
REFLECTANCE_STORAGE = {"data_type": "uint16", "nodata": 0}
QA_STORAGE = {"data_type": "uint8", "nodata": 0}

SCL_CLASSES = {
    0: "no data",
    1: "saturated or defective",
    2: "dark area / topographic shadow",
    3: "cloud shadow",
    4: "vegetation",
    5: "bare soil",
    6: "water",
    7: "unclassified",
    8: "cloud medium probability",
    9: "cloud high probability",
    10: "thin cirrus",
    11: "snow or ice",
}

#: From processing baseline 04.00 (first products on this day) DN carry a +1000 offset.
BASELINE_SWITCH = dt.date(2022, 1, 25)


def scale_offset(properties: dict[str, Any]) -> tuple[float, float]:
    """DN → reflectance scale and offset from item properties, when `raster:bands` is absent.

    Uses `s2:processing_baseline` when present, else the acquisition date.
    """
    baseline = properties.get("s2:processing_baseline")
    if baseline is not None:
        try:
            new = float(baseline) >= 4.0
        except ValueError:
            new = _date(properties) >= BASELINE_SWITCH
    else:
        new = _date(properties) >= BASELINE_SWITCH
    return (1e-4, -0.1) if new else (1e-4, 0.0)


def _date(properties: dict[str, Any]) -> dt.date:
    value = properties.get("datetime") or properties.get("start_datetime")
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
