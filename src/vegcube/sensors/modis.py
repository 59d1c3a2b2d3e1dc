"""MODIS MOD13Q1/MOD13A1 v061 facts (16-day vegetation indices, 250/500 m) and the MODIS
sinusoidal grid.

Planetary Computer publishes ``modis-13Q1-061`` with one COG per layer (``250m_16_days_NDVI``,
``250m_16_days_VI_Quality``, …) on the sinusoidal grid (``proj:wkt2``, no EPSG code); odc-stac
reprojects it onto the cube's grid. NDVI and EVI are delivered ready-made (scale 1e-4, fill
−3000): the chain reads them instead of computing them from the reflectances.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._bits import bit, decode, field, integer
from ._sensor import Sensor

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "MODIS13Q1",
    "SINUSOIDAL_PROJ4",
    "SINUSOIDAL_WKT",
    "TILE_SIZE_M",
    "VI_QUALITY_FLAGS",
    "hv_tile",
    "tile_of",
]

_P = "250m_16_days_"
_P500 = "500m_16_days_"
_CLOUD_FLAGS: frozenset[Hashable] = frozenset(
    {"cloudy", "adjacent_cloud", "mixed_clouds", "shadow"}
)
_INDEX = frozenset({"ndvi", "evi"})
_REFLECTANCE = frozenset({"blue", "red", "nir", "swir22"})

#: The MODIS sinusoidal projection (sphere of radius 6371007.181 m), as Planetary Computer
#: publishes it in ``proj:wkt2``.
SINUSOIDAL_WKT = (
    'PROJCS["unnamed",GEOGCS["Unknown datum based upon the custom spheroid",'
    'DATUM["Not specified (based on custom spheroid)",SPHEROID["Custom spheroid",6371007.181,0]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]]],'
    'PROJECTION["Sinusoidal"],PARAMETER["longitude_of_center",0],PARAMETER["false_easting",0],'
    'PARAMETER["false_northing",0],UNIT["Meter",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
)
SINUSOIDAL_PROJ4 = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
_R = 6371007.181
#: side of a MODIS tile (h, v) in metres; 4800 pixels of the 250 m products
TILE_SIZE_M = 2 * math.pi * _R / 36
_X0, _Y0 = -math.pi * _R, math.pi * _R / 2


def tile_of(lon: float, lat: float) -> tuple[int, int]:
    """The MODIS sinusoidal tile (h, v) holding a lon/lat point."""
    x = _R * math.radians(lon) * math.cos(math.radians(lat))
    y = _R * math.radians(lat)
    return int((x - _X0) // TILE_SIZE_M), int((_Y0 - y) // TILE_SIZE_M)


def hv_tile(properties: Mapping[str, Any], *, prefix: str = "modis") -> str | None:
    """The sinusoidal tile of an item: ``h35v10`` from ``<prefix>:horizontal-tile`` and
    ``<prefix>:vertical-tile`` (MODIS items; ``viirs`` for the converted VIIRS ones)."""
    h, v = properties.get(f"{prefix}:horizontal-tile"), properties.get(f"{prefix}:vertical-tile")
    if h is not None and v is not None:
        return f"h{int(h):02d}v{int(v):02d}"
    return None


def _scale_offset(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """NDVI, EVI and reflectances: DN × 1e-4; QA and day-of-year layers are not scaled."""
    if band is None or band in _INDEX or band in _REFLECTANCE:
        return 1e-4, 0.0
    return 1.0, 0.0


#: MOD13Q1 VI Quality flag → what it tests (decoded by `_invalid`)
VI_QUALITY_FLAGS: dict[Hashable, str] = {
    "fill": "VI Quality 65535: fill",
    "cloudy": "bits 0–1 (MODLAND) = 10: produced, but most probably cloudy",
    "not_produced": "bits 0–1 (MODLAND) = 11: not produced for other reasons",
    "low_usefulness": "bits 2–5 (VI usefulness) ≥ 1100: lowest quality or not useful",
    "adjacent_cloud": "bit 8: adjacent cloud detected",
    "mixed_clouds": "bit 10: mixed clouds",
    "snow": "bit 14: possible snow/ice",
    "shadow": "bit 15: possible shadow",
}


def _invalid(qa: xr.DataArray, flags: Iterable[Hashable]) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from the MOD13Q1 VI Quality bits; `flags` are names of `qa_flags`."""
    q = integer(qa)
    modland, useful = field(q, 0, 2), field(q, 2, 4)
    tests = {
        "fill": lambda: q == 65535,
        "cloudy": lambda: modland == 2,
        "not_produced": lambda: modland == 3,
        "low_usefulness": lambda: useful >= 12,
        "adjacent_cloud": lambda: bit(q, 8),
        "mixed_clouds": lambda: bit(q, 10),
        "snow": lambda: bit(q, 14),
        "shadow": lambda: bit(q, 15),
    }
    return decode(q, tests, flags, cloud_flags=_CLOUD_FLAGS, product="MOD13Q1")


MODIS13Q1 = Sensor(
    name="modis13q1",
    # MOD13A1/MYD13A1 (500 m, the MODIS twin of VIIRS VNP13A1) share MOD13Q1's layers, fills
    # and VI Quality bits; only the asset keys' prefix differs (``500m_16_days_``)
    collections=("modis-13Q1-061", "modis-13A1-061"),
    # common band name → Planetary Computer asset keys (250 m, then 500 m)
    asset_aliases={
        "ndvi": (f"{_P}NDVI", f"{_P500}NDVI"),
        "evi": (f"{_P}EVI", f"{_P500}EVI"),
        "blue": (f"{_P}blue_reflectance", f"{_P500}blue_reflectance"),
        "red": (f"{_P}red_reflectance", f"{_P500}red_reflectance"),
        "nir": (f"{_P}NIR_reflectance", f"{_P500}NIR_reflectance"),
        # MODIS band 7, 2105–2155 nm
        "swir22": (f"{_P}MIR_reflectance", f"{_P500}MIR_reflectance"),
        "vi_quality": (f"{_P}VI_Quality", f"{_P500}VI_Quality"),
        "pixel_reliability": (f"{_P}pixel_reliability", f"{_P500}pixel_reliability"),
        "composite_doy": (f"{_P}composite_day_of_the_year", f"{_P500}composite_day_of_the_year"),
    },
    # Planetary Computer omits nodata in `raster:bands`
    default_storage={"data_type": "int16", "nodata": -1000},
    band_storage={
        **{b: {"data_type": "int16", "nodata": -3000} for b in _INDEX},
        "vi_quality": {"data_type": "uint16", "nodata": 65535},
        "pixel_reliability": {"data_type": "int8", "nodata": -1},
        "composite_doy": {"data_type": "int16", "nodata": -1},
    },
    value_rule=_scale_offset,
    qa_band="vi_quality",
    qa_bands=("vi_quality", "pixel_reliability", "composite_doy"),
    qa_fallbacks=("pixel_reliability",),
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
    mask_key="modis13q1_qa",
    qa_rule=_invalid,
    index_bands={"ndvi": "ndvi", "evi": "evi"},
    tile_rule=hv_tile,
)
