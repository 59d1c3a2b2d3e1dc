"""Recipe sections for what is read: the area (`aoi`), the dates (`time`), the collections and
their cross-sensor calibration (`source`) and the target grid (`grid`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import _check_date, _check_order, _Section

__all__ = ["AOISpec", "CalibrateSpec", "GridSpec", "SourceSpec", "TimeSpec"]


class AOISpec(_Section):
    """Area of interest: exactly one of bbox, path or geometry."""

    bbox: tuple[float, float, float, float] | None = Field(
        None,
        description="[west, south, east, north] in degrees (EPSG:4326)",
        examples=[[165.3, -21.6, 165.6, -21.4]],
    )
    path: Path | None = Field(None, description="vector file (GeoJSON, GeoPackage, Shapefile, …)")
    layer: str | None = Field(None, description="layer name inside `path` (GeoPackage)")
    geometry: dict[str, Any] | None = Field(None, description="inline GeoJSON geometry (lon/lat)")

    @model_validator(mode="after")
    def _one_of(self) -> AOISpec:
        given = [k for k in ("bbox", "path", "geometry") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of bbox, path or geometry (got {', '.join(given) or 'none'})"
            )
        if self.bbox is not None:
            from ..aoi import check_bbox

            check_bbox(self.bbox)
        return self


class TimeSpec(_Section):
    """Time range, inclusive."""

    start: dt.date = Field(description="first day (YYYY-MM-DD)", examples=["2019-01-01"])
    end: dt.date = Field(description="last day (YYYY-MM-DD), inclusive", examples=["2024-12-31"])

    _in_range = field_validator("start", "end")(_check_date)

    @model_validator(mode="after")
    def _ordered(self) -> TimeSpec:
        _check_order(self.start, self.end)
        return self


class CalibrateSpec(_Section):
    """Cross-sensor calibration of the indices against a reference collection."""

    reference: str = Field(
        description="collection the others are calibrated to", examples=["sentinel-2-l2a"]
    )
    max_days: float = Field(
        1,
        ge=0,
        le=16,
        description="pair scenes of two sensors at most this many days apart (16-day "
        "composites of Aqua MODIS and VIIRS start 8 days apart: 8)",
    )
    method: Literal["rma", "ols"] = Field(
        "rma", description="rma (reduced major axis, errors in both) or ols (least squares)"
    )
    apply: bool = Field(
        True, description="rescale the other sensors' indices onto the reference before compositing"
    )
    per_pixel: bool = Field(
        False,
        description="also correct each pixel's own offset from the fitted line (its pairs' "
        "mean residual, shrunk by its sampling error): for sensors that see a pixel through "
        "different footprints (MODIS grid → VIIRS, SLSTR swath), whose residual bias a switch "
        "would otherwise turn into an anomaly",
    )
    switch: dt.date | None = Field(
        None,
        description="sensor continuity (MODIS → VIIRS): the reference's scenes before this day, "
        "the other sensors' (calibrated) from it; fitted on the years both observed",
        examples=["2022-01-01"],
    )

    _in_range = field_validator("switch")(_check_date)


class SourceSpec(_Section):
    """Where the scenes come from."""

    catalog: str = Field(
        description="a known name (earth-search), a STAC API URL, or a static catalog path/URL",
        examples=["earth-search"],
    )
    collection: str | list[str] = Field(
        "sentinel-2-l2a",
        description="collection id, or a list of them for one cube of several sensors "
        "(sentinel-2-l2a, landsat-c2-l2, modis-13Q1-061, modis-09A1-061)",
    )
    max_cloud_cover: float = Field(
        100, ge=0, le=100, description="keep scenes with eo:cloud_cover ≤ this (percent)"
    )
    calibrate: CalibrateSpec | None = Field(
        None, description="fit (and apply) each other sensor's index against a reference sensor"
    )
    orbit_state: Literal["ascending", "descending"] | None = Field(
        None,
        description="radar (sentinel-1-rtc): keep the passes in this direction "
        "(sat:orbit_state); required there, since ascending and descending passes see the "
        "ground from opposite sides at other times of day and are never mixed",
    )

    @field_validator("collection")
    @classmethod
    def _collections(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list):
            if not v:
                raise ValueError("give at least one collection")
            if len(set(v)) != len(v):
                raise ValueError(f"collections are repeated: {v}")
            if len(v) == 1:
                return v[0]
        return v

    @model_validator(mode="after")
    def _calibration_reference(self) -> SourceSpec:
        if self.calibrate is not None:
            if len(self.collections) < 2:
                raise ValueError("calibrate: needs two or more collections in source.collection")
            if self.calibrate.reference not in self.collections:
                raise ValueError(
                    f"calibrate.reference: {self.calibrate.reference!r} is not one of "
                    f"source.collection ({', '.join(self.collections)})"
                )
        return self

    @model_validator(mode="after")
    def _orbit_state(self) -> SourceSpec:
        from ..sensors.sentinel1 import SENTINEL1

        radar = [c for c in self.collections if c in SENTINEL1.collections]
        if radar and self.orbit_state is None:
            raise ValueError(
                f"orbit_state: {radar[0]} holds ascending and descending passes, whose "
                "geometry differs; give orbit_state: ascending or orbit_state: descending"
            )
        if self.orbit_state is not None and not radar:
            raise ValueError(
                f"orbit_state: only radar collections (sentinel-1-rtc) have an orbit "
                f"direction to choose; {', '.join(self.collections)} has none"
            )
        return self

    @property
    def collections(self) -> list[str]:
        """The collection ids, as a list (one or several)."""
        return [self.collection] if isinstance(self.collection, str) else list(self.collection)


class GridSpec(_Section):
    """Target grid of the cube."""

    crs: str = Field("auto", description="'auto' (UTM zone of the AOI centre) or any CRS string")
    resolution: float = Field(
        10, gt=0, allow_inf_nan=False, description="pixel size in CRS units (metres for UTM)"
    )
    max_pixels: int = Field(
        2_500_000_000,
        ge=1,
        description="largest grid accepted (pixels): a resolution in the wrong unit (degrees "
        "on a metric CRS) is refused with the figure instead of running for hours",
    )
