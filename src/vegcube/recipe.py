"""The recipe: a frozen, validated description of one run (YAML, TOML or dict → `Recipe`).

Every field is declared with its type, allowed values and a description; unknown keys are
errors. All problems are collected and reported together, each naming its key.
"""

from __future__ import annotations

import datetime as dt
import os
import typing
from pathlib import Path
from typing import Any, Literal

import tomllib
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from . import export as _export
from .errors import RecipeError
from .sensors import LANDSAT, MODIS09A1, MODIS13Q1, SENTINEL2, Sensor

__all__ = [
    "AOISpec",
    "CalibrateSpec",
    "CloudProbabilitySpec",
    "CompositeSpec",
    "DaskSpec",
    "GapfillSpec",
    "GridSpec",
    "LstSpec",
    "MaskSpec",
    "OutputSpec",
    "Recipe",
    "ReferenceSpec",
    "RegionsSpec",
    "SourceSpec",
    "TimeSpec",
    "load_recipe",
    "template",
]

INDICATORS = ("vci", "zscore", "anomaly", "pct_normal", "drought_class", "tci", "vhi")
FORMATS = ("zarr", "cog", "netcdf")


class _Section(BaseModel):
    # numbers are finite: `.inf`/`.nan` (YAML) and `inf`/`nan` (TOML) are refused by name
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """`true`/`false` where a number goes is refused (pydantic would read it as 1 or 0:
        `resolution: true` would silently mean 1 metre)."""
        name = info.field_name
        if name is None or not _numeric(cls.model_fields[name].annotation):
            return v
        items = v if isinstance(v, (list, tuple)) else [v]
        for i, x in enumerate(items):
            if isinstance(x, bool):
                at = f"item {i}: " if isinstance(v, (list, tuple)) else ""
                raise ValueError(f"{at}a number, not {str(x).lower()}")
        return v


def _numeric(annotation: Any) -> bool:
    """True if `annotation` is a number, or an optional or a list or tuple of numbers."""
    if annotation in (int, float):
        return True
    args = [a for a in typing.get_args(annotation) if a is not type(None) and a is not Ellipsis]
    return bool(args) and all(_numeric(a) for a in args)


#: the dates a recipe may name: no archive vegcube reads has scenes before Landsat 1 (1972)
_EARLIEST = dt.date(1972, 1, 1)


def _check_date(v: dt.date) -> dt.date:
    latest = dt.date(dt.date.today().year + 1, 12, 31)
    if v < _EARLIEST:
        raise ValueError(
            f"{v} is before {_EARLIEST}: no archive vegcube reads has scenes that early "
            "(Landsat 1, 1972, is the first); give a date from 1972 on"
        )
    if v > latest:
        raise ValueError(
            f"{v} is after {latest} (the end of next year): give a date up to then; a routine "
            "service moves time.end forward with each update"
        )
    return v


def _check_order(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")


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
            from .aoi import check_bbox

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
        1, ge=0, le=5, description="pair scenes of two sensors at most this many days apart"
    )
    method: Literal["rma", "ols"] = Field(
        "rma", description="rma (reduced major axis, errors in both) or ols (least squares)"
    )
    apply: bool = Field(
        True, description="rescale the other sensors' indices onto the reference before compositing"
    )


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
        from . import sensors
        from .errors import SourceError

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


class MaskSpec(_Section):
    """Which pixels are invalid."""

    # one key per sensor (its `mask_key`); defaults and accepted flags are the sensor's
    sentinel2_scl: list[int] = Field(
        _defaults(SENTINEL2), description="Sentinel-2 SCL classes to mask (0..11)"
    )
    landsat_qa: list[str] = Field(
        _defaults(LANDSAT),
        description=f"Landsat QA_PIXEL flags to mask: {_accepted(LANDSAT)}",
    )
    modis13q1_qa: list[str] = Field(
        _defaults(MODIS13Q1),
        description=f"MOD13Q1 VI Quality flags to mask: {_accepted(MODIS13Q1)}",
    )
    modis09a1_qa: list[str] = Field(
        _defaults(MODIS09A1),
        description=f"MOD09A1 state QA flags to mask: {_accepted(MODIS09A1)}",
    )
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

    @field_validator("sentinel2_scl")
    @classmethod
    def _scl_range(cls, v: list[int]) -> list[int]:
        bad = [c for c in v if c not in SENTINEL2.qa_flags]
        if bad:
            raise ValueError(f"SCL classes are 0..11; got {bad}")
        return v

    @field_validator("landsat_qa", "modis13q1_qa", "modis09a1_qa")
    @classmethod
    def _known_flags(cls, v: list[str], info: ValidationInfo) -> list[str]:
        from . import sensors

        sensor = next(s for s in sensors.SENSORS if info.field_name == s.mask_key)
        sensors.check_flags(sensor, v)  # ValueError listing the accepted names
        return v

    @property
    def qa_flags(self) -> dict[str, list[Any]]:
        """Flags to mask per sensor name (`Sensor.name`), for `mask.valid`."""
        from . import sensors

        return {s.name: list(getattr(self, s.mask_key)) for s in sensors.SENSORS}


class CompositeSpec(_Section):
    """Temporal compositing."""

    # the reducer's own parameters (window_days, sensor_weights, …) sit beside `reducer`
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    period: Literal["dekad", "month"] = Field("dekad", description="dekad (10 days) or month")
    reducer: Literal["median", "mean", "max", "min", "weighted", "bap"] = Field(
        "median",
        description="median, mean, max, min; weighted (WASP-like synthesis), bap (best pixel)",
    )
    monthly: bool = Field(
        False,
        description="dekad only: also write OUT/monthly/ (months from the dekads: composites, "
        "reference, indicators)",
    )

    @model_validator(mode="before")
    @classmethod
    def _stored_defaults(cls, data: Any) -> Any:
        """Recipes stored by earlier versions hold `window_days: 46` and `sensor_weights:
        null` whatever the reducer: those defaults are dropped where the reducer takes none."""
        if not isinstance(data, dict):
            return data
        from . import composite

        reducer = data.get("reducer", "median")
        taken = composite.REDUCERS[reducer].parameters() if reducer in composite.REDUCERS else {}
        legacy = {"window_days": 46, "sensor_weights": None}
        return {
            k: v for k, v in data.items() if not (k in legacy and k not in taken and v == legacy[k])
        }

    @model_validator(mode="after")
    def _monthly_from_dekads(self) -> CompositeSpec:
        if self.monthly and self.period != "dekad":
            raise ValueError("monthly: true aggregates dekads; it needs period: dekad")
        return self

    @model_validator(mode="after")
    def _parameters_of_the_reducer(self) -> CompositeSpec:
        """A parameter the reducer does not take, or a value out of its range, is an error
        naming it, never silently ignored."""
        from . import composite

        composite.get(self.reducer).validate(self.model_extra or {})
        return self

    @property
    def params(self) -> dict[str, Any]:
        """The reducer's parameters given in the recipe, validated."""
        from . import composite

        return composite.get(self.reducer).validate(self.model_extra or {})


class GapfillSpec(_Section):
    """Gap filling of the composites; indicators then use the filled series."""

    model_config = ConfigDict(extra="allow", frozen=True)

    method: Literal["harmonic", "hants", "whittaker", "linear"] = Field(
        "harmonic", description="harmonic (cascade 10/5/1), hants, whittaker, linear"
    )

    @model_validator(mode="after")
    def _known_parameters(self) -> GapfillSpec:
        from .gapfill import parameters

        accepted = set(parameters(self.method)) - {"weights"}
        unknown = sorted(set(self.model_extra or {}) - accepted)
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a parameter of method {self.method!r}; "
                f"accepted: {', '.join(sorted(accepted)) or 'none'}"
            )
        defaults = parameters(self.method)
        for name, value in (self.model_extra or {}).items():
            wanted = _kind_of(defaults[name], name)
            if not _is_kind(value, wanted):
                raise ValueError(f"{name}: {value!r} is not {wanted} (default {defaults[name]!r})")
        return self

    @property
    def params(self) -> dict[str, Any]:
        """The method's parameters given in the recipe."""
        return dict(self.model_extra or {})


def _kind_of(default: Any, name: str) -> str:
    """What a gap-filling parameter takes, from its default (None: a number or null)."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, str):
        return "a text"
    if isinstance(default, tuple):
        return "a list of whole numbers"
    return "a finite number" + (" or null" if default is None else "")


def _is_kind(value: Any, kind: str) -> bool:
    import math

    if kind == "true or false":
        return isinstance(value, bool)
    if kind == "a text":
        return isinstance(value, str)
    if kind == "a list of whole numbers":
        return isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
    if value is None:
        return kind.endswith("or null")
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class RegionsSpec(_Section):
    """Regions for per-region time series (OUT/zonal.parquet and .csv)."""

    path: Path = Field(
        description="vector file of the regions (any format pyogrio reads)",
        examples=["districts.geojson"],
    )
    id: str = Field("name", description="attribute holding each region's unique name")
    layer: str | None = Field(None, description="layer name inside `path` (GeoPackage)")


class ReferenceSpec(_Section):
    """Years forming the historical reference."""

    start: dt.date = Field(description="first day of the reference", examples=["2019-01-01"])
    end: dt.date = Field(
        description="last day of the reference, inclusive", examples=["2022-12-31"]
    )
    min_years: int = Field(3, ge=1, description="fewer reference years than this gives NaN")

    _in_range = field_validator("start", "end")(_check_date)

    @model_validator(mode="after")
    def _ordered(self) -> ReferenceSpec:
        _check_order(self.start, self.end)
        return self


class LstSpec(_Section):
    """A land-surface-temperature source (a second source) for TCI and VHI."""

    catalog: str | None = Field(
        None, description="as source.catalog; default: the same catalog as source"
    )
    collection: str = Field("landsat-c2-l2", description="collection with a temperature band")
    band: str = Field(
        "lwir", description="common name of the temperature band (Landsat: lwir = ST in kelvin)"
    )
    max_cloud_cover: float = Field(100, ge=0, le=100, description="as source.max_cloud_cover")
    alpha: float = Field(0.5, ge=0, le=1, description="VHI = alpha·VCI + (1 − alpha)·TCI")

    @model_validator(mode="after")
    def _known(self) -> LstSpec:
        from . import sensors
        from .errors import SourceError

        try:
            sensor = sensors.for_collection(self.collection)
        except SourceError as exc:
            raise ValueError(str(exc).replace("source.collection: ", "collection: ")) from None
        if self.band not in sensor.asset_aliases:
            raise ValueError(
                f"band: {self.band!r} is not a band of {self.collection}; "
                f"known: {', '.join(sensor.asset_aliases)}"
            )
        return self


class DroughtClasses(_Section):
    """VCI thresholds of the drought classes (upper bounds)."""

    extreme: float = Field(10, description="VCI below this: extreme drought (class 4)")
    severe: float = Field(20, description="VCI below this: severe drought (class 3)")
    moderate: float = Field(30, description="VCI below this: moderate drought (class 2)")
    mild: float = Field(40, description="VCI below this: mild drought (class 1); else none (0)")
    zscore_max: float | None = Field(
        None,
        description="if set, a class other than none also needs z-score ≤ this (e.g. -1): "
        "confirms a low VCI by a departure from the mean in standard deviations",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DroughtClasses:
        if not self.extreme < self.severe < self.moderate < self.mild:
            raise ValueError("thresholds must increase: extreme < severe < moderate < mild")
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
    indicators: list[
        Literal["vci", "zscore", "anomaly", "pct_normal", "drought_class", "tci", "vhi"]
    ] = Field(
        [],
        description="vci, zscore, anomaly, pct_normal, drought_class; tci, vhi (need `lst`)",
        examples=[["vci", "zscore", "anomaly", "drought_class"]],
    )
    lst: LstSpec | None = Field(
        None, description="land-surface temperature source, for the tci and vhi indicators"
    )
    drought_classes: DroughtClasses = DroughtClasses()
    regions: RegionsSpec | None = Field(None, description="per-region statistics, optional")
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
        from .indices import resolve

        for name in v:
            resolve(name)  # raises ValueError listing what is known
        if len(set(v)) != len(v):
            raise ValueError(f"indices are repeated: {v}")
        return v


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text: pydantic parses them and names the field of a
    bad one (`time.end: ... day value is outside expected range` for 2023-02-30), and that
    refuses aliases (`*name`): a few nested ones expand into billions of values (an "alias
    bomb") when the recipe is written into run.json; a recipe never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(
                f"YAML aliases (*{event.anchor}) are not accepted in a recipe "
                f"(line {event.start_mark.line + 1}); write the value out"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        """A key given twice is an error (PyYAML keeps the last one silently)."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.YAMLError(
                    f"key {key!r} is given twice (lines {seen[key]} and {line}); keep one"
                )
            if isinstance(key, (str, int, float, bool)):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in rules if tag != "tag:yaml.org,2002:timestamp"]
    for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RecipeError(f"recipe file {path} does not exist (or is not a file)")
    kind = "TOML" if path.suffix == ".toml" else "YAML"
    try:
        if kind == "TOML":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            with path.open(encoding="utf-8") as stream:  # the file's name goes into the message
                data = yaml.load(stream, Loader=_YamlLoader)  # a SafeLoader
    except UnicodeDecodeError as exc:
        raise RecipeError(f"recipe file {path} is not UTF-8 text ({exc})") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise RecipeError(
            f"recipe file {path} is not valid {kind}: {_at_line(exc, path)}"
        ) from None
    if data is None:
        raise RecipeError(f"recipe file {path} is empty; `vegcube recipe init` writes a template")
    if not isinstance(data, dict):
        raise RecipeError(
            f"recipe file {path} must hold a mapping of sections (name:, aoi:, time:, …), "
            f"got a {type(data).__name__}"
        )
    return data


def _at_line(exc: Exception, path: Path) -> str:
    """A TOML error with the text of its line (tomllib names the line, not the key)."""
    import re

    found = re.search(r"at line (\d+)", str(exc))
    if not isinstance(exc, tomllib.TOMLDecodeError) or found is None:
        return str(exc)
    try:
        line = path.read_text(encoding="utf-8").splitlines()[int(found.group(1)) - 1]
    except (OSError, IndexError, ValueError):
        return str(exc)
    return f"{exc}: `{line.strip()}`"


def _format(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if not field:  # checks across sections name their key at the start of the message
            field, _, msg = msg.partition(": ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; `vegcube recipe init` lists every key)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"].startswith("date_"):
            msg += f"; write a date: YYYY-MM-DD (got {err['input']!r})"
        lines.append(f"{field}: {msg}")
    return lines


def load_recipe(recipe: Recipe | dict[str, Any] | str | os.PathLike[str]) -> Recipe:
    """Validate a recipe given as a `Recipe`, a dict, or a YAML/TOML file path.

    Relative paths inside a recipe file are resolved against the file's folder.
    Raises `RecipeError` listing every problem, each prefixed with its key.
    """
    if isinstance(recipe, Recipe):
        return recipe
    base: Path | None = None
    if isinstance(recipe, dict):
        data = recipe
    else:
        path = Path(recipe)
        data, base = _read(path), path.parent
    try:
        parsed = Recipe.model_validate(data)
    except ValidationError as exc:
        problems = _format(exc)
        raise RecipeError(
            "invalid recipe:\n  " + "\n  ".join(problems), problems=problems
        ) from None
    if base is not None:
        parsed = _rebase(parsed, base)
    return parsed


def _rebase(recipe: Recipe, base: Path) -> Recipe:
    """Resolve relative file paths of a recipe file against its folder."""

    def fix(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    out = recipe.output.model_copy(update={"dir": fix(recipe.output.dir)})
    regions = recipe.regions
    if regions is not None:
        regions = regions.model_copy(update={"path": fix(regions.path)})
    aoi = recipe.aoi
    if aoi.path is not None:
        aoi = aoi.model_copy(update={"path": fix(aoi.path)})
    src = recipe.source
    if "://" not in src.catalog and src.catalog.endswith(".json"):
        src = src.model_copy(update={"catalog": str(fix(Path(src.catalog)))})
    lst = recipe.lst
    if (
        lst is not None
        and lst.catalog
        and "://" not in lst.catalog
        and lst.catalog.endswith(".json")
    ):
        lst = lst.model_copy(update={"catalog": str(fix(Path(lst.catalog)))})
    return recipe.model_copy(
        update={"output": out, "aoi": aoi, "source": src, "regions": regions, "lst": lst}
    )


def template() -> str:
    """An annotated recipe template documenting every key (for `vegcube recipe init`).

    Generated from the model, so it lists exactly the accepted keys; it validates as is.
    """
    lines = [
        "# vegcube recipe: every key, its default and what is accepted",
        "# Optional sections are commented out: remove the leading '# ' to use them.",
        "",
    ]

    def walk(model: type[BaseModel], indent: str, off: str = "") -> None:
        for name, field in model.model_fields.items():
            sub = _section_type(field.annotation)
            if sub is not None:
                doc = (sub.__doc__ or "").strip().splitlines()[0]
                optional = field.default is None and name not in _ACTIVE_OPTIONAL
                mark = off or ("# " if optional else "")
                lines.append(f"{mark}{indent}{name}:  # {doc}")
                walk(sub, indent + "  ", mark)
                if sub is CompositeSpec:
                    lines.extend(_reducer_parameters(indent + "  "))
                continue
            value = field.examples[0] if field.examples else field.default
            note = " (required)" if field.is_required() else ""
            text = f"{name}: {_yaml_value(value)}  # {field.description}{note}"
            extra = field.json_schema_extra
            hidden = isinstance(extra, dict) and extra.get("template") == "commented"
            lines.append(f"{off or ('# ' if hidden else '')}{indent}{text}")

    walk(Recipe, "")
    return "\n".join(lines) + "\n"


def _reducer_parameters(indent: str) -> list[str]:
    """Each reducer parameter, commented out, with the reducers that take it."""
    from . import composite

    by_name: dict[str, tuple[Any, list[str]]] = {}
    for r in composite.REDUCERS.values():
        for name, default in r.parameters().items():
            by_name.setdefault(name, (default, []))[1].append(r.name)
    return [
        f"# {indent}{name}: {_yaml_value(default)}  # {', '.join(names)}: "
        f"{composite.PARAMETERS.get(name, 'see the reducer')}"
        for name, (default, names) in by_name.items()
    ]


#: optional sections the template shows switched on (the indicators in it need a reference)
_ACTIVE_OPTIONAL = ("reference",)


def _section_type(ann: Any) -> type[BaseModel] | None:
    for cand in (ann, *getattr(ann, "__args__", ())):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _yaml_value(v: Any) -> str:
    if isinstance(v, tuple):
        v = list(v)
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()
