"""SMAP soil moisture: L4 ``SPL4SMGP`` (3-hourly, model + assimilation) and L3 ``SPL3SMP_E``
(daily retrievals), HDF5 granules on the EASE-Grid 2.0 global 9 km grid.

NASA publishes both in CMR-STAC (``https://cmr.earthdata.nasa.gov/stac/NSIDC_CPRD``) as
``SPL4SMGP_008`` and ``SPL3SMP_E_006``, one ``.h5`` per granule behind an Earthdata login,
with no ``proj:`` or ``raster:`` fields. Every dataset is a global 1624 × 3856 array of the
EASE-Grid 2.0 global grid (EPSG:6933, cells of 9008.055210146 m, upper-left corner
(−1928, 812) cells from the origin: −17367530.445 m, 7314540.831 m; NSIDC publishes
−17367530.45, 7314540.83). Values are volumetric soil moisture (m³/m³, float32, fill −9999)
or percentiles (%). ``vegcube download`` converts the layers a recipe needs into COGs clipped
to the AOI and writes one item **per UTC day** (`SmapProduct.per_day` granules averaged):

- L4: the day's 8 three-hourly granules are averaged cell by cell (over the granules where
  every requested layer holds a value), and a ``granule_count`` COG (vegcube's, not NASA's:
  the product has no quality layer) says how many were; it is the QA band: ``fill`` (none),
  ``incomplete_day`` (fewer than 8). The cube groups items by solar day keeping the first
  valid value, so 3-hourly items would not be averaged: the day's mean is made on download.
- L3: the day's granule as stored; AM (6 am descending) and PM (6 pm ascending) retrievals
  each with its ``retrieval_qual_flag`` (bit 0 not recommended, 1 not attempted, 2 failed;
  fill 65534). Only the AM retrieval is an index: the scene chain masks an index with the
  sensor's QA band, and the PM flags are a different band.

Soil moisture is read ready-made as the chain's index (`Sensor.index_bands`):
``indices: [sm_rootzone]``. Sources: ``tests/data/items/EVIDENCE-smap.md``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import xarray as xr
from rasterio.transform import Affine

from ._bits import bit, decode, integer
from ._sensor import Sensor
from .viirs import GranuleLayer, GranuleProduct

__all__ = [
    "EASE2_CELL",
    "EASE2_CRS",
    "EASE2_M09",
    "EASE2_SHAPE",
    "SMAP_GRANULES",
    "SMAP_L3",
    "SMAP_L4",
    "SmapProduct",
    "smap_product",
]

#: EASE-Grid 2.0 global 9 km ("M09"): CRS, cell side (m), (rows, cols), geotransform
EASE2_CRS = "EPSG:6933"
EASE2_CELL = 9008.055210146
EASE2_SHAPE = (1624, 3856)
EASE2_M09 = Affine(EASE2_CELL, 0.0, -EASE2_SHAPE[1] / 2 * EASE2_CELL,
                   0.0, -EASE2_CELL, EASE2_SHAPE[0] / 2 * EASE2_CELL)  # fmt: skip
#: the derived QA layer of the daily L4 items (granules averaged per cell)
COUNT = "granule_count"
_SM_UNIT = "m3 m-3"


@dataclass(frozen=True)
class SmapProduct(GranuleProduct):
    """A granule product on one global grid (not tiles), mirrored as one item per UTC day."""

    crs: str = EASE2_CRS
    transform: Affine = EASE2_M09
    shape: tuple[int, int] = EASE2_SHAPE
    per_day: int = 1  #: granules in a full day (L4: 8 three-hourly; L3: 1)
    instruments: tuple[str, ...] = ("smap",)

    @property
    def global_grid(self) -> Any:
        """(CRS, transform, (rows, cols)) of the global grid (a `download.jobs.Grid`)."""
        from rasterio.crs import CRS

        return CRS.from_user_input(self.crs), self.transform, self.shape


def _sm(path: str, unit: str | None, title: str) -> GranuleLayer:
    return GranuleLayer(path, "float32", (-9999,), -9999, None, unit, title)


def _flag(path: str, title: str) -> GranuleLayer:
    return GranuleLayer(path, "uint16", (65534,), 65534, None, "bit field", title)


_G = "Geophysical_Data/"
_L4_LAYERS: dict[str, GranuleLayer] = {
    "sm_surface": _sm(f"{_G}sm_surface", _SM_UNIT, "Surface soil moisture (0-5 cm)"),
    "sm_rootzone": _sm(f"{_G}sm_rootzone", _SM_UNIT, "Root zone soil moisture (0-100 cm)"),
    "sm_profile": _sm(f"{_G}sm_profile", _SM_UNIT, "Total profile soil moisture"),
    "sm_rootzone_pctl": _sm(f"{_G}sm_rootzone_pctl", "percent",
                            "Root zone soil moisture (percentile units)"),
    "sm_profile_pctl": _sm(f"{_G}sm_profile_pctl", "percent",
                           "Total profile soil moisture (percentile units)"),
    "sm_surface_wetness": _sm(f"{_G}sm_surface_wetness", "1", "Surface soil wetness"),
    "sm_rootzone_wetness": _sm(f"{_G}sm_rootzone_wetness", "1", "Root zone soil wetness"),
    # vegcube's own layer: not in the granule (empty dataset path)
    COUNT: GranuleLayer("", "uint8", (), 255, None, "count",
                        "3-hourly granules averaged into the day (vegcube)"),
}  # fmt: skip
_AM, _PM = "Soil_Moisture_Retrieval_Data_AM/", "Soil_Moisture_Retrieval_Data_PM/"
_L3_LAYERS: dict[str, GranuleLayer] = {
    "soil_moisture_am": _sm(f"{_AM}soil_moisture", _SM_UNIT, "Soil moisture, 6 am descending"),
    "soil_moisture_pm": _sm(f"{_PM}soil_moisture_pm", _SM_UNIT, "Soil moisture, 6 pm ascending"),
    "retrieval_qual_flag_am": _flag(f"{_AM}retrieval_qual_flag", "AM retrieval quality"),
    "retrieval_qual_flag_pm": _flag(f"{_PM}retrieval_qual_flag_pm", "PM retrieval quality"),
}

#: CMR-STAC collection id (``<short name>_<version>``, provider NSIDC_CPRD) → its granules
SMAP_GRANULES: dict[str, SmapProduct] = {
    "SPL4SMGP_008": SmapProduct("SPL4SMGP", "", 0, 9000, "smap", _L4_LAYERS, per_day=8),
    "SPL3SMP_E_006": SmapProduct("SPL3SMP_E", "", 0, 9000, "smap", _L3_LAYERS, per_day=1),
}


def smap_product(collection: str | None) -> SmapProduct | None:
    """The SMAP product of a CMR-STAC collection id (None: not a SMAP collection)."""
    return SMAP_GRANULES.get(collection or "")


def _values(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """Stored in physical units (m³/m³, %): no scaling."""
    return 1.0, 0.0


#: L4 daily-item QA (the ``granule_count`` layer) → what it tests
L4_FLAGS: dict[Hashable, str] = {
    "fill": "no granule of the day holds a value (count 0)",
    "incomplete_day": "fewer than the day's 8 three-hourly granules hold a value",
}
#: L3 ``retrieval_qual_flag`` bits (NSIDC, SMAP quality-flag tutorial) → what they test
L3_FLAGS: dict[Hashable, str] = {
    "fill": "flag 65534: no retrieval (the product's fill value)",
    "not_recommended": "bit 0 set: retrieval not of recommended quality",
    "not_attempted": "bit 1 set: retrieval not attempted",
    "failed": "bit 2 set: retrieval not successful",
}


def _l4_invalid(qa: xr.DataArray, flags: Iterable[Hashable]) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from the daily granule count (NaN read as 0)."""
    n = qa.fillna(0) if qa.dtype.kind == "f" else qa
    tests = {"fill": lambda: n <= 0, "incomplete_day": lambda: (n > 0) & (n < 8)}
    return decode(n, tests, flags, cloud_flags=(), product="SMAP L4", fill_value=-1)


def _l3_invalid(qa: xr.DataArray, flags: Iterable[Hashable]) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from a ``retrieval_qual_flag``; 65534 is fill only (`decode`)."""
    q = integer(qa.fillna(65534) if qa.dtype.kind == "f" else qa)
    tests = {
        "fill": lambda: q == 65534,
        "not_recommended": lambda: bit(q, 0),
        "not_attempted": lambda: bit(q, 1),
        "failed": lambda: bit(q, 2),
    }
    return decode(q, tests, flags, cloud_flags=(), product="SMAP L3", fill_value=65534)


def _attrs(layers: Mapping[str, GranuleLayer], names: Iterable[str]) -> dict[str, dict[str, str]]:
    units = {_SM_UNIT: "m3 m-3", "percent": "%", "1": "1"}
    return {
        n: {"units": units.get(layers[n].unit or "1", "1"), "long_name": layers[n].title}
        for n in names
    }


_L4_INDEX = ("sm_surface", "sm_rootzone", "sm_profile", "sm_rootzone_pctl", "sm_profile_pctl")
_F32 = {"data_type": "float32", "nodata": -9999}

SMAP_L4 = Sensor(
    name="smap_l4",
    collections=("SPL4SMGP_008",),
    asset_aliases={k: (k,) for k in _L4_LAYERS},
    default_storage=_F32,
    band_storage={COUNT: {"data_type": "uint8", "nodata": 255}},
    value_rule=_values,
    rule_name="SMAP L4 (physical units as stored)",
    qa_band=COUNT,
    qa_bands=(COUNT,),
    qa_flags=L4_FLAGS,
    default_flags=("fill",),
    mask_key="smap_l4_qa",
    qa_rule=_l4_invalid,
    index_bands={k: k for k in _L4_INDEX},
    band_attrs=_attrs(_L4_LAYERS, [k for k in _L4_LAYERS if k != COUNT]),
)

SMAP_L3 = Sensor(
    name="smap_l3",
    collections=("SPL3SMP_E_006",),
    asset_aliases={k: (k,) for k in _L3_LAYERS},
    default_storage=_F32,
    band_storage={
        f"retrieval_qual_flag_{t}": {"data_type": "uint16", "nodata": 65534} for t in ("am", "pm")
    },
    value_rule=_values,
    rule_name="SMAP L3 (physical units as stored)",
    qa_band="retrieval_qual_flag_am",
    qa_bands=("retrieval_qual_flag_am", "retrieval_qual_flag_pm"),
    qa_flags=L3_FLAGS,
    default_flags=("fill", "not_recommended", "failed"),
    mask_key="smap_l3_qa",
    qa_rule=_l3_invalid,
    index_bands={"soil_moisture_am": "soil_moisture_am"},
    band_attrs=_attrs(_L3_LAYERS, ("soil_moisture_am", "soil_moisture_pm")),
    band_qa={"soil_moisture_pm": "retrieval_qual_flag_pm"},
)
