"""vegcube: vegetation and drought indicators from open satellite archives, on your machine.

>>> import vegcube
>>> result = vegcube.run("recipe.yaml")          # the whole chain, DESIGN.md's output layout

Each step is a module of functions on xarray objects: `aoi`, `catalog`, `cube`, `mask`,
`calibrate` (cross-sensor), `indices`, `composite` (a registry of reducers; its `synthesis`),
`gapfill`, `reference`, `indicators`, `zonal`, `export` (a registry of writers), `report`;
`download` mirrors the assets a recipe needs as local COGs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__
from .errors import BandError, DataError, RecipeError, SourceError, VegcubeError

if TYPE_CHECKING:  # imported on first use (PEP 562): `vegcube --help` starts fast
    from . import (
        aoi,
        calibrate,
        catalog,
        chain,
        composite,
        cube,
        download,
        export,
        gapfill,
        indicators,
        indices,
        journal,
        mask,
        reference,
        report,
        sensors,
        speckle,
        zonal,
    )
    from .journal import RunResult
    from .planning import plan
    from .recipe import Recipe, load_recipe
    from .routine import update
    from .runner import run

_MODULES = {
    "aoi", "calibrate", "catalog", "chain", "composite", "cube", "download", "export", "gapfill",
    "indicators", "indices", "journal", "mask", "reference", "report", "sensors", "speckle",
    "zonal",
}  # fmt: skip
_NAMES = {
    "Recipe": "recipe",
    "load_recipe": "recipe",
    "update": "routine",
    "RunResult": "journal",
    "plan": "planning",
    "run": "runner",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'vegcube' has no attribute {name!r}")


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
    "chain",
    "composite",
    "cube",
    "download",
    "export",
    "gapfill",
    "indicators",
    "indices",
    "journal",
    "load_recipe",
    "mask",
    "plan",
    "reference",
    "report",
    "run",
    "sensors",
    "speckle",
    "update",
    "zonal",
]
