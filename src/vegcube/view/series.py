"""Time series of a run as JSON for the viewer's charts: a region's series (rows of
``OUT/zonal.parquet``) against its reference envelope, and a pixel's composite, filled and
reference series (read from the Zarr stores).

The region envelope is the report's (`vegcube.report`): each region's own mean series over the
reference years, per period of year. Nothing else is computed here: values are read, NaN → null.

>>> region_series(run, "Poe", index="ndvi")     # {"time": [...], "value": [...], ...}
>>> pixel_series(run, lon=165.49, lat=-21.57, index="ndvi")
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .outputs import Run
from .tiles import TileError

__all__ = ["SeriesError", "pixel_series", "region_series"]


class SeriesError(TileError):
    """A series that cannot be served (404: unknown region, index or place; 400: bad input)."""


def _nums(values: Iterable[Any]) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        f = float(v)
        out.append(None if math.isnan(f) else f)
    return out


def _days(times: Iterable[Any]) -> list[str]:
    return [f"{t:%Y-%m-%d}" for t in pd.DatetimeIndex(list(times))]


def _index(run: Run, index: str) -> None:
    if index not in run.indices:
        raise SeriesError(f"unknown index {index!r}; this run has: {', '.join(run.indices)}")


def region_series(run: Run, region: str, *, index: str) -> dict[str, Any]:
    """`region`'s mean `index` per period (``value``; null where under half of the region was
    valid, as in the report), its reference envelope (``ref_mean``, ``ref_std``, ``ref_min``,
    ``ref_max``), mean VCI and the raw ``mean`` and ``valid_fraction`` of ``zonal.parquet``."""
    from ..report import _zonal_series

    _index(run, index)
    zonal = run.zonal
    if zonal is None:
        raise SeriesError("this run has no zonal.parquet (its recipe gave no regions)")
    regions = sorted(zonal["region"].unique())
    if region not in regions:
        raise SeriesError(f"unknown region {region!r}; this run has: {', '.join(regions)}")
    comp, ref = run.store("composites"), run.store("reference")
    if comp is None or ref is None:
        raise SeriesError("composites.zarr and reference.zarr are needed for a region series")
    zone = zonal[zonal["region"] == region]
    wide = _zonal_series(zone, comp, ref, index)[region]
    raw = zone[zone["variable"] == index].set_index("time").reindex(wide.index)
    prov = run.periods["provisional"].reindex(wide.index, fill_value=False)
    out: dict[str, Any] = {
        "region": region,
        "index": index,
        "time": _days(wide.index),
        "end": _days(wide["end"]),
        "provisional": [bool(p) for p in prov],
    }
    for col in ("value", "ref_mean", "ref_std", "ref_min", "ref_max", "vci", "drought_class"):
        if col in wide:
            out[col] = _nums(wide[col])
    out["mean"] = _nums(raw["mean"])
    out["valid_fraction"] = _nums(raw["valid_fraction"])
    return out


def pixel_series(run: Run, *, lon: float, lat: float, index: str) -> dict[str, Any]:
    """At the pixel holding (`lon`, `lat`): the ``composite`` (composites.zarr), ``filled``
    (gapfilled.zarr, with its ``quality``) and the reference ``ref_mean``/``ref_min``/
    ``ref_max`` of each period's period of year (reference.zarr)."""
    _index(run, index)
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise SeriesError(f"lon, lat = {lon}, {lat}: give degrees (−180..180, −90..90)", 400)
    comp, filled, ref = (run.store(s) for s in ("composites", "gapfilled", "reference"))
    base = next((ds for ds in (filled, comp) if ds is not None and index in ds), None)
    if base is None:
        raise SeriesError(f"no {index} in composites.zarr or gapfilled.zarr")
    iy, ix, x, y = _pixel(base, lon, lat)
    times = pd.DatetimeIndex(base.time.values)
    prov = run.periods["provisional"].reindex(times, fill_value=False)
    out: dict[str, Any] = {
        "index": index, "lon": lon, "lat": lat, "x": x, "y": y, "row": iy, "col": ix,
        "time": _days(times), "provisional": [bool(p) for p in prov],
    }  # fmt: skip
    for key, ds, var in (("composite", comp, index), ("filled", filled, index),
                         ("quality", filled, f"{index}_quality")):  # fmt: skip
        if ds is not None and var in ds:
            out[key] = _nums(ds[var].isel(y=iy, x=ix).reindex(time=times).values)
    if ref is not None and "period_of_year" in base.coords:
        poy = np.asarray(base["period_of_year"].values)
        for stat in ("mean", "min", "max", "std"):
            var = f"{index}_{stat}"
            if var in ref:
                col = ref[var].isel(y=iy, x=ix).sel(period_of_year=poy).values
                out[f"ref_{stat}"] = _nums(col)
    return out


def _pixel(ds: Any, lon: float, lat: float) -> tuple[int, int, float, float]:
    """(row, col, x, y) of the pixel of `ds` holding (`lon`, `lat`); 404 outside the grid."""
    from pyproj import Transformer

    crs = ds["spatial_ref"].attrs.get("crs_wkt")
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    xs, ys = np.asarray(ds.x.values), np.asarray(ds.y.values)
    dx = abs(float(xs[1] - xs[0])) if xs.size > 1 else 1.0
    dy = abs(float(ys[1] - ys[0])) if ys.size > 1 else 1.0
    ix, iy = int(np.abs(xs - x).argmin()), int(np.abs(ys - y).argmin())
    if abs(xs[ix] - x) > dx / 2 or abs(ys[iy] - y) > dy / 2:
        raise SeriesError(f"({lon:.5f}, {lat:.5f}) is outside the run's grid")
    return iy, ix, float(xs[ix]), float(ys[iy])
