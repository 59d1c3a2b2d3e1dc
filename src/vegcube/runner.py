"""Execute a recipe: search → cube → mask → indices → composites → reference → indicators → out.

Each stage is persisted (Zarr) and the next stage reads it back, so dask graphs stay small
and a stage is computed once. `run.json` records the recipe, versions, items and timings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pystac
import xarray as xr

from . import aoi as aoi_mod
from . import (
    catalog,
    composite,
    cube,
    export,
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
from .errors import RecipeError, SourceError
from .recipe import Recipe, load_recipe

__all__ = ["Plan", "RunResult", "plan", "run"]

_VERSIONED = (
    "vegcube",
    "numpy",
    "xarray",
    "dask",
    "odc-stac",
    "odc-geo",
    "rasterio",
    "pystac",
    "pystac-client",
    "zarr",
    "spyndex",
    "pydantic",
)


@dataclass
class Plan:
    """Everything checked before any pixel is read."""

    recipe: Recipe
    geometry: Any
    grid: Any
    items: list[pystac.Item]
    bands: list[str]
    regions: zonal.Regions | None = None


@dataclass
class RunResult:
    """Paths of what a run wrote."""

    out: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def plan(recipe: Recipe | dict[str, Any] | str | os.PathLike[str]) -> Plan:
    """Validate the recipe, read the AOI, search the catalog and check bands: no pixel read.

    Raises `RecipeError`/`SourceError`/`BandError` (exit code 2) on bad input.
    """
    rc = load_recipe(recipe)
    geom = aoi_mod.read_aoi(rc.aoi)
    try:
        gbox = aoi_mod.grid(geom, crs=rc.grid.crs, resolution=rc.grid.resolution)
    except Exception as exc:  # pyproj/odc-geo raise several kinds for a bad CRS
        raise RecipeError(f"grid.crs: cannot use {rc.grid.crs!r} ({exc})") from exc
    sensor = sensors.for_collection(rc.source.collection)
    needed: list[str] = []
    for name in rc.indices:
        for band in indices.resolve(name).bands:
            if band not in needed:
                needed.append(band)
    bands = [*needed, sensor.QA_BAND]
    items = catalog.search(
        rc.source.catalog,
        collection=rc.source.collection,
        bbox=tuple(geom.boundingbox),  # type: ignore[arg-type]
        start=rc.time.start,
        end=rc.time.end,
        max_cloud_cover=rc.source.max_cloud_cover,
    )
    if not items:
        raise SourceError(
            f"source: no {rc.source.collection} scenes in {rc.source.catalog} intersect the AOI "
            f"between {rc.time.start} and {rc.time.end} with eo:cloud_cover ≤ "
            f"{rc.source.max_cloud_cover}; check aoi, time and source.max_cloud_cover"
        )
    cube.asset_keys(items, bands, collection=rc.source.collection)
    if rc.reference is not None:
        first, last = items[0].datetime, items[-1].datetime
        assert first is not None and last is not None
        if rc.reference.end < first.date() or rc.reference.start > last.date():
            raise RecipeError(
                f"reference: {rc.reference.start}..{rc.reference.end} holds no scene; the data "
                f"found spans {first.date()}..{last.date()}"
            )
    regions = None
    if rc.regions is not None:  # read now: a bad regions file is bad input, found before work
        regions = zonal.read_regions(rc.regions.path, id=rc.regions.id, layer=rc.regions.layer)
    return Plan(rc, geom, gbox, items, bands, regions)


@contextlib.contextmanager
def _scheduler(address: str | None) -> Iterator[None]:
    from odc.stac import configure_rio

    if address is None:
        configure_rio(cloud_defaults=True)
        yield
        return
    from distributed import Client

    try:
        client = Client(address, timeout="5s")
    except OSError as exc:
        raise SourceError(f"dask.scheduler: cannot reach {address}: {exc}") from exc
    with client:
        configure_rio(cloud_defaults=True, client=client)
        yield


def run(
    recipe: Recipe | dict[str, Any] | str | os.PathLike[str],
    *,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Run the whole chain of a recipe and write DESIGN.md's output layout under `output.dir`."""
    say = log or (lambda msg: None)
    t0 = time.perf_counter()
    p = plan(recipe)
    rc = p.recipe
    out = Path(rc.output.dir)
    out.mkdir(parents=True, exist_ok=True)
    result = RunResult(out)
    result.timings["plan"] = time.perf_counter() - t0
    say(f"{len(p.items)} scenes, grid {p.grid.shape.x}×{p.grid.shape.y} px in {p.grid.crs}")
    meta = _run_meta(rc, p.items)
    export.write_json({**meta, "status": "running"}, out / "run.json")
    try:
        with _scheduler(rc.dask.scheduler):
            _chain(p, result, say)
    except BaseException as exc:
        status = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        export.write_json({**meta, **status, "timings_s": result.timings}, out / "run.json")
        raise
    result.timings["total"] = time.perf_counter() - t0
    done = {
        **meta,
        "status": "done",
        "timings_s": result.timings,
        "outputs": {k: str(v) for k, v in result.outputs.items()},
    }
    export.write_json(done, out / "run.json")
    return result


def _chain(p: Plan, result: RunResult, say: Callable[[str], None]) -> None:
    rc, out = p.recipe, result.out

    def timed(name: str, fn: Callable[[], xr.Dataset]) -> xr.Dataset:
        t = time.perf_counter()
        say(f"{name} …")
        ds = fn()
        result.outputs[name] = export.write_zarr(ds, out / f"{name}.zarr")
        result.timings[name] = round(time.perf_counter() - t, 3)
        say(f"{name} written in {result.timings[name]:.1f} s")
        return xr.open_zarr(out / f"{name}.zarr")

    comp = timed("composites", lambda: _composites(p))
    products = {"composites": comp}
    series = comp  # what the reference and indicators are computed from
    if rc.gapfill is not None:
        series = timed("gapfilled", lambda: _gapfill(comp, rc))
        products["gapfilled"] = series
    ref_spec, ref = rc.reference, None
    if ref_spec is not None:
        ref = timed(
            "reference",
            lambda: reference.compute(
                series, start=ref_spec.start, end=ref_spec.end, variables=rc.indices
            ),
        )
        if rc.indicators:
            products["indicators"] = timed(
                "indicators",
                lambda: indicators.compute(
                    series,
                    ref,
                    variables=rc.indices,
                    indicators=rc.indicators,
                    min_years=ref_spec.min_years,
                    thresholds=rc.drought_classes.model_dump(),
                ),
            )
    cog_vars = list(rc.indices) + [f"{i}_{k}" for i in rc.indices for k in rc.indicators]
    _extra_formats(rc, result, products, cog_vars)
    table = None
    if p.regions is not None:
        t = time.perf_counter()
        say("zonal statistics …")
        parts = [zonal.stats(products[k], p.regions) for k in ("composites", "indicators")
                 if k in products]  # fmt: skip
        table = pd.concat(parts).sort_values(["region", "variable", "time"], ignore_index=True)
        result.outputs["zonal"], result.outputs["zonal_csv"] = zonal.write(table, out)
        result.timings["zonal"] = round(time.perf_counter() - t, 3)
    if rc.output.report and ref is not None:  # the recipe guarantees indicators with a report
        t = time.perf_counter()
        say("report …")
        result.outputs["report"] = report.write(
            out, composites=comp, reference=ref, indicators=products["indicators"],
            variable=rc.indices[0], zonal=table,
        )  # fmt: skip
        result.timings["report"] = round(time.perf_counter() - t, 3)


def _gapfill(comp: xr.Dataset, rc: Recipe) -> xr.Dataset:
    """`<index>` filled and `<index>_quality` (−1 observed, n harmonics used, 0 unfilled)."""
    assert rc.gapfill is not None
    out = xr.Dataset(attrs={**comp.attrs, "gapfill_method": rc.gapfill.method})
    for name in rc.indices:
        filled = gapfill.fill(comp[name], method=rc.gapfill.method, **rc.gapfill.params)
        out[name] = filled["filled"]
        out[f"{name}_quality"] = filled["quality"]
    return out


def _composites(p: Plan) -> xr.Dataset:
    rc = p.recipe
    scenes = cube.load(
        p.items, p.bands, grid=p.grid, collection=rc.source.collection, chunk=rc.dask.chunk
    )
    ok = mask.valid(scenes, scl_classes=rc.mask.sentinel2_scl, dilate_m=rc.mask.dilate_m)
    ok = ok & aoi_mod.inside(scenes, p.geometry)  # outside the AOI polygon: NaN
    idx = indices.compute(mask.apply(scenes, ok), rc.indices)
    spec, qa = rc.composite, sensors.for_collection(rc.source.collection).QA_BAND
    start, end = rc.time.start, rc.time.end
    if spec.reducer == "weighted":
        return synthesis.weighted_synthesis(
            idx, scl=scenes[qa], period=spec.period, start=start, end=end,
            window_days=spec.window_days, sensor_weights=spec.sensor_weights,
        )  # fmt: skip
    if spec.reducer == "bap":
        bap = synthesis.best_available_pixel(
            idx, scl=scenes[qa], period=spec.period, start=start, end=end,
            window_days=spec.window_days, sensor_scores=spec.sensor_weights,
        )  # fmt: skip
        # every composite carries `<index>_count`: for BAP, the candidates it chose from
        return bap.assign({f"{i}_count": bap["bap_count"] for i in rc.indices})
    return composite.composite(idx, period=spec.period, reducer=spec.reducer, start=start, end=end)


def _extra_formats(
    rc: Recipe, result: RunResult, products: dict[str, xr.Dataset], cog_vars: list[str]
) -> None:
    out = result.out
    if "netcdf" in rc.output.formats:
        for name, ds in products.items():
            result.outputs[f"{name}_netcdf"] = export.write_netcdf(ds, out / f"{name}.nc")
    if "cog" in rc.output.formats:
        t = time.perf_counter()
        parts = [ds[[v for v in cog_vars if v in ds]] for ds in products.values()]
        merged = xr.merge(parts, compat="override", join="exact")
        export.write_cogs(merged, out / "cog", [v for v in cog_vars if v in merged])
        result.outputs["cog"] = out / "cog" / "catalog.json"
        result.timings["cog"] = round(time.perf_counter() - t, 3)


def _run_meta(rc: Recipe, items: list[pystac.Item]) -> dict[str, Any]:
    versions = {}
    for name in _VERSIONED:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "vegcube_run": 1,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "recipe": rc.model_dump(mode="json"),
        "python": platform.python_version(),
        "versions": versions,
        "items": [it.id for it in items],
    }
