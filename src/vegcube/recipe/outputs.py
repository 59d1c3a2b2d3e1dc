"""Recipe sections for what is written and where it is computed: `regions` (zonal time series),
`output` (folder, formats from the writers' registry, report) and `dask`."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import export as _export
from ._base import _Section

__all__ = ["AlertRule", "DaskSpec", "OutputSpec", "RegionsSpec"]


class RegionsSpec(_Section):
    """Regions for per-region time series (OUT/zonal.parquet and .csv)."""

    path: Path = Field(
        description="vector file of the regions (any format pyogrio reads)",
        examples=["districts.geojson"],
    )
    id: str = Field("name", description="attribute holding each region's unique name")
    layer: str | None = Field(None, description="layer name inside `path` (GeoPackage)")


class AlertRule(_Section):
    """One alert rule on the per-region series: a region is on alert while its mean of
    `variable` stays below (or above) a threshold for `periods` consecutive periods."""

    name: str = Field(description="the rule's name, as the alerts tables show it",
                      examples=["dry-rootzone"])  # fmt: skip
    variable: str = Field(
        description="a per-region variable: an index, <index>_<indicator> (e.g. ndvi_zscore, "
        "sm_rootzone_pctl), <index>_drought_share (share of the area moderate or worse)",
        examples=["ndvi_zscore"],
    )
    below: float | None = Field(
        None, description="alert while the region's mean is below this", examples=[-1.5]
    )
    above: float | None = Field(None, description="alert while the region's mean is above this")
    periods: int = Field(2, ge=1, le=36, description="consecutive periods needed to raise it")
    min_valid_fraction: float = Field(
        0.5, ge=0, le=1,
        description="a period whose mean covers less of the region (clouds) is not judged: it "
        "neither confirms nor ends a run",
    )  # fmt: skip

    @model_validator(mode="after")
    def _one_threshold(self) -> AlertRule:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below or above")
        return self


if typing.TYPE_CHECKING:
    _Format = str
else:  # the accepted output.formats: the names of the writers' registry
    _Format = Literal[tuple(_export.WRITERS)]


class OutputSpec(_Section):
    """Where and what to write."""

    dir: Path = Field(description="output folder", examples=["out"])

    @field_validator("dir", mode="before")
    @classmethod
    def _not_empty(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            raise ValueError("must name a folder (an empty one would be the recipe's own)")
        return v

    formats: list[_Format] = Field(["zarr"], description=", ".join(_export.WRITERS))
    report: bool = Field(False, description="write OUT/report/index.html (maps, plots, table)")


class DaskSpec(_Section):
    """Where to compute."""

    scheduler: str | None = Field(None, description="null = local threads; or 'tcp://host:8786'")
    chunk: int = Field(1024, ge=64, description="spatial chunk size in pixels")

    @field_validator("scheduler")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("tcp://", "tls://", "inproc://")):
            raise ValueError(
                f"scheduler must be null or an address like tcp://host:8786; got {v!r}"
            )
        return v
