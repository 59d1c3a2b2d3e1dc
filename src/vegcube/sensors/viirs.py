"""VIIRS VNP13A1 / VJ113A1 / VJ213A1 v002 facts (16-day vegetation indices, 500 m).

NASA publishes these products only as HDF-EOS5 granules (one ``.h5`` per sinusoidal tile and
16-day period) in CMR-STAC (``https://cmr.earthdata.nasa.gov/stac/LPCLOUD``), behind an
Earthdata login, with no ``proj:`` or ``raster:`` fields. ``vegcube download`` converts each
granule's layers into COGs on the MODIS sinusoidal grid and writes items in the shape of
Planetary Computer's MODIS items (one COG per layer, ``proj:wkt2``, ``raster:bands`` with scale
and nodata), keyed like stactools-viirs (``500_m_16_days_NDVI``, …). This module describes
those converted items (the `Sensor`) and the granules they come from (`GRANULES`).

VI Quality has MOD13's bit layout (MODLAND 0–1, usefulness 2–5, aerosol 6–7, adjacent cloud 8,
BRDF 9, mixed clouds 10, land/water 11–13, snow/ice 14, shadow 15), so MOD13Q1's decoding
(`sensors.modis`) applies unchanged, under the same recipe key ``mask.modis13q1_qa``.
``pixel_reliability`` does not share MOD13's classes (VIIRS: 0 excellent … 9 cloud,
10 estimated, 11 long-term average) and is never used to mask. Sources:
``tests/data/items/EVIDENCE-viirs.md``.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from ._sensor import Sensor
from .modis import VI_QUALITY_FLAGS, hv_tile
from .modis import _invalid as _vi_quality_invalid
from .modis_lst import MOD21_QC_FLAGS, _mod21_invalid

__all__ = [
    "GRANULES",
    "LST_GRANULES",
    "VIIRS13A1",
    "VIIRS21A2",
    "GranuleLayer",
    "GranuleProduct",
    "granule_product",
    "granule_tile",
]

_P = "500_m_16_days_"
_CLOUD_FLAGS: frozenset[Hashable] = frozenset(
    {"cloudy", "adjacent_cloud", "mixed_clouds", "shadow"}
)
_INDEX = frozenset({"ndvi", "evi", "evi2"})
_REFLECTANCE = frozenset({"blue", "green", "red", "nir", "swir16", "swir22"})


@dataclass(frozen=True)
class GranuleLayer:
    """One HDF5 dataset of a granule and the COG asset it becomes."""

    dataset: str  #: dataset name under ``HDFEOS/GRIDS/<grid>/Data Fields``
    dtype: str  #: its data type (kept in the COG)
    fills: tuple[int, ...]  #: fill values the product documents (all become `nodata`)
    nodata: int  #: the COG's nodata
    scale: float | None  #: DN → value (None: not scaled)
    unit: str | None
    title: str
    offset: float | None = None  #: added after scaling (None: none)


@dataclass(frozen=True)
class GranuleProduct:
    """A tiled HDF5 product: its grid name, tile size in pixels and layers by asset key."""

    short_name: str
    grid: str  #: HDF-EOS grid name (the group under ``HDFEOS/GRIDS``)
    pixels: int  #: rows = columns of a tile
    resolution: int  #: nominal metres (``raster:bands`` spatial_resolution)
    platform: str
    layers: Mapping[str, GranuleLayer]


def _vi(name: str, title: str) -> GranuleLayer:
    return GranuleLayer(f"500 m 16 days {name}", "int16", (-15000, -13000), -32768, 1e-4,
                        name, title)  # fmt: skip


def _refl(name: str, title: str) -> GranuleLayer:
    return GranuleLayer(
        f"500 m 16 days {name} reflectance", "int16", (-1000,), -1000, 1e-4, None, title
    )


_LAYERS: dict[str, GranuleLayer] = {
    f"{_P}NDVI": _vi("NDVI", "Normalized Difference Vegetation Index"),
    f"{_P}EVI": _vi("EVI", "3 Band Enhanced Vegetation Index"),
    f"{_P}EVI2": _vi("EVI2", "2 Band Enhanced Vegetation Index"),
    f"{_P}VI_Quality": GranuleLayer(
        "500 m 16 days VI Quality", "uint16", (65535,), 65535, None, "bit field",
        "Bit field that assigns each pixel a Quality Assessment (QA) attribute",
    ),
    f"{_P}pixel_reliability": GranuleLayer(
        "500 m 16 days pixel reliability", "int8", (-1, -4), -1, None, None,
        "Pixel usefulness using a simple rank class",
    ),
    f"{_P}composite_day_of_the_year": GranuleLayer(
        "500 m 16 days composite day of the year", "int16", (-1,), -1, None, "Julian day",
        "Day of year for the pixel",
    ),
    f"{_P}blue_reflectance": _refl("blue", "Blue band reflectance (478-498 nm)"),
    f"{_P}green_reflectance": _refl("green", "Green band reflectance (545-565 nm)"),
    f"{_P}red_reflectance": _refl("red", "Red band reflectance (600-680 nm)"),
    f"{_P}NIR_reflectance": _refl("NIR", "Near-infrared reflectance (846-885 nm)"),
    f"{_P}SWIR1_reflectance": _refl("SWIR1", "Shortwave infrared reflectance (1230-1250 nm)"),
    f"{_P}SWIR2_reflectance": _refl("SWIR2", "Shortwave infrared reflectance (1580-1640 nm)"),
    f"{_P}SWIR3_reflectance": _refl("SWIR3", "Shortwave infrared reflectance (2225-2275 nm)"),
}  # fmt: skip


def _product(short: str, platform: str) -> GranuleProduct:
    return GranuleProduct(short, "VIIRS_Grid_16Day_VI_500m", 2400, 500, platform, _LAYERS)


#: CMR-STAC collection id (``<short name>_<version>``) → the granules it holds
GRANULES: dict[str, GranuleProduct] = {
    "VJ113A1_002": _product("VJ113A1", "noaa-20"),
    "VJ213A1_002": _product("VJ213A1", "noaa-21"),
    "VNP13A1_002": _product("VNP13A1", "snpp"),
}


def _lst(
    name: str,
    dtype: str,
    nodata: int,
    scale: float | None,
    offset: float | None,
    unit: str | None,
    title: str,
) -> GranuleLayer:
    return GranuleLayer(name, dtype, (nodata,), nodata, scale, unit, title, offset)


_LST_LAYERS: dict[str, GranuleLayer] = {
    "LST_Day_1KM": _lst("LST_Day_1KM", "uint16", 0, 0.02, None, "kelvin",
                        "Day Land Surface Temperature"),
    "LST_Night_1KM": _lst("LST_Night_1KM", "uint16", 0, 0.02, None, "kelvin",
                          "Night 1 km Land Surface Temperature"),
    "QC_Day": _lst("QC_Day", "uint8", 0, None, None, "bit field",
                   "Day Quality Control for LST and Emissivity"),
    "QC_Night": _lst("QC_Night", "uint8", 0, None, None, "bit field",
                     "Night Quality Control for LST and Emissivity"),
    **{f"Emis_{b}": _lst(f"Emis_{b}", "uint8", 0, 0.002, 0.49, None, f"M{b} Emissivity")
       for b in (14, 15, 16)},
    "View_Angle_Day": _lst("View_Angle_Day", "uint8", 255, None, -65.0, "degree",
                           "Day View Zenith Angle of LST"),
    "View_Angle_Night": _lst("View_Angle_Night", "uint8", 255, None, -65.0, "degree",
                             "Night View Zenith Angle of LST"),
    "View_Time_Day": _lst("View_Time_Day", "uint8", 255, 0.1, None, "hours",
                          "Day Time of LST Observation"),
    "View_Time_Night": _lst("View_Time_Night", "uint8", 255, 0.1, None, "hours",
                            "Night Time of LST Observation"),
}  # fmt: skip


def _lst_product(short: str, platform: str) -> GranuleProduct:
    return GranuleProduct(short, "VIIRS_Grid_8Day_1km_LST21", 1200, 1000, platform, _LST_LAYERS)


#: VIIRS LST/emissivity 8-day 1 km (VNP21A2 / VJ121A2 v002): the converted items' sensor is
#: `VIIRS21A2`; QC bytes have MOD21A2's layout and classes (stactools-viirs VNP21A2)
LST_GRANULES: dict[str, GranuleProduct] = {
    "VJ121A2_002": _lst_product("VJ121A2", "noaa-20"),
    "VNP21A2_002": _lst_product("VNP21A2", "snpp"),
}
GRANULES.update(LST_GRANULES)

_GRANULE_ID = re.compile(r"^(?P<short>[A-Z0-9]+)\.A(?P<date>\d{7})\.h(?P<h>\d\d)v(?P<v>\d\d)\.")


def granule_product(collection: str | None) -> GranuleProduct | None:
    """The HDF5 granule product of a CMR-STAC collection id (None: not a granule product)."""
    return GRANULES.get(collection or "")


def granule_tile(granule_id: str) -> tuple[int, int] | None:
    """The sinusoidal tile (h, v) in a granule name: ``VJ113A1.A2024001.h33v11.002.…``."""
    m = _GRANULE_ID.match(granule_id)
    return (int(m["h"]), int(m["v"])) if m else None


def _tile(properties: Mapping[str, Any]) -> str | None:
    """The sinusoidal tile of a converted item: ``h33v11``."""
    return hv_tile(properties, prefix="viirs")


def _scale_offset(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """VIs and reflectances: DN × 1e-4; QA and day-of-year layers are not scaled."""
    if band is None or band in _INDEX or band in _REFLECTANCE:
        return 1e-4, 0.0
    return 1.0, 0.0


VIIRS13A1 = Sensor(
    name="viirs13a1",
    collections=tuple(c for c in GRANULES if c not in LST_GRANULES),
    # common band name → asset keys of the converted items
    asset_aliases={
        "ndvi": (f"{_P}NDVI",),
        "evi": (f"{_P}EVI",),
        "evi2": (f"{_P}EVI2",),
        "blue": (f"{_P}blue_reflectance",),  # VIIRS M3
        "green": (f"{_P}green_reflectance",),  # M4
        "red": (f"{_P}red_reflectance",),  # I1
        "nir": (f"{_P}NIR_reflectance",),  # M7
        "swir16": (f"{_P}SWIR2_reflectance",),  # I3, 1610 nm
        "swir22": (f"{_P}SWIR3_reflectance",),  # M11, 2250 nm
        "vi_quality": (f"{_P}VI_Quality",),
        "pixel_reliability": (f"{_P}pixel_reliability",),
        "composite_doy": (f"{_P}composite_day_of_the_year",),
    },
    # for items without raster:bands (the converted items have them)
    default_storage={"data_type": "int16", "nodata": -1000},
    band_storage={
        **{b: {"data_type": "int16", "nodata": -32768} for b in _INDEX},
        "vi_quality": {"data_type": "uint16", "nodata": 65535},
        "pixel_reliability": {"data_type": "int8", "nodata": -1},
        "composite_doy": {"data_type": "int16", "nodata": -1},
    },
    value_rule=_scale_offset,
    rule_name="VIIRS VNP13 rule (× 1e-4)",
    qa_band="vi_quality",
    qa_bands=("vi_quality", "pixel_reliability", "composite_doy"),
    qa_flags=VI_QUALITY_FLAGS,
    default_flags=(
        "fill",
        "cloudy",
        "not_produced",
        "low_usefulness",
        "mixed_clouds",
        "shadow",
        "snow",
    ),
    cloud_flags=_CLOUD_FLAGS,
    mask_key="modis13q1_qa",  # the same VI Quality bits, the same recipe key
    qa_rule=_vi_quality_invalid,
    index_bands={"ndvi": "ndvi", "evi": "evi"},
    tile_rule=_tile,
)


def _lst_values(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """LST DN × 0.02 K, view time × 0.1 h; emissivity and view angles by `_LST_FIXED`."""
    if band is None or band in ("lst_day", "lst_night"):
        return 0.02, 0.0
    if band.startswith("view_time"):
        return 0.1, 0.0
    return _LST_FIXED.get(band, (1.0, 0.0))


_LST_BANDS = {
    "lst_day": "LST_Day_1KM",
    "lst_night": "LST_Night_1KM",
    "qc_day": "QC_Day",
    "qc_night": "QC_Night",
    **{f"emis_{b}": f"Emis_{b}" for b in (14, 15, 16)},
    **{f"view_{k}_{t}": f"View_{k.title()}_{t.title()}" for k in ("angle", "time")
       for t in ("day", "night")},
}  # fmt: skip
_LST_FIXED = {
    **{f"emis_{b}": (0.002, 0.49) for b in (14, 15, 16)},
    **{f"view_angle_{t}": (1.0, -65.0) for t in ("day", "night")},
}

VIIRS21A2 = Sensor(
    name="viirs21a2",
    collections=tuple(LST_GRANULES),
    asset_aliases={band: (key,) for band, key in _LST_BANDS.items()},
    default_storage={"data_type": "uint16", "nodata": 0},  # LST fill 0
    band_storage={
        **{f"qc_{t}": {"data_type": "uint8", "nodata": 0} for t in ("day", "night")},
        **{f"emis_{b}": {"data_type": "uint8", "nodata": 0} for b in (14, 15, 16)},
        **{
            f"view_{k}_{t}": {"data_type": "uint8", "nodata": 255}
            for k in ("angle", "time")
            for t in ("day", "night")
        },
    },
    value_rule=_lst_values,
    rule_name="VNP21 user guide",
    qa_band="qc_day",
    qa_bands=("qc_day", "qc_night"),
    qa_flags=MOD21_QC_FLAGS,
    default_flags=(
        "fill",
        "cloud",
        "not_produced",
        "missing_pixel",
        "poorly_calibrated",
        "lst_error_2k",
    ),
    cloud_flags=frozenset({"cloud"}),
    mask_key="modis21a2_qa",  # MOD21A2's QC bits and classes, the same recipe key
    qa_rule=_mod21_invalid,
    tile_rule=_tile,
    band_attrs={
        **{
            f"lst_{t}": {"units": "K", "long_name": f"{t}time land surface temperature (VNP21A2)"}
            for t in ("day", "night")
        },
        **{
            f"emis_{b}": {"units": "1", "long_name": f"VIIRS M{b} emissivity"} for b in (14, 15, 16)
        },
        **{
            f"view_angle_{t}": {"units": "degree", "long_name": f"{t}time view zenith angle"}
            for t in ("day", "night")
        },
        **{
            f"view_time_{t}": {"units": "h", "long_name": f"{t}time local solar view time"}
            for t in ("day", "night")
        },
    },
    band_qa={f"{b}_night": "qc_night" for b in ("lst", "view_time", "view_angle")},
    product_values=_LST_FIXED,
)
