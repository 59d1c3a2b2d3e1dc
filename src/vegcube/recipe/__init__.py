"""The recipe: a frozen, validated description of one run (YAML, TOML or dict → `Recipe`).

Every field is declared with its type, allowed values and a description; unknown keys are
errors. All problems are collected and reported together, each naming its key.

The sections live in `source` (aoi, time, source, grid), `masking` (mask), `processing`
(composite, gapfill), `drought` (reference, lst, drought_classes) and `outputs` (regions, output,
dask); `model` holds `Recipe`, `load` reads files and dicts, `template` writes the annotated
template of `vegcube recipe init`.
"""

from .drought import DroughtClasses, LstSpec, ReferenceSpec
from .load import load_recipe
from .masking import CloudProbabilitySpec, MaskSpec
from .model import Recipe
from .outputs import DaskSpec, OutputSpec, RegionsSpec
from .processing import CompositeSpec, GapfillSpec
from .source import AOISpec, CalibrateSpec, GridSpec, SourceSpec, TimeSpec
from .template import template

__all__ = [
    "AOISpec",
    "CalibrateSpec",
    "CloudProbabilitySpec",
    "CompositeSpec",
    "DaskSpec",
    "DroughtClasses",
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
