"""Copernicus Global Land Soil Water Index (SWI, from Metop ASCAT), global 0.1° NetCDF files.

The Copernicus Land Monitoring Service distributes SWI version 3 as files, without STAC: one
NetCDF a day (``c_gls_SWI_<YYYYMMDD>1200_GLOBE_ASCAT_V<x.y.z>.nc``) or a dekad
(``c_gls_SWI10_…``), each a global 1800 × 3600 lat/lon grid of 0.1° cells (EPSG:4326, the
coordinates give the cell centres). Every characteristic time length T (1, 5, 10, 15, 20, 40,
60, 100 days: the deeper the layer, the longer T) has its ``SWI_<TTT>`` (soil water index, %)
and ``QFLAG_<TTT>`` (the availability of surface-soil-moisture observations behind that value,
%): uint8 digital numbers, value = 0.5 · DN (DN 0..200), 255 missing; ``SSF`` is the surface
state (frozen, melting). Sources and what is assumed: ``tests/data/items/EVIDENCE-swi.md``.

``vegcube download`` turns the files of a folder or a URL list into COG items of the
collections here (`download.swi`); the indices ``swi_001`` … ``swi_100`` are read ready-made
(`Sensor.index_bands`). The chain masks them with one QA band, ``qflag``, vegcube's: per cell
the lowest QFLAG (DN) of the T-values mirrored for the item (with one SWI index requested,
exactly that index's QFLAG); its flags are ``fill`` and ``below_10``/``below_25``/``below_50``
(fewer than that percentage of the expected observations behind the value).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import xarray as xr
from rasterio.transform import Affine

from ._bits import decode, integer
from ._sensor import Sensor

__all__ = [
    "QA",
    "SWI",
    "SWI_COLLECTIONS",
    "SWI_SHAPE",
    "SWI_TRANSFORM",
    "T_VALUES",
    "SwiFile",
    "parse_name",
    "swi_product",
]

#: characteristic time lengths (days) of the version-3 files
T_VALUES: tuple[int, ...] = (1, 5, 10, 15, 20, 40, 60, 100)
#: the global grid: 1800 rows × 3600 columns of 0.1°, north-west corner at (−180°, 90°)
SWI_SHAPE = (1800, 3600)
SWI_TRANSFORM = Affine(0.1, 0.0, -180.0, 0.0, -0.1, 90.0)
SWI_CRS = "EPSG:4326"
#: collection id → the file-name product token (``c_gls_<token>_…``)
SWI_COLLECTIONS: dict[str, str] = {"copernicus-swi": "SWI", "copernicus-swi10": "SWI10"}
#: vegcube's QA layer: the lowest QFLAG of the item's T-values (DN, 255 fill)
QA = "qflag"
FILL = 255  #: the product's missing value (any DN above `VALID_MAX` is no value)
VALID_MAX = 200  #: DN of 100 %
SCALE = 0.5  #: % per DN

_NAME = re.compile(
    r"^c_gls_(?P<product>SWI10|SWI)_(?P<stamp>\d{12})_GLOBE_ASCAT_V(?P<version>\d+\.\d+\.\d+)"
    r"\.nc$"
)


@dataclass(frozen=True)
class SwiFile:
    """One SWI file: its name's product token, date and version, and where it is."""

    product: str  #: "SWI" (daily) or "SWI10" (10-daily)
    when: dt.datetime  #: the product's date and time (UTC) in its name
    version: tuple[int, int, int]
    href: str  #: local path or http(s) URL
    name: str

    @property
    def collection(self) -> str:
        """The vegcube collection id of its product."""
        return next(c for c, p in SWI_COLLECTIONS.items() if p == self.product)

    @property
    def item_id(self) -> str:
        """The mirror item id: the file name without version and extension."""
        return f"c_gls_{self.product}_{self.when:%Y%m%d%H%M}_GLOBE_ASCAT"


def parse_name(name: str, href: str | None = None) -> SwiFile | None:
    """The `SwiFile` of a file name (None: not a global SWI version-3 name)."""
    m = _NAME.match(name)
    if m is None:
        return None
    try:
        when = dt.datetime.strptime(m["stamp"], "%Y%m%d%H%M").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    a, b, c = (int(v) for v in m["version"].split("."))
    return SwiFile(m["product"], when, (a, b, c), href or name, name)


def swi_product(collection: str | None) -> str | None:
    """The file-name product token of an SWI collection (None: not an SWI collection)."""
    return SWI_COLLECTIONS.get(collection or "")


def variable(band: str) -> str:
    """The NetCDF variable of a band: ``swi_010`` → ``SWI_010``."""
    return band.upper()


def _values(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """SWI bands: 0.5 % per DN; anything else as stored."""
    return (SCALE, 0.0) if band is not None and band.startswith("swi_") else (1.0, 0.0)


#: ``qflag`` (vegcube's QA band) → what it tests
SWI_FLAGS: dict[Hashable, str] = {
    "fill": "no QFLAG (DN 255, or above 200): no SWI value",
    "below_10": "QFLAG < 10 %: under a tenth of the expected observations behind the value",
    "below_25": "QFLAG < 25 % of the expected observations",
    "below_50": "QFLAG < 50 % of the expected observations",
}


def _invalid(qa: xr.DataArray, flags: Iterable[Hashable]) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from the ``qflag`` DN (NaN read as fill)."""
    q = integer(qa.fillna(FILL) if qa.dtype.kind == "f" else qa)
    filled = q > VALID_MAX
    tests = {
        "fill": lambda: filled,
        "below_10": lambda: ~filled & (q < 20),
        "below_25": lambda: ~filled & (q < 50),
        "below_50": lambda: ~filled & (q < 100),
    }
    return decode(q, tests, flags, cloud_flags=(), product="Copernicus SWI", fill_value=FILL)


_BANDS = tuple(f"swi_{t:03d}" for t in T_VALUES)

SWI = Sensor(
    name="swi",
    collections=tuple(SWI_COLLECTIONS),
    asset_aliases={b: (b,) for b in (*_BANDS, QA)},
    default_storage={"data_type": "uint8", "nodata": FILL},
    value_rule=_values,
    rule_name="Copernicus SWI (0.5 % per DN)",
    qa_band=QA,
    qa_bands=(QA,),
    qa_flags=SWI_FLAGS,
    default_flags=("fill", "below_25"),
    mask_key="swi_qa",
    qa_rule=_invalid,
    index_bands={b: b for b in _BANDS},
    band_attrs={
        b: {"units": "%", "long_name": f"Soil Water Index with T={t}"}
        for b, t in zip(_BANDS, T_VALUES, strict=True)
    },
    product_values={b: (SCALE, 0.0) for b in _BANDS},
)
