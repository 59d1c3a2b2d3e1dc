"""MODIS land-surface temperature v061, 8-day 1 km: MOD11A2/MYD11A2 and MOD21A2/MYD21A2.

Planetary Computer publishes ``modis-11A2-061`` and ``modis-21A2-061`` as it does MOD13Q1: one
COG per layer on the sinusoidal grid of `sensors.modis` (``proj:wkt2``, no EPSG code),
``raster:bands`` with scales but no nodata, ``datetime`` null and the composite's
``start_datetime``/``end_datetime``. Their ``raster:bands`` omit what the product guides
define: the LST fill 0, emissivity's +0.49 offset and view angles' −65 offset; the sensors
supply them (`Sensor.product_values`, `Sensor.band_storage`).

LST = DN × 0.02 K; the day band is qualified by ``QC_Day``, the night band by ``QC_Night``
(`Sensor.qa_for`). The two products' QC bytes differ: MOD11's bits 4–7 are error classes
(00 best), MOD21's are accuracy classes (00 worst) and MOD21 declares QC 0 as fill.
Sources: ``tests/data/items/EVIDENCE-landsat-modis.md``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._bits import decode, field, integer
from ._sensor import Sensor
from .modis import hv_tile

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["MOD11_QC_FLAGS", "MOD21_QC_FLAGS", "MODIS11A2", "MODIS21A2"]

_DAY_NIGHT = ("day", "night")
_LST = frozenset({"lst_day", "lst_night"})
_CLOUD_FLAGS: frozenset[Hashable] = frozenset({"cloud"})
#: value = DN × scale + offset as the product guides define them (PC declares no offsets)
_PRODUCT_VALUES = {
    **{f"emis_{b}": (0.002, 0.49) for b in (29, 31, 32)},
    **{f"view_angle_{t}": (1.0, -65.0) for t in _DAY_NIGHT},
}
_BAND_QA = {f"{b}_night": "qc_night" for b in ("lst", "view_time", "view_angle")}


def _attrs(product: str) -> dict[str, dict[str, str]]:
    out = {
        f"lst_{t}": {"units": "K", "long_name": f"{t}time land surface temperature ({product})"}
        for t in _DAY_NIGHT
    }
    for t in _DAY_NIGHT:
        out[f"view_angle_{t}"] = {"units": "degree", "long_name": f"{t}time view zenith angle"}
        out[f"view_time_{t}"] = {"units": "h", "long_name": f"{t}time local solar view time"}
    for b in (29, 31, 32):
        out[f"emis_{b}"] = {"units": "1", "long_name": f"MODIS band {b} emissivity"}
    return out


def _scale_offset(properties: Mapping[str, Any], band: str | None = None) -> tuple[float, float]:
    """LST DN × 0.02 K, view time × 0.1 h; emissivity and view angles by `_PRODUCT_VALUES`."""
    if band is None or band in _LST:
        return 0.02, 0.0
    if band.startswith("view_time"):
        return 0.1, 0.0
    return _PRODUCT_VALUES.get(band, (1.0, 0.0))


def _storage(fill_qc: int | None) -> dict[str, dict[str, Any]]:
    """Storage of the 8-bit layers: QC (its fill), emissivity (fill 0), view angle/time (255)."""
    out: dict[str, dict[str, Any]] = {
        f"qc_{t}": {"data_type": "uint8", "nodata": fill_qc} for t in _DAY_NIGHT
    }
    for t in _DAY_NIGHT:
        out[f"view_angle_{t}"] = out[f"view_time_{t}"] = {"data_type": "uint8", "nodata": 255}
        out[f"clear_sky_{t}s"] = {"data_type": "uint8", "nodata": 0}
    for b in (29, 31, 32):
        out[f"emis_{b}"] = {"data_type": "uint8", "nodata": 0}
    return out


#: MOD11A2 QC flag → what it tests (decoded by `_mod11_invalid`)
MOD11_QC_FLAGS: dict[Hashable, str] = {
    "unreliable": "bits 0–1 (mandatory QA) = 01: produced, unreliable or unquantifiable quality",
    "cloud": "bits 0–1 (mandatory QA) = 10: not produced due to cloud effects",
    "not_produced": "bits 0–1 (mandatory QA) = 11: not produced for other reasons than cloud",
    "other_quality": "bits 2–3 (data quality) ≠ 00: other quality data",
    "emissivity_error_high": "bits 4–5 (emissivity error) = 11: average error > 0.04",
    "lst_error_2k": "bits 6–7 (LST error) ≥ 10: average LST error > 2 K",
    "lst_error_3k": "bits 6–7 (LST error) = 11: average LST error > 3 K",
}

#: MOD21A2 QC flag → what it tests (decoded by `_mod21_invalid`; accuracy classes 00 = worst)
MOD21_QC_FLAGS: dict[Hashable, str] = {
    "fill": "QC 0: the product's fill value",
    "unreliable": "bits 0–1 (MODLAND QA) = 01: produced, but check other QA",
    "cloud": "bits 0–1 (MODLAND QA) = 10: not produced due to cloud",
    "not_produced": "bits 0–1 (MODLAND QA) = 11: not produced for other reasons than clouds",
    "missing_pixel": "bits 2–3 (data quality) = 01: missing pixel",
    "fairly_calibrated": "bits 2–3 (data quality) = 10: fairly calibrated",
    "poorly_calibrated": "bits 2–3 (data quality) = 11: poorly calibrated, TES skipped",
    "emissivity_error_high": "bits 4–5 (emissivity accuracy) = 00: > 0.02 (poor)",
    "lst_error_1_5k": "bits 6–7 (LST accuracy) ≤ 01: > 1.5 K (marginal or poor)",
    "lst_error_2k": "bits 6–7 (LST accuracy) = 00: > 2 K (poor)",
}


def _mod11_invalid(
    qa: xr.DataArray, flags: Iterable[Hashable]
) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from a MOD11A2 QC byte. The product has no QC fill (its LST fill 0
    marks what is missing), so no value is taken as fill here."""
    q = integer(qa).astype("uint16")  # 65535, decode's fill, never occurs in a byte
    mandatory, quality, emis, err = (field(q, b, 2) for b in (0, 2, 4, 6))
    tests = {
        "unreliable": lambda: mandatory == 1,
        "cloud": lambda: mandatory == 2,
        "not_produced": lambda: mandatory == 3,
        "other_quality": lambda: quality != 0,
        "emissivity_error_high": lambda: emis == 3,
        "lst_error_2k": lambda: err >= 2,
        "lst_error_3k": lambda: err == 3,
    }
    return decode(q, tests, flags, cloud_flags=_CLOUD_FLAGS, product="MOD11A2")


def _mod21_invalid(
    qa: xr.DataArray, flags: Iterable[Hashable]
) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like) from a MOD21A2 QC byte; QC 0 is fill only (`decode`)."""
    q = integer(qa)
    modland, quality, emis, acc = (field(q, b, 2) for b in (0, 2, 4, 6))
    tests = {
        "fill": lambda: q == 0,
        "unreliable": lambda: modland == 1,
        "cloud": lambda: modland == 2,
        "not_produced": lambda: modland == 3,
        "missing_pixel": lambda: quality == 1,
        "fairly_calibrated": lambda: quality == 2,
        "poorly_calibrated": lambda: quality == 3,
        "emissivity_error_high": lambda: emis == 0,
        "lst_error_1_5k": lambda: acc <= 1,
        "lst_error_2k": lambda: acc == 0,
    }
    return decode(q, tests, flags, cloud_flags=_CLOUD_FLAGS, product="MOD21A2", fill_value=0)


def _aliases(names: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    return {band: (key,) for band, key in names.items()}


MODIS11A2 = Sensor(
    name="modis11a2",
    collections=("modis-11A2-061",),
    # common band name → Planetary Computer asset keys
    asset_aliases=_aliases(
        {
            "lst_day": "LST_Day_1km",
            "lst_night": "LST_Night_1km",
            "qc_day": "QC_Day",
            "qc_night": "QC_Night",
            "emis_31": "Emis_31",
            "emis_32": "Emis_32",
            "view_angle_day": "Day_view_angl",
            "view_angle_night": "Night_view_angl",
            "view_time_day": "Day_view_time",
            "view_time_night": "Night_view_time",
            "clear_sky_days": "Clear_sky_days",
            "clear_sky_nights": "Clear_sky_nights",
        }
    ),
    # LST: uint16, fill 0 (the items declare no nodata); QC: no fill in the product
    default_storage={"data_type": "uint16", "nodata": 0},
    band_storage=_storage(None),
    value_rule=_scale_offset,
    qa_band="qc_day",
    qa_bands=("qc_day", "qc_night", "clear_sky_days", "clear_sky_nights"),
    qa_flags=MOD11_QC_FLAGS,
    # not produced, and errors beyond 2 K: of the size of a drought's warming at 1 km
    default_flags=("cloud", "not_produced", "lst_error_2k"),
    cloud_flags=_CLOUD_FLAGS,
    mask_key="modis11a2_qa",
    qa_rule=_mod11_invalid,
    tile_rule=hv_tile,
    band_attrs=_attrs("MOD11A2"),
    rule_name="MOD11 user guide",
    band_qa=_BAND_QA,
    product_values={k: v for k, v in _PRODUCT_VALUES.items() if k != "emis_29"},
)

MODIS21A2 = Sensor(
    name="modis21a2",
    collections=("modis-21A2-061",),
    asset_aliases=_aliases(
        {
            "lst_day": "LST_Day_1KM",
            "lst_night": "LST_Night_1KM",
            "qc_day": "QC_Day",
            "qc_night": "QC_Night",
            "emis_29": "Emis_29",
            "emis_31": "Emis_31",
            "emis_32": "Emis_32",
            "view_angle_day": "View_Angle_Day",
            "view_angle_night": "View_Angle_Night",
            "view_time_day": "View_Time_Day",
            "view_time_night": "View_Time_Night",
        }
    ),
    default_storage={"data_type": "uint16", "nodata": 0},
    band_storage=_storage(0),  # MOD21A2 QC _FillValue 0
    value_rule=_scale_offset,
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
    cloud_flags=_CLOUD_FLAGS,
    mask_key="modis21a2_qa",
    qa_rule=_mod21_invalid,
    tile_rule=hv_tile,
    band_attrs=_attrs("MOD21A2"),
    rule_name="MOD21 user guide",
    band_qa=_BAND_QA,
    product_values=_PRODUCT_VALUES,
)
