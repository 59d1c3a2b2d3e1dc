"""The `mask` recipe section: which pixels are invalid, one key of QA flags per sensor (defaults
and accepted flags are the sensor's) and the optional s2cloudless cloud probability."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from ..sensors import (
    LANDSAT,
    MODIS09A1,
    MODIS11A2,
    MODIS13Q1,
    MODIS21A2,
    SENSORS,
    SENTINEL2,
    SLSTR,
    SMAP_L3,
    SMAP_L4,
    SWI,
    SYN_V10,
    Sensor,
)
from ._base import _Section

__all__ = ["CloudProbabilitySpec", "MaskSpec", "SpeckleSpec"]


class SpeckleSpec(_Section):
    """Speckle filter of radar backscatter (Sentinel-1 RTC), scene by scene in linear power."""

    filter: Literal["lee", "refined_lee"] = Field(
        "refined_lee",
        description="lee (Lee 1980, square window) or refined_lee (Lee 1981, edge-aligned "
        "half windows: edges stay sharp)",
    )
    size: int = Field(7, ge=3, le=31, description="window side in pixels (odd: 3, 5, 7, …)")
    looks: float = Field(
        4.4,
        gt=0,
        le=1000,
        description="equivalent number of looks of the scenes (sar:looks_equivalent_number "
        "of Planetary Computer's RTC items: 4.4); the same on every tile, so tiles join",
    )

    @field_validator("size")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"{v} is even; give an odd window side (3, 5, 7, …)")
        return v


class CloudProbabilitySpec(_Section):
    """s2cloudless cloud probability from the Sentinel-2 L1C scene of each L2A scene's day."""

    collection: str = Field(
        "sentinel-2-l1c",
        description="collection of the L1C scenes (bands B01, B02, B04, B05, B08, B8A, B09, "
        "B10, B11, B12)",
    )
    catalog: str | None = Field(None, description="as source.catalog; default: the same catalog")
    threshold: float = Field(
        0.4, ge=0, le=1, description="mask pixels whose cloud probability is above this (0..1)"
    )
    average_over: int = Field(
        4, ge=0, le=50, description="average the probability over a disk of this radius (pixels)"
    )

    @field_validator("collection")
    @classmethod
    def _known(cls, v: str) -> str:
        from .. import sensors
        from ..errors import SourceError

        try:
            sensors.for_collection(v)
        except SourceError as exc:
            known = ", ".join(c for m in sensors.AUXILIARY for c in m.collections)
            raise ValueError(f"{v!r} is not supported; known: {known}") from exc
        return v


def _accepted(sensor: Sensor) -> str:
    return ", ".join(map(str, sensor.qa_flags))


def _defaults(sensor: Sensor) -> list[Any]:
    return list(sensor.default_flags)


def _flags(sensor: Sensor, what: str) -> Any:
    """The field of a sensor's mask key: its default flags, and the accepted ones listed."""
    return Field(_defaults(sensor), description=f"{what} to mask: {_accepted(sensor)}")


#: the mask keys holding flag names (Sentinel-2's SCL classes are numbers, checked apart)
_FLAG_KEYS = tuple(dict.fromkeys(s.mask_key for s in SENSORS if s.mask_key and s is not SENTINEL2))


class MaskSpec(_Section):
    """Which pixels are invalid."""

    # one key per sensor (its `mask_key`); defaults and accepted flags are the sensor's
    sentinel2_scl: list[int] = Field(
        _defaults(SENTINEL2), description="Sentinel-2 SCL classes to mask (0..11)"
    )
    landsat_qa: list[str] = _flags(LANDSAT, "Landsat QA_PIXEL flags")
    modis13q1_qa: list[str] = _flags(MODIS13Q1, "MOD13Q1 VI Quality flags")
    modis09a1_qa: list[str] = _flags(MODIS09A1, "MOD09A1 state QA flags")
    modis11a2_qa: list[str] = _flags(MODIS11A2, "MOD11A2 LST QC flags (lst source)")
    modis21a2_qa: list[str] = _flags(MODIS21A2, "MOD21A2 LST QC flags (lst source)")
    slstr_qa: list[str] = _flags(SLSTR, "SLSTR confidence_in flags (lst source)")
    smap_l4_qa: list[str] = _flags(SMAP_L4, "SMAP L4 daily granule-count flags")
    smap_l3_qa: list[str] = _flags(SMAP_L3, "SMAP L3 retrieval_qual_flag flags")
    swi_qa: list[str] = _flags(SWI, "Copernicus SWI qflag (lowest QFLAG of the item) flags")
    syn_v10_qa: list[str] = _flags(SYN_V10, "Sentinel-3 SYN V10 status map (SM) flags")
    dilate_m: float = Field(
        0,
        ge=0,
        le=10_000,
        description="grow masked clouds/shadows (not fill, snow, …) by this many metres",
    )
    cloud_probability: CloudProbabilitySpec | None = Field(
        None,
        description="also mask Sentinel-2 clouds by s2cloudless probability from L1C "
        "(pip install 'vegcube[s2cloudless]')",
    )
    speckle: SpeckleSpec | None = Field(
        None,
        description="filter radar speckle (sentinel-1-rtc) before compositing: "
        "{filter: lee|refined_lee, size: 7, looks: 4.4}; none: unfiltered",
    )

    @field_validator("sentinel2_scl")
    @classmethod
    def _scl_range(cls, v: list[int]) -> list[int]:
        bad = [c for c in v if c not in SENTINEL2.qa_flags]
        if bad:
            raise ValueError(f"SCL classes are 0..11; got {bad}")
        return v

    @field_validator(*_FLAG_KEYS)
    @classmethod
    def _known_flags(cls, v: list[str], info: ValidationInfo) -> list[str]:
        from .. import sensors

        sensor = next(s for s in sensors.SENSORS if info.field_name == s.mask_key)
        sensors.check_flags(sensor, v)  # ValueError listing the accepted names
        return v

    @property
    def qa_flags(self) -> dict[str, list[Any]]:
        """Flags to mask per sensor name (`Sensor.name`), for `mask.valid`."""
        from .. import sensors

        return {s.name: list(getattr(self, s.mask_key)) for s in sensors.SENSORS if s.mask_key}
