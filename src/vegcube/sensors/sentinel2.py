"""Sentinel-2 L2A facts: asset names per catalog, DN → reflectance rules, SCL classes, QA60."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable
from typing import Any

import xarray as xr

from ._bits import bit, integer

__all__ = [
    "ASSET_ALIASES",
    "BASELINE_SWITCH",
    "CLOUD_FLAGS",
    "COLLECTIONS",
    "DEFAULT_FLAGS",
    "INDEX_BANDS",
    "MASK_KEY",
    "NAME",
    "QA60_BITS",
    "QA_BAND",
    "QA_BANDS",
    "QA_FLAGS",
    "QA_STORAGE",
    "REFLECTANCE_STORAGE",
    "SCL_CLASSES",
    "invalid",
    "qa60_invalid",
    "scale_offset",
    "storage",
]

NAME = "sentinel2"
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
    "qa60": ("qa60", "QA60", "QA60_60m"),
}

QA_BAND = "scl"
QA_BANDS = ("scl", "qa60")
INDEX_BANDS: dict[str, str] = {}
MASK_KEY = "sentinel2_scl"

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

QA_FLAGS: dict[Hashable, str] = {k: v for k, v in SCL_CLASSES.items()}
DEFAULT_FLAGS = (0, 1, 3, 8, 9, 10)
#: SCL classes that are clouds or cloud shadows: the only ones grown by `dilate_m`
CLOUD_FLAGS = frozenset({3, 8, 9, 10})

#: QA60 (L1C and L2A before processing baseline 04.00): bit → flag name
QA60_BITS = {10: "opaque_cloud", 11: "cirrus"}

#: From processing baseline 04.00 (first products on this day) DN carry a +1000 offset.
BASELINE_SWITCH = dt.date(2022, 1, 25)


def storage(band: str) -> dict[str, Any]:
    """Storage type and nodata of a band's asset (for items without `raster:bands`)."""
    if band == "scl":
        return QA_STORAGE
    if band == "qa60":
        return {"data_type": "uint16", "nodata": None}
    return REFLECTANCE_STORAGE


def scale_offset(properties: dict[str, Any], band: str | None = None) -> tuple[float, float]:
    """DN → reflectance scale and offset from item properties, when `raster:bands` is absent.

    The same for every reflectance band. Uses the processing baseline when the item gives it
    (`s2:processing_baseline` or `processing:version`), else the acquisition date.
    """
    from .values import processing_baseline

    baseline = processing_baseline(properties)
    new = baseline >= (4, 0) if baseline is not None else _date(properties) >= BASELINE_SWITCH
    return (1e-4, -0.1) if new else (1e-4, 0.0)


def _date(properties: dict[str, Any]) -> dt.date:
    value = properties.get("datetime") or properties.get("start_datetime")
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()


def invalid(
    qa: xr.DataArray, *, flags: Iterable[Hashable] = DEFAULT_FLAGS
) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from SCL classes `flags`; from QA60 flag names if `qa` is named qa60.

    `bad` holds the flagged classes that are not clouds/shadows (no data, saturated, snow…),
    `cloud_like` the cloud and shadow classes, which callers may dilate.
    """
    if qa.name == "qa60":
        names = [str(f) for f in flags if f in QA60_BITS.values()]
        return qa60_invalid(qa, flags=names or None)
    chosen = set(flags)
    cloud = qa.isin(sorted(chosen & CLOUD_FLAGS))
    return qa.isin(sorted(chosen - CLOUD_FLAGS)), cloud


def qa60_invalid(
    qa60: xr.DataArray, *, flags: Iterable[str] | None = None
) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from the QA60 bit mask: bit 10 opaque cloud, bit 11 cirrus.

    `flags` picks among ``opaque_cloud`` and ``cirrus`` (default both); both are cloud-like.
    """
    names = set(QA60_BITS.values()) if flags is None else set(flags)
    unknown = names - set(QA60_BITS.values())
    if unknown:
        raise ValueError(f"unknown QA60 flags {sorted(unknown)}; accepted: opaque_cloud, cirrus")
    q = integer(qa60)
    cloud = xr.zeros_like(q, dtype=bool)
    for n, name in QA60_BITS.items():
        if name in names:
            cloud = cloud | bit(q, n)
    return xr.zeros_like(q, dtype=bool), cloud
