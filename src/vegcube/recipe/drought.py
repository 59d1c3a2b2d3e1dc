"""Recipe sections behind the indicators: the `reference` years, the land-surface-temperature
source (`lst`, for TCI and VHI) and the VCI thresholds of the `drought_classes`."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator, model_validator

from ._base import _check_date, _check_order, _Section
from .source import CalibrateSpec

__all__ = ["DroughtClasses", "LstSpec", "ReferenceSpec"]


class ReferenceSpec(_Section):
    """Years forming the historical reference."""

    start: dt.date = Field(description="first day of the reference", examples=["2019-01-01"])
    end: dt.date = Field(
        description="last day of the reference, inclusive", examples=["2022-12-31"]
    )
    min_years: int = Field(3, ge=1, description="fewer reference years than this gives NaN")
    pool: int = Field(
        1,
        ge=0,
        le=5,
        description="periods of the year pooled on each side into the reference's spread "
        "(std, min, max), around each period's own mean: 1 gives three times the samples",
    )

    _in_range = field_validator("start", "end")(_check_date)

    @model_validator(mode="after")
    def _ordered(self) -> ReferenceSpec:
        _check_order(self.start, self.end)
        return self


class LstSpec(_Section):
    """A land-surface-temperature source (a second source) for TCI and VHI: one collection,
    or several continued one by another (MODIS → SLSTR) with `calibrate.switch`."""

    catalog: str | None = Field(
        None, description="as source.catalog; default: the same catalog as source"
    )
    collection: str | list[str] = Field(
        "landsat-c2-l2",
        description="collection with a temperature band (landsat-c2-l2; modis-11A2-061, "
        "modis-21A2-061: 8-day 1 km MODIS LST; sentinel-3-slstr-lst-l2-netcdf), or a list of "
        "them for one series (with calibrate)",
    )
    band: str | dict[str, str] = Field(
        "lwir",
        description="common name of the temperature band (Landsat: lwir = ST in kelvin; MODIS: "
        "lst_day or lst_night, each masked by its own QC; SLSTR: lst), or collection → band",
    )
    max_cloud_cover: float = Field(100, ge=0, le=100, description="as source.max_cloud_cover")
    alpha: float = Field(0.5, ge=0, le=1, description="VHI = alpha·VCI + (1 − alpha)·TCI")
    calibrate: CalibrateSpec | None = Field(
        None,
        description="as source.calibrate, for the temperature (in K): fit the other "
        "collections against `reference`; with `switch`, one series continued from that day",
    )

    @property
    def collections(self) -> list[str]:
        """The collection ids, as a list (one or several)."""
        return [self.collection] if isinstance(self.collection, str) else list(self.collection)

    def band_of(self, collection: str) -> str:
        """The temperature band read from `collection`."""
        return self.band if isinstance(self.band, str) else self.band[collection]

    @model_validator(mode="after")
    def _known(self) -> LstSpec:
        from .. import sensors
        from ..errors import SourceError

        colls = self.collections
        if not colls or len(set(colls)) != len(colls):
            raise ValueError(f"collection: give one or more distinct collections; got {colls}")
        if isinstance(self.band, dict) and set(self.band) != set(colls):
            raise ValueError(
                f"band: name a band for each collection ({', '.join(colls)}); "
                f"got {', '.join(self.band) or 'none'}"
            )
        for coll in colls:
            try:
                sensor = sensors.for_collection(coll)
            except SourceError as exc:
                raise ValueError(str(exc.at("collection"))) from None
            band = self.band_of(coll)
            kelvin = [b for b in sensor.asset_aliases if sensor.attrs(b).get("units") == "K"]
            if band not in kelvin:
                what = "a temperature band" if band in sensor.asset_aliases else "a band"
                raise ValueError(
                    f"band: {band!r} is not {what} of {coll}; "
                    f"temperature bands: {', '.join(kelvin) or 'none'}"
                )
        if self.calibrate is not None:
            if len(colls) < 2:
                raise ValueError("calibrate: needs two or more collections in lst.collection")
            if self.calibrate.reference not in colls:
                raise ValueError(
                    f"calibrate.reference: {self.calibrate.reference!r} is not one of "
                    f"lst.collection ({', '.join(colls)})"
                )
        elif len(colls) > 1:
            raise ValueError(
                "calibrate: several lst collections make one series only with "
                "`calibrate: {reference, switch}` (temperatures of different sensors and "
                "overpass times differ)"
            )
        return self


class DroughtClasses(_Section):
    """VCI thresholds of the drought classes (upper bounds), and when a departure counts."""

    extreme: float = Field(10, description="VCI below this: extreme drought (class 4)")
    severe: float = Field(20, description="VCI below this: severe drought (class 3)")
    moderate: float = Field(30, description="VCI below this: moderate drought (class 2)")
    mild: float = Field(40, description="VCI below this: mild drought (class 1); else none (0)")
    zscore_max: float | None = Field(
        None,
        description="if set, a class other than none also needs z-score ≤ this (e.g. -1): "
        "confirms a low VCI by a departure from the mean in standard deviations",
    )
    min_confidence: float | None = Field(
        0.975,
        gt=0.5,
        lt=1,
        description="a class also needs this confidence that the value lies below the "
        "reference mean, given the pixel's noise and the mean's sampling error "
        "(null: VCI thresholds alone, no 'not monitorable' class)",
    )
    min_anomaly: float = Field(
        0.05, ge=0, description="a class also needs the value this far below the mean (index units)"
    )
    min_heat: float = Field(
        0.5,
        ge=0,
        description="a TCI or VHI class also needs the temperature this far above its mean (K), "
        "or (VHI) the index's own significant departure",
    )
    persistence: int = Field(
        1, ge=1, le=12, description="consecutive periods of significant departure for a class"
    )

    @model_validator(mode="after")
    def _ordered(self) -> DroughtClasses:
        if not self.extreme < self.severe < self.moderate < self.mild:
            raise ValueError("thresholds must increase: extreme < severe < moderate < mild")
        return self
