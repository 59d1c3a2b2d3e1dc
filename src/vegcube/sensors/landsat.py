"""Landsat 7/8/9 Collection 2 Level-2 facts: asset names, DN rules, QA_PIXEL bits.

Earth Search v1 and Planetary Computer both publish ``landsat-c2-l2`` with lowercase asset
names (``red``, ``nir08``, ``swir16``, ``qa_pixel``, ``lwir11``; Landsat 7's thermal band is
``lwir`` on Planetary Computer). Surface reflectance = DN × 2.75e-5 − 0.2, surface temperature
(K) = DN × 0.00341802 + 149.0; DN 0 is fill. Landsat 7 SLC-off stripes are fill: they stay NaN.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ._bits import bit, integer
from ._sensor import Sensor

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["LANDSAT", "QA_BITS", "SR_SCALE_OFFSET", "ST_SCALE_OFFSET", "wrs_tile"]

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
_QA_FLAGS: dict[Hashable, str] = {
    "fill": "bit 0: fill (no data, Landsat 7 SLC-off gaps)",
    "dilated_cloud": "bit 1: dilated cloud",
    "cirrus": "bit 2: cirrus (high confidence; Landsat 8/9)",
    "cloud": "bit 3: cloud",
    "shadow": "bit 4: cloud shadow",
    "snow": "bit 5: snow",
    "water": "bit 7: water",
    "not_clear": "bit 6 unset: not clear (any of the above but water)",
}
_BIT_OF = {name: n for n, name in QA_BITS.items()}
_CLOUD_FLAGS: frozenset[Hashable] = frozenset({"dilated_cloud", "cirrus", "cloud", "shadow"})

SR_SCALE_OFFSET = (2.75e-5, -0.2)
ST_SCALE_OFFSET = (0.00341802, 149.0)
_THERMAL = frozenset({"lwir", "lwir11"})


def _scale_offset(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """DN → surface reflectance (or surface temperature in K for the thermal band)."""
    return ST_SCALE_OFFSET if band in _THERMAL else SR_SCALE_OFFSET


def wrs_tile(properties: Mapping[str, Any]) -> str | None:
    """The scene's tile: ``grid:code`` (Earth Search: ``WRS2-033032``), else WRS-2 path/row."""
    if properties.get("grid:code"):
        return str(properties["grid:code"]).removeprefix("MGRS-")
    path, row = properties.get("landsat:wrs_path"), properties.get("landsat:wrs_row")
    if path is not None and row is not None:
        return f"{int(path):03d}{int(row):03d}"
    return None


def _invalid(qa: xr.DataArray, flags: Iterable[Hashable]) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from QA_PIXEL bits: `flags` are names of the sensor's `qa_flags`.

    `cloud_like` gathers the cloud, dilated-cloud, cirrus and shadow bits (callers may dilate
    it); `bad` the others (fill, snow, water, not_clear), never dilated.
    """
    import xarray as xr

    q = integer(qa)
    bad = xr.zeros_like(q, dtype=bool)
    cloud = xr.zeros_like(q, dtype=bool)
    for name in flags:
        if name == "not_clear":
            hit = ~bit(q, 6)
        elif name in _BIT_OF and name != "clear":
            hit = bit(q, _BIT_OF[str(name)])
        else:
            raise InputError(
                f"unknown Landsat QA flag {name!r}; accepted: {', '.join(map(str, _QA_FLAGS))}"
            )
        if name in _CLOUD_FLAGS:
            cloud = cloud | hit
        else:
            bad = bad | hit
    return bad, cloud


LANDSAT = Sensor(
    name="landsat",
    collections=("landsat-c2-l2",),
    # common band name → asset keys (Earth Search v1, Planetary Computer, USGS STAC)
    asset_aliases={
        "coastal": ("coastal",),
        "blue": ("blue",),
        "green": ("green",),
        "red": ("red",),
        "nir": ("nir08",),  # so that ndvi/ndwi work on Landsat as on Sentinel-2
        "nir08": ("nir08",),
        "swir16": ("swir16",),
        "swir22": ("swir22",),
        # surface temperature (K): Landsat 8/9 band 10, Landsat 7 band 6
        "lwir": ("lwir11", "lwir"),
        "lwir11": ("lwir11", "lwir"),
        "qa_pixel": ("qa_pixel",),
    },
    default_storage={"data_type": "uint16", "nodata": 0},
    band_storage={"qa_pixel": {"data_type": "uint16", "nodata": 1}},
    value_rule=_scale_offset,
    qa_band="qa_pixel",
    qa_bands=("qa_pixel",),
    qa_flags=_QA_FLAGS,
    default_flags=("fill", "dilated_cloud", "cirrus", "cloud", "shadow", "snow"),
    cloud_flags=_CLOUD_FLAGS,
    mask_key="landsat_qa",
    qa_rule=_invalid,
    tile_rule=wrs_tile,
    band_attrs={b: {"units": "K", "long_name": "surface temperature"} for b in _THERMAL},
)
