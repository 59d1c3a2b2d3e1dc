"""What a run folder holds, for the viewer: its recipe, its periods (with the provisional ones),
the COGs per variable and date, and its Zarr stores, opened lazily once.

>>> run = open_run("out/")          # RunNotFound (an InputError) names what is missing
>>> run.layers["ndvi_vci"]          # {"2023-03-01": Path(".../cog/ndvi_vci/2023-03-01.tif"), …}
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError

__all__ = ["STORES", "Run", "RunNotFound", "open_run"]

#: the Zarr stores of a run, by short name (`OUT/<name>.zarr`)
STORES = ("composites", "gapfilled", "reference", "indicators")


class RunNotFound(InputError):
    """The folder holds no vegcube run (or none with outputs to show)."""


@dataclass
class Run:
    """A run folder's outputs; stores and tables are read on first use and kept."""

    path: Path
    recipe: dict[str, Any]
    layers: dict[str, dict[str, Path]]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stores: dict[str, xr.Dataset | None] = field(default_factory=dict, repr=False)
    #: small values derived once (bounds, …) by the modules that need them
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return str(self.recipe.get("name", self.path.name))

    @property
    def indices(self) -> list[str]:
        return [str(i) for i in self.recipe.get("indices", [])]

    def store(self, name: str) -> xr.Dataset | None:
        """`OUT/<name>.zarr` opened lazily (None when the run did not write it)."""
        with self._lock:
            if name not in self._stores:
                path = self.path / f"{name}.zarr"
                self._stores[name] = xr.open_zarr(path) if path.exists() else None
            return self._stores[name]

    @cached_property
    def periods(self) -> pd.DataFrame:
        """One row per period (index: period start): ``end``, ``provisional`` (bool); from the
        first store with a time axis, else the COG dates."""
        for name in ("indicators", "gapfilled", "composites"):
            ds = self.store(name)
            if ds is None or "time" not in ds.dims:
                continue
            times = pd.DatetimeIndex(ds.time.values)
            end = ds["period_end"].values if "period_end" in ds.coords else times
            prov = ds["provisional"].values if "provisional" in ds.coords else False
            return pd.DataFrame(
                {"end": pd.DatetimeIndex(np.asarray(end)),
                 "provisional": np.broadcast_to(np.asarray(prov, bool), len(times))},
                index=times,
            )  # fmt: skip
        days = sorted({d for dates in self.layers.values() for d in dates})
        times = pd.DatetimeIndex(days)
        return pd.DataFrame({"end": times, "provisional": False}, index=times)

    @cached_property
    def zonal(self) -> pd.DataFrame | None:
        """``OUT/zonal.parquet`` (None without regions)."""
        path = self.path / "zonal.parquet"
        if not path.exists():
            return None
        df = pd.read_parquet(path)
        return df.assign(time=pd.to_datetime(df["time"]), region=df["region"].astype(str))

    @cached_property
    def regions_geojson(self) -> dict[str, Any] | None:
        """The recipe's regions as a GeoJSON FeatureCollection in EPSG:4326 (None without)."""
        spec = self.recipe.get("regions")
        if not spec or not spec.get("path"):
            return None
        import shapely
        from pyproj import Transformer

        from ..zonal import read_regions

        regions = read_regions(spec["path"], id=spec.get("id", "name"), layer=spec.get("layer"))
        to_wgs84 = Transformer.from_crs(regions.crs, "EPSG:4326", always_xy=True)
        features = []
        for rid, geom in zip(regions.ids, regions.geometries, strict=True):
            g = shapely.transform(geom, lambda xy: np.column_stack(to_wgs84.transform(*xy.T)))
            features.append(
                {
                    "type": "Feature",
                    "id": rid,
                    "properties": {"id": rid},
                    "geometry": json.loads(shapely.to_geojson(g)),
                }
            )
        return {"type": "FeatureCollection", "features": features}


def open_run(path: str | Path) -> Run:
    """The outputs of the run in `path`; `RunNotFound` names what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise RunNotFound(f"{path} is not a folder; give the output folder of a run", field="OUT")
    meta = path / "run.json"
    if not meta.exists():
        raise RunNotFound(
            f"{path} holds no run: {meta.name} is missing (give the `output.dir` "
            "of a recipe that `vegcube run` or `vegcube demo` wrote)",
            field="OUT",
        )
    try:
        recipe = json.loads(meta.read_text()).get("recipe") or {}
    except (OSError, ValueError) as exc:
        raise RunNotFound(f"{meta} is not readable JSON ({exc})", field="OUT") from None
    layers = _cogs(path / "cog")
    if not layers and not any((path / f"{s}.zarr").exists() for s in STORES):
        raise RunNotFound(
            f"{path} has no outputs to show: neither cog/<variable>/<date>.tif nor any "
            f"of {', '.join(s + '.zarr' for s in STORES)} (did the run finish?)",
            field="OUT",
        )
    return Run(path=path, recipe=recipe, layers=layers)


def _cogs(folder: Path) -> dict[str, dict[str, Path]]:
    """``cog/<var>/<YYYY-MM-DD>.tif`` → {var: {date: path}}, dates sorted."""
    if not folder.is_dir():
        return {}
    out = {}
    for var in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "items"):
        files = {f.stem: f for f in sorted(var.glob("*.tif"))}
        if files:
            out[var.name] = files
    return out
