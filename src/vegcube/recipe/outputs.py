"""Recipe sections for what is written and where it is computed: `regions` (zonal time series),
`output` (folder, formats from the writers' registry, report) and `dask`."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from .. import export as _export
from ._base import _Section

__all__ = ["DaskSpec", "OutputSpec", "RegionsSpec"]


class RegionsSpec(_Section):
    """Regions for per-region time series (OUT/zonal.parquet and .csv)."""

    path: Path = Field(
        description="vector file of the regions (any format pyogrio reads)",
        examples=["districts.geojson"],
    )
    id: str = Field("name", description="attribute holding each region's unique name")
    layer: str | None = Field(None, description="layer name inside `path` (GeoPackage)")


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
