"""Sentinel-3 SLSTR Level-2 land-surface temperature (``SL_2_LST``): a swath product.

Planetary Computer's ``sentinel-3-slstr-lst-l2-netcdf`` items point to the NetCDF files of one
SAFE folder (``….SEN3``) on the 1 km nadir grid (dimensions ``rows`` × ``columns``, 1200 × 1500
per 3-minute frame): ``lst-in`` → ``LST_in.nc`` (``LST`` in K, ``LST_uncertainty``,
``exception``), ``slstr-geodetic-in`` → ``geodetic_in.nc`` (``latitude_in``, ``longitude_in`` of
every pixel) and ``slstr-flags-in`` → ``flags_in.nc`` (``confidence_in``, ``cloud_in``,
``bayes_in``). No pixel lies on a map grid, so odc-stac cannot read them: the `Sensor.reader`
grids each frame (`vegcube.swath`). The cube gets ``lst`` (K, NaN for fill and for pixels with
an LST exception) and the ``confidence`` word (``confidence_in`` of the same swath pixel), which
`mask.valid` decodes like any QA band (recipe key ``mask.slstr_qa``). Masked by default:
``unfilled``, ``cosmetic``, ``summary_cloud`` (the summary of the ``cloud_in`` tests, grown by
``mask.dilate_m``), ``summary_pointing`` and ``not_day``: the collection holds the night
(ascending, ~22:00) frames too, and a TCI of mixed day and night means would be noise. Facts
and their sources: ``tests/data/items/EVIDENCE-sentinel3.md``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._bits import bit, integer
from ._sensor import Sensor

if TYPE_CHECKING:
    import pystac
    import xarray as xr
    from odc.geo.geobox import GeoBox

    from ..swath import Frame

__all__ = [
    "CLOUD_BITS",
    "CONFIDENCE_BITS",
    "FILES",
    "NO_PIXEL",
    "SLSTR",
    "read_frame",
]

#: ``confidence_in`` bit → flag name (``flag_masks`` 1, 2, 4 … 32768 and ``flag_meanings`` of
#: ``flags_in.nc``; bits 6 and 7 are "spare")
CONFIDENCE_BITS: dict[int, str] = {
    0: "coastline",
    1: "ocean",
    2: "tidal",
    3: "land",
    4: "inland_water",
    5: "unfilled",
    8: "cosmetic",
    9: "duplicate",
    10: "day",
    11: "twilight",
    12: "sun_glint",
    13: "snow",
    14: "summary_cloud",
    15: "summary_pointing",
}
#: ``cloud_in`` bit → cloud test (its ``flag_meanings``; bits 14, 15 spare); ``summary_cloud``
#: of ``confidence_in`` summarises them
CLOUD_BITS: dict[int, str] = {
    0: "visible",
    1: "1.37_threshold",
    2: "1.6_small_histogram",
    3: "1.6_large_histogram",
    4: "2.25_small_histogram",
    5: "2.25_large_histogram",
    6: "11_spatial_coherence",
    7: "gross_cloud",
    8: "thin_cirrus",
    9: "medium_high",
    10: "fog_low_stratus",
    11: "11_12_view_difference",
    12: "3.7_11_view_difference",
    13: "thermal_histogram",
}
_BIT_OF = {name: n for n, name in CONFIDENCE_BITS.items()}
_QA_FLAGS: dict[Hashable, str] = {
    name: f"confidence_in bit {n} ({1 << n}): {name.replace('_', ' ')}"
    for n, name in CONFIDENCE_BITS.items()
}
_QA_FLAGS["not_day"] = "confidence_in bit 10 (day) unset: a night or twilight pixel"
_CLOUD_FLAGS: frozenset[Hashable] = frozenset({"summary_cloud"})
#: what the gridded ``confidence`` holds where no swath pixel reaches: the ``unfilled`` bit
NO_PIXEL = 1 << 5

#: asset key → (file in the SAFE folder, variables read); the STAC asset keys are Planetary
#: Computer's (stactools-sentinel3)
FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lst-in": ("LST_in.nc", ("LST", "LST_uncertainty", "exception")),
    "slstr-geodetic-in": ("geodetic_in.nc", ("latitude_in", "longitude_in")),
    "slstr-flags-in": ("flags_in.nc", ("confidence_in",)),
}
_LST, _GEO, _FLAGS = "lst-in", "slstr-geodetic-in", "slstr-flags-in"
#: degrees read around the grid's extent, so that cells at its edge find their nearest pixel
_MARGIN_DEG = 0.05


def _invalid(qa: xr.DataArray, flags: Iterable[Hashable]) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from the ``confidence_in`` bits named by `flags`."""
    import xarray as xr

    from ..errors import InputError

    q = integer(qa)
    bad = xr.zeros_like(q, dtype=bool)
    cloud = xr.zeros_like(q, dtype=bool)
    for name in map(str, flags):
        if name not in _QA_FLAGS:
            accepted = ", ".join(map(str, _QA_FLAGS))
            raise InputError(f"unknown SLSTR confidence_in flag {name!r}; accepted: {accepted}")
        hit = ~bit(q, _BIT_OF["day"]) if name == "not_day" else bit(q, _BIT_OF[name])
        if name in _CLOUD_FLAGS:
            cloud = cloud | hit
        else:
            bad = bad | hit
    return bad, cloud


def _values(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """The swath reader returns physical values (each variable's scale_factor/add_offset)."""
    return 1.0, 0.0


def read_frame(
    item: pystac.Item, bands: Sequence[str], *, bbox: tuple[float, float, float, float]
) -> Frame | None:
    """The pixels of one SL_2_LST frame around `bbox` (lon/lat): coordinates, ``lst`` in K (NaN
    for fill, and where ``exception`` is set) and the ``confidence`` word; None if the frame has
    no pixel there."""
    from .. import swath

    href = {key: swath.asset_href(item, key) for key in (_LST, _GEO, _FLAGS)}
    lat, lon = swath.read_variables(href[_GEO], ["latitude_in", "longitude_in"], item=item)
    window = swath.window(lon, lat, bbox=bbox, margin=_MARGIN_DEG)
    if window is None:
        return None
    lat, lon = lat[window], lon[window]
    values: dict[str, Any] = {}
    if "lst" in bands:
        lst, exception = swath.read_variables(
            href[_LST], ["LST", "exception"], item=item, window=window
        )
        lst = lst.astype("float32")
        lst[np.nan_to_num(exception) != 0] = np.nan  # an LST exception: no usable value
        values["lst"] = lst
    if "confidence" in bands:
        (conf,) = swath.read_variables(
            href[_FLAGS], ["confidence_in"], item=item, window=window, raw=True
        )
        values["confidence"] = conf.astype("uint16")
    return swath.Frame(lon=lon, lat=lat, values=values)


def _load(
    items: Sequence[pystac.Item],
    bands: Sequence[str],
    *,
    grid: GeoBox,
    collection: str,
    chunk: int | None,
) -> xr.Dataset:
    from .. import swath

    return swath.load(
        items, bands, grid=grid, collection=collection, chunk=chunk, read_frame=read_frame,
        fill={"confidence": NO_PIXEL},
    )  # fmt: skip


SLSTR = Sensor(
    name="slstr",
    collections=("sentinel-3-slstr-lst-l2-netcdf",),
    # common band name → asset keys (Planetary Computer); the reader also opens the item's
    # ``slstr-geodetic-in`` (pixel coordinates)
    asset_aliases={"lst": (_LST,), "confidence": (_FLAGS,)},
    default_storage={"data_type": "float32", "nodata": None},
    band_storage={"confidence": {"data_type": "uint16", "nodata": NO_PIXEL}},
    value_rule=_values,
    rule_name="SLSTR NetCDF scale_factor/add_offset (swath reader)",
    qa_band="confidence",
    qa_bands=("confidence",),
    qa_flags=_QA_FLAGS,
    # the morning (descending) passes only: the collection also holds night frames
    default_flags=("unfilled", "cosmetic", "summary_cloud", "summary_pointing", "not_day"),
    cloud_flags=_CLOUD_FLAGS,
    mask_key="slstr_qa",
    qa_rule=_invalid,
    band_attrs={"lst": {"units": "K", "long_name": "land surface temperature (SLSTR)"}},
    reader=_load,
)
