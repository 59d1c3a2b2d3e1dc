"""Sentinel-3 SYNERGY ``SY_2_V10___`` (V10): 10-day, ~1 km (1/112°) NDVI and surface reflectance.

A SPOT-VEGETATION continuity product: the maximum-NDVI composite of ten days of OLCI + SLSTR
surface reflectance, already gridded on a regular lat/lon grid (pixel centres on multiples of
1/112°), delivered per region (EUROPE, AFRICA, …) and dekad. Planetary Computer's
``sentinel-3-synergy-v10-l2-netcdf`` items (stactools-sentinel3) point to one NetCDF file per
variable: ``ndvi`` → ``NDVI.nc`` (``NDVI``: uint8, × 0.004 − 0.08, fill 255, valid 0..250),
``sm`` → ``sm.nc`` (``SM``, the status map), ``b0``/``b2``/``b3``/``mir`` → ``B0.nc`` …
(surface reflectance, int16 × 1e-4, fill −10000), each variable on ``latitude`` × ``longitude``
with ``lat_bnds``/``lon_bnds``. The items carry no ``proj:*`` and no ``raster:bands``.

Reading: odc-stac through GDAL (`cube.read_stac`), every asset opened as its variable's
subdataset with the CRS assigned (``vrt://NETCDF:"…":NDVI?a_srs=EPSG:4326``: GDAL finds the
grid in the coordinates but no CRS in the files), reprojected onto any recipe grid by the usual
machinery. The NDVI is the product's own (`Sensor.index_bands`: ``indices: [ndvi]`` reads it).

Dating: an item's ``datetime`` is its synthesis' midpoint; the cube dates it at noon UTC of its
``start_datetime``'s day, so that a synthesis counts in the period holding its start day (as
MODIS 16-day composites do), on any longitude.

Masking: the ``SM`` status map (recipe key ``mask.syn_v10_qa``), decoded from its
``flag_masks``/``flag_values``/``flag_meanings``: bits 0–1 = 0 clear, 1 unfilled (the fill
value), 2 uncertain, 3 cloud; bit 2 ice_or_snow; bit 3 land; bits 4–7 MIR/B3/B2/B0 good;
bits 8–10 NDVI/TOA-NDVI/aerosol saturated. Sources and what is assumed:
``tests/data/items/EVIDENCE-syn-v10.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._bits import bit, decode, field, integer
from ._sensor import Sensor

if TYPE_CHECKING:
    import pystac
    import xarray as xr
    from odc.geo.geobox import GeoBox

__all__ = [
    "COLLECTION",
    "NDVI_FILL",
    "NDVI_OFFSET",
    "NDVI_SCALE",
    "QA_FLAGS",
    "SM_FLAGS",
    "SYN_V10",
    "VARIABLES",
    "gdal_path",
    "readable",
    "status_value",
]

COLLECTION = "sentinel-3-synergy-v10-l2-netcdf"
#: NDVI = DN × NDVI_SCALE + NDVI_OFFSET (``NDVI`` attributes: float32 0.004 and −0.08)
NDVI_SCALE, NDVI_OFFSET, NDVI_FILL, NDVI_VALID_MAX = 0.004, -0.08, 255, 250
#: surface reflectance = DN × 1e-4 (``B0``, ``B2``, ``B3``, ``MIR``; valid 0..10000)
REFLECTANCE_SCALE, REFLECTANCE_FILL = 1e-4, -10000
#: the status map's ``_FillValue``: bits 0–1 = 1, "unfilled"
SM_FILL = 1

#: common band name → (asset keys, NetCDF variable); the keys are Planetary Computer's
#: (stactools-sentinel3 ≥ 0.3), then those of stactools-sentinel3's 2021 examples
VARIABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "ndvi": (("ndvi", "ndviData"), "NDVI"),
    "status_map": (("sm", "smData"), "SM"),
    "blue": (("b0", "b0Data"), "B0"),  # VGT-B0, 450 nm
    "red": (("b2", "b2Data"), "B2"),  # VGT-B2, 645 nm
    "nir": (("b3", "b3Data"), "B3"),  # VGT-B3, 835 nm
    "swir16": (("mir", "mirData"), "MIR"),  # VGT-MIR, 1665 nm
}
_REFLECTANCE = frozenset({"blue", "red", "nir", "swir16"})
_QA = "status_map"

#: ``SM`` ``flag_meanings`` → (mask, value): a flag is set where ``SM & mask == value``
SM_FLAGS: dict[str, tuple[int, int]] = {
    "ag_saturated": (1024, 1024),
    "TOA_NDVI_saturated": (512, 512),
    "NDVI_saturated": (256, 256),
    "B0_good": (128, 128),
    "B2_good": (64, 64),
    "B3_good": (32, 32),
    "MIR_good": (16, 16),
    "land": (8, 8),
    "ice_or_snow": (4, 4),
    "cloud": (3, 3),
    "uncertain": (3, 2),
    "unfilled": (3, 1),
    "clear": (3, 0),
}

#: the recipe's flags (``mask.syn_v10_qa``) → what they test
QA_FLAGS: dict[Hashable, str] = {
    "unfilled": "SM bits 0–1 = 1 (the fill value): no synthesis",
    "cloud": "SM bits 0–1 = 3: cloud",
    "uncertain": "SM bits 0–1 = 2: uncertain (cloud or shadow not excluded)",
    "ice_or_snow": "SM bit 2 (4): ice or snow",
    "not_land": "SM bit 3 (8) unset: water",
    "not_b0_good": "SM bit 7 (128) unset: B0 radiometry bad",
    "not_b2_good": "SM bit 6 (64) unset: B2 (red) radiometry bad",
    "not_b3_good": "SM bit 5 (32) unset: B3 (NIR) radiometry bad",
    "not_mir_good": "SM bit 4 (16) unset: MIR radiometry bad",
    "ndvi_saturated": "SM bit 8 (256): NDVI saturated",
    "toa_ndvi_saturated": "SM bit 9 (512): TOA NDVI saturated",
    "ag_saturated": "SM bit 10 (1024): aerosol optical thickness saturated",
}
_CLOUD_FLAGS: frozenset[Hashable] = frozenset({"cloud", "uncertain"})
_BIT = {
    "ice_or_snow": 2,
    "ndvi_saturated": 8,
    "toa_ndvi_saturated": 9,
    "ag_saturated": 10,
}
_UNSET = {"not_land": 3, "not_b0_good": 7, "not_b2_good": 6, "not_b3_good": 5, "not_mir_good": 4}
_CLASS = {"clear": 0, "unfilled": 1, "uncertain": 2, "cloud": 3}


def status_value(
    *,
    cloud: str = "clear",
    snow: bool = False,
    land: bool = True,
    good: Iterable[str] = ("B0", "B2", "B3", "MIR"),
    saturated: Iterable[str] = (),
) -> int:
    """An ``SM`` word from its fields: `cloud` one of clear/unfilled/uncertain/cloud, `good` the
    channels of good radiometry, `saturated` among NDVI, TOA_NDVI, ag."""
    sm = _CLASS[cloud] | (4 if snow else 0) | (8 if land else 0)
    for name in good:
        sm |= SM_FLAGS[f"{name}_good"][0]
    for name in saturated:
        sm |= SM_FLAGS[f"{name}_saturated"][0]
    return sm


def _invalid(qa: xr.DataArray, flags: Iterable[Hashable]) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from the ``SM`` words; `flags` are names of `QA_FLAGS`. An unfilled
    word (no synthesis) says nothing else."""
    q = integer(qa)
    state = field(q, 0, 2)

    def test(name: str) -> Callable[[], xr.DataArray]:
        if name in _CLASS:
            return lambda: state == _CLASS[name]
        if name in _BIT:
            return lambda: bit(q, _BIT[name])
        return lambda: ~bit(q, _UNSET[name])

    return decode(
        q, {str(n): test(str(n)) for n in QA_FLAGS}, flags, cloud_flags=_CLOUD_FLAGS,
        product="SYN V10", what="status map flag", filled=state == _CLASS["unfilled"],
        fill_flag="unfilled",
    )  # fmt: skip


def _values(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """NDVI: DN × 0.004 − 0.08; reflectances: DN × 1e-4; the status map as stored."""
    if band == "ndvi":
        return NDVI_SCALE, NDVI_OFFSET
    if band is None or band in _REFLECTANCE:
        return REFLECTANCE_SCALE, 0.0
    return 1.0, 0.0


def gdal_path(href: str, variable: str) -> str:
    """The GDAL path of `variable` in the NetCDF file at `href` (a path, ``file://``, ``http(s)``
    or ``s3`` URL), with EPSG:4326 assigned: the files hold the grid but no CRS GDAL reads.

    A URL with a query string (a signed Planetary Computer href) cannot be wrapped: GDAL's
    ``vrt://`` ends the path at the first ``?``; `DataError` says so."""
    if "?" in href:
        from ..errors import DataError

        raise DataError(
            f"SYN V10 asset {href}: a URL with a query string (a signed href) cannot be opened "
            "as a NetCDF subdataset with its CRS (GDAL's vrt:// path ends at '?'); copy the "
            "files and use a local catalog, or read unsigned URLs with credentials set for GDAL"
        )
    if href.startswith("file://"):
        href = href.removeprefix("file://")
    elif href.startswith(("http://", "https://")):
        href = "/vsicurl/" + href
    elif href.startswith("s3://"):
        href = "/vsis3/" + href.removeprefix("s3://")
    return f'vrt://NETCDF:"{href}":{variable}?a_srs=EPSG:4326'


def _start_noon(item: pystac.Item) -> dt.datetime:
    """Noon UTC of the synthesis' first day (its ``start_datetime``; else its ``datetime``)."""
    start = item.common_metadata.start_datetime or item.datetime
    if start is None:
        from ..errors import DataError

        raise DataError(f"item {item.id}: no start_datetime or datetime")
    return dt.datetime(start.year, start.month, start.day, 12, tzinfo=dt.timezone.utc)


def readable(item: pystac.Item, bands: Sequence[str]) -> pystac.Item:
    """A clone of `item` that odc-stac reads: the assets of `bands` as GDAL subdataset paths
    (with their ``gsd`` from ``s3:spatial_resolution``, for the choice of resampling), dated
    at noon of its first day."""
    out = item.clone()
    out.datetime = _start_noon(item)
    for band in bands:
        aliases, variable = VARIABLES[band]
        key = next((k for k in aliases if k in out.assets), None)
        if key is None:
            continue  # `cube.asset_keys` names the missing asset
        asset = out.assets[key]
        href = asset.get_absolute_href() or asset.href
        asset.href = gdal_path(href, variable)
        res = asset.extra_fields.get("s3:spatial_resolution")
        if res and "gsd" not in asset.extra_fields:
            asset.extra_fields["gsd"] = float(res[0])
    return out


def _load(
    items: Sequence[pystac.Item],
    bands: Sequence[str],
    *,
    grid: GeoBox,
    collection: str,
    chunk: int | None,
) -> xr.Dataset:
    from .. import cube

    clones = [readable(it, bands) for it in items]
    return cube.read_stac(clones, bands, grid=grid, collection=collection, chunk=chunk)


SYN_V10 = Sensor(
    name="syn_v10",
    collections=(COLLECTION,),
    asset_aliases={band: aliases for band, (aliases, _) in VARIABLES.items()},
    default_storage={"data_type": "int16", "nodata": REFLECTANCE_FILL},
    band_storage={
        "ndvi": {"data_type": "uint8", "nodata": NDVI_FILL},
        # assumed uint16 (its flag masks reach 1024; the storage type was not seen)
        _QA: {"data_type": "uint16", "nodata": SM_FILL},
    },
    value_rule=_values,
    rule_name="SYN V10 NetCDF attributes (NDVI × 0.004 − 0.08, reflectance × 1e-4)",
    qa_band=_QA,
    qa_bands=(_QA,),
    qa_flags=QA_FLAGS,
    default_flags=(
        "unfilled",
        "cloud",
        "uncertain",
        "ice_or_snow",
        "not_land",
        "not_b2_good",
        "not_b3_good",
    ),
    cloud_flags=_CLOUD_FLAGS,
    mask_key="syn_v10_qa",
    qa_rule=_invalid,
    index_bands={"ndvi": "ndvi"},
    reader=_load,
)
