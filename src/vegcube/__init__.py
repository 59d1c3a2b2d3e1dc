"""vegcube: vegetation and drought indicators from open satellite archives, on your machine.

>>> import vegcube
>>> result = vegcube.run("recipe.yaml")          # the whole chain, DESIGN.md's output layout

Each step is a module of functions on xarray objects: `aoi`, `catalog`, `cube`, `mask`,
`calibrate` (cross-sensor), `indices`, `composite`, `synthesis`, `gapfill`, `reference`,
`indicators`, `zonal`, `export`, `report`.
"""

from __future__ import annotations

from . import (
    aoi,
    calibrate,
    catalog,
    composite,
    cube,
    export,
    fetch,
    gapfill,
    indicators,
    indices,
    mask,
    reference,
    report,
    sensors,
    synthesis,
    zonal,
)
from .errors import BandError, DataError, RecipeError, SourceError, VegcubeError
from .recipe import Recipe, load_recipe
from .routine import update
from .runner import RunResult, plan, run

__version__ = "0.1.0"

__all__ = [
    "BandError",
    "DataError",
    "Recipe",
    "RecipeError",
    "RunResult",
    "SourceError",
    "VegcubeError",
    "aoi",
    "calibrate",
    "catalog",
    "composite",
    "cube",
    "export",
    "fetch",
    "gapfill",
    "indicators",
    "indices",
    "load_recipe",
    "mask",
    "plan",
    "reference",
    "report",
    "run",
    "sensors",
    "synthesis",
    "update",
    "zonal",
]
