"""Sentinel-2 L2A facts: asset names per catalog, DN → reflectance rules, SCL classes, QA60."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ._bits import bit, classes, integer
from ._sensor import Sensor, Verdict
from .values import baseline_text, processing_baseline

if TYPE_CHECKING:
    import pystac
    import xarray as xr

__all__ = [
    "BASELINE_SWITCH",
    "QA60_BITS",
    "REFLECTANCE_STORAGE",
    "SCL_CLASSES",
    "SENTINEL2",
    "mgrs_tile",
    "qa60_invalid",
]

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

#: storage of the assets, for items without `raster:bands` (else readers guess float, no nodata)
REFLECTANCE_STORAGE = {"data_type": "uint16", "nodata": 0}

SCL_CLASSES: dict[Hashable, str] = {
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
#: SCL classes that are clouds or cloud shadows: the only ones grown by `dilate_m`
_CLOUD_CLASSES: frozenset[Hashable] = frozenset({3, 8, 9, 10})

#: QA60 (L1C and L2A before processing baseline 04.00): bit → flag name
QA60_BITS = {10: "opaque_cloud", 11: "cirrus"}

#: From processing baseline 04.00 (first products on this day) DN carry a +1000 offset.
BASELINE_SWITCH = dt.date(2022, 1, 25)
_NEW_BASELINE = (4, 0)
_BOA_OFFSET = -0.1


def _baseline_offset(baseline: tuple[int, ...]) -> float:
    """The offset processing baseline `baseline` implies: −0.1 from 04.00 (BOA_ADD_OFFSET)."""
    return _BOA_OFFSET if baseline >= _NEW_BASELINE else 0.0


def _scale_offset(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """DN → reflectance scale and offset from item properties, when `raster:bands` is absent.

    The same for every reflectance band. Uses the processing baseline when the item gives it
    (`s2:processing_baseline` or `processing:version`), else the acquisition date.
    """
    baseline = processing_baseline(properties)
    if baseline is None:
        baseline = _NEW_BASELINE if _date(properties) >= BASELINE_SWITCH else ()
    return 1e-4, _baseline_offset(baseline)


def _date(properties: Mapping[str, Any]) -> dt.date:
    value = properties.get("datetime") or properties.get("start_datetime")
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()


def mgrs_tile(properties: Mapping[str, Any]) -> str | None:
    """The MGRS tile (``58KEB``) of a Sentinel-2 item, in any catalog's property."""
    if properties.get("s2:mgrs_tile"):
        return str(properties["s2:mgrs_tile"]).removeprefix("T")
    if properties.get("grid:code"):
        return str(properties["grid:code"]).removeprefix("MGRS-")
    mgrs = [properties.get(f"mgrs:{k}") for k in ("utm_zone", "latitude_band", "grid_square")]
    if all(v is not None for v in mgrs):
        return f"{int(mgrs[0]):02d}{mgrs[1]}{mgrs[2]}"  # type: ignore[arg-type]
    return None


def _invalid(qa: xr.DataArray, flags: Iterable[Hashable]) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from SCL classes `flags`; from QA60 flag names if `qa` is named qa60.

    `bad` holds the flagged classes that are not clouds/shadows (no data, saturated, snow…),
    `cloud_like` the cloud and shadow classes, which callers may dilate.
    """
    if qa.name == "qa60":
        names = [str(f) for f in flags if f in QA60_BITS.values()]
        return qa60_invalid(qa, flags=names or None)
    chosen = set(flags)
    cloud = classes(qa, chosen & _CLOUD_CLASSES)
    return classes(qa, chosen - _CLOUD_CLASSES), cloud


def qa60_invalid(
    qa60: xr.DataArray, *, flags: Iterable[str] | None = None
) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from the QA60 bit mask: bit 10 opaque cloud, bit 11 cirrus.

    `flags` picks among ``opaque_cloud`` and ``cirrus`` (default both); both are cloud-like.
    """
    import xarray as xr

    names = set(QA60_BITS.values()) if flags is None else set(flags)
    unknown = names - set(QA60_BITS.values())
    if unknown:
        raise InputError(f"unknown QA60 flags {sorted(unknown)}; accepted: opaque_cloud, cirrus")
    q = integer(qa60)
    cloud = xr.zeros_like(q, dtype=bool)
    for n, name in QA60_BITS.items():
        if name in names:
            cloud = cloud | bit(q, n)
    return xr.zeros_like(q, dtype=bool), cloud


def _earthsearch_boa(item: pystac.Item, declared: tuple[float, float] | None) -> Verdict:
    """Earth Search v1 S2 L2A: ``earthsearch:boa_offset_applied: true`` → offset 0.

    ``false`` with baseline ≥ 04.00 is left to the next rules (the declared −0.1), with a note:
    Earth Search has published such items whose COGs were already harmonised
    (Element84/earth-search#66, #71; cirrus-earth-search#33).
    """
    if item.properties.get("earthsearch:boa_offset_applied") is True:
        if declared is not None and not math.isclose(declared[1], 0.0, abs_tol=1e-9):
            return Verdict(
                0.0,
                f"raster:bands offset {declared[1]:g} ignored: earthsearch:boa_offset_applied "
                "is true (the COG values already have the offset removed)",
            )
        return Verdict(0.0)
    baseline = processing_baseline(item.properties)
    if baseline is not None and baseline >= _NEW_BASELINE:
        return Verdict(
            None,
            f"earthsearch:boa_offset_applied is false with processing baseline "
            f"{baseline_text(baseline)}: Earth Search has published such items whose COGs were "
            "already harmonised (earth-search#66, #71); the offset is applied as declared: "
            "check values below 0",
        )
    return Verdict(None)


#: catalog-specific item properties that override the asset metadata, and how
TRUTH_FLAGS = {"earthsearch:boa_offset_applied": _earthsearch_boa}

SENTINEL2 = Sensor(
    name="sentinel2",
    collections=("sentinel-2-l2a", "sentinel-2-c1-l2a"),
    asset_aliases=ASSET_ALIASES,
    default_storage=REFLECTANCE_STORAGE,
    band_storage={
        "scl": {"data_type": "uint8", "nodata": 0},
        "qa60": {"data_type": "uint16", "nodata": None},
    },
    value_rule=_scale_offset,
    qa_band="scl",
    qa_bands=("scl", "qa60"),
    qa_fallbacks=("qa60",),
    qa_flags=SCL_CLASSES,
    default_flags=(0, 1, 3, 8, 9, 10),
    cloud_flags=_CLOUD_CLASSES,
    mask_key="sentinel2_scl",
    qa_rule=_invalid,
    tile_rule=mgrs_tile,
    truth_flags=TRUTH_FLAGS,
    baseline_offset=_baseline_offset,
    rule_name=f"acquisition date (baseline switch {BASELINE_SWITCH})",
    cloud_probability=True,
)
