"""The whole recipe, `Recipe`: its sections in the order of the chain, the list of indices and
indicators, and the checks across sections (a report needs indicators, indicators a reference)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from ..indicators import INDICATORS
from ._base import _Section
from .drought import DroughtClasses, LstSpec, ReferenceSpec
from .masking import MaskSpec
from .outputs import AlertRule, DaskSpec, OutputSpec, RegionsSpec
from .processing import CompositeSpec, GapfillSpec
from .source import AOISpec, GridSpec, SourceSpec, TimeSpec

__all__ = ["Recipe"]

if TYPE_CHECKING:  # a Literal of a runtime tuple is beyond mypy; pydantic reads the real one
    IndicatorName = str
else:
    IndicatorName = Literal[INDICATORS]  # the names `vegcube.indicators` computes


class Recipe(_Section):
    """A whole run, as in DESIGN.md's recipe contract."""

    name: str = Field(description="a short name for the run", examples=["bourail-drought"])
    aoi: AOISpec
    time: TimeSpec
    source: SourceSpec
    grid: GridSpec = GridSpec()
    mask: MaskSpec = MaskSpec()
    indices: list[str] = Field(
        ["ndvi"],
        min_length=1,
        description="ndvi, ndwi (Gao) or any spyndex index name",
        examples=[["ndvi", "ndwi"]],
    )
    composite: CompositeSpec = CompositeSpec()
    gapfill: GapfillSpec | None = Field(
        None, description="fill the composites' gaps (parameters of the method beside it)"
    )
    reference: ReferenceSpec | None = Field(None, description="needed for indicators")
    indicators: list[IndicatorName] = Field(
        [],
        description="vci, zscore, anomaly, pct_normal, drought_class; tci, vhi (need `lst`)",
        examples=[["vci", "zscore", "anomaly", "drought_class"]],
    )
    lst: LstSpec | None = Field(
        None, description="land-surface temperature source, for the tci and vhi indicators"
    )
    drought_classes: DroughtClasses = DroughtClasses()
    regions: RegionsSpec | None = Field(None, description="per-region statistics, optional")
    alerts: list[AlertRule] = Field(
        [], description="rules raising alerts per region on its series (need `regions`)"
    )
    output: OutputSpec
    dask: DaskSpec = DaskSpec()

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        if self.output.report and not {"vci", "zscore", "anomaly"} <= set(self.indicators):
            raise ValueError("output: report needs indicators vci, zscore and anomaly")
        if self.indicators and self.reference is None:
            raise ValueError("indicators: need a `reference: {start, end}` section")
        if {"tci", "vhi"} & set(self.indicators) and self.lst is None:
            raise ValueError("indicators: tci and vhi need an `lst: {collection, band}` section")
        if self.reference is not None and (
            self.reference.end < self.time.start or self.reference.start > self.time.end
        ):
            raise ValueError(
                f"reference: {self.reference.start}..{self.reference.end} lies outside "
                f"time {self.time.start}..{self.time.end}"
            )
        for where, cal in (
            ("source", self.source.calibrate),
            ("lst", self.lst.calibrate if self.lst is not None else None),
        ):
            if (
                cal is not None
                and cal.switch is not None
                and not (self.time.start < cal.switch <= self.time.end)
            ):
                raise ValueError(
                    f"{where}.calibrate.switch: {cal.switch} is not after time.start "
                    f"({self.time.start}) and at most time.end ({self.time.end}); give the day "
                    "the newer sensor takes over, inside the series"
                )
        self._check_alerts()
        ref = self.reference
        if self.indicators and ref is not None:
            years = ref.end.year - ref.start.year + 1
            if ref.min_years > years:
                raise ValueError(
                    f"reference.min_years: {ref.min_years} is more than the {years} years "
                    f"from {ref.start} to {ref.end}: every indicator would be NaN; lower "
                    "min_years or widen the reference"
                )
        return self

    @field_validator("indices")
    @classmethod
    def _known_indices(cls, v: list[str]) -> list[str]:
        from ..indices import resolve

        for name in v:
            resolve(name)  # raises ValueError listing what is known
        if len(set(v)) != len(v):
            raise ValueError(f"indices are repeated: {v}")
        return v

    def zonal_variables(self) -> list[str]:
        """The variables of the per-region series (OUT/zonal.parquet) this recipe writes (the
        float ones: counts and reference years are not averaged over regions)."""
        out = list(self.indices) + (["lst"] if self.lst is not None else [])
        for ind in self.indicators:
            if ind in ("tci", "vhi"):
                continue
            out += [f"{i}_{ind}" for i in self.indices]
            if ind == "drought_class":
                out += [f"{i}_drought_share" for i in self.indices]
                if self.drought_classes.min_confidence is not None:
                    out += [f"{i}_confidence" for i in self.indices]
        out += ["lst_tci"] if "tci" in self.indicators else []
        out += [f"{i}_vhi" for i in self.indices] if "vhi" in self.indicators else []
        return out + [f"{c}_drought_{k}" for c in self.heat_classes() for k in ("class", "share")]

    def heat_classes(self) -> list[str]:
        """The TCI / VHI drought classes written beside the VCI's (`<name>_drought_class`)."""
        if "drought_class" not in self.indicators:
            return []
        out = ["lst_tci"] if "tci" in self.indicators else []
        return out + ([f"{i}_vhi" for i in self.indices] if "vhi" in self.indicators else [])

    def _check_alerts(self) -> None:
        if not self.alerts:
            return
        if self.regions is None:
            raise ValueError("alerts: need a `regions: {path, id}` section (alerts are per region)")
        names = [a.name for a in self.alerts]
        if len(set(names)) != len(names):
            raise ValueError(f"alerts: rule names must be unique; got {names}")
        known = self.zonal_variables()
        for i, rule in enumerate(self.alerts):
            if rule.variable not in known:
                raise ValueError(
                    f"alerts.{i}.variable: {rule.variable!r} is not a per-region series of this "
                    f"recipe; it writes: {', '.join(known)}"
                )
