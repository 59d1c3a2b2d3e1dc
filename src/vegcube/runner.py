"""Execute a recipe: search → cube → mask → indices → composites → reference → indicators → out.

Each stage is persisted (Zarr) and the next stage reads it back, so dask graphs stay small
and a stage is computed once. `run.json` records the recipe, versions, items and timings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import inspect
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pystac
import xarray as xr

from . import aoi as aoi_mod
from . import (
    blocks,
    calibrate,
    catalog,
    composite,
    cube,
    export,
    gapfill,
    indicators,
    mask,
    reference,
    report,
    sensors,
    synthesis,
    zonal,
)
from .errors import BandError, RecipeError, SourceError
from .recipe import Recipe, load_recipe
from .state import State, fingerprint

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
    lst_items: list[pystac.Item] = field(default_factory=list)
    #: L1C scenes paired by solar day with Sentinel-2 scenes (`mask.cloud_probability`)
    cloud_items: list[pystac.Item] = field(default_factory=list)
    #: how DN become values per collection and band, and contradictions found (`cube.value_rules`)
    value_rules: dict[str, Any] = field(default_factory=dict)
    #: the same acquisition found in several collections: item id → the id kept instead
    duplicates: dict[str, str] = field(default_factory=dict)
    #: `lst` scenes left out of the temperature series because they have no thermal asset
    lst_without_band: list[str] = field(default_factory=list)


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
    pixels = gbox.shape.x * gbox.shape.y
    if pixels > rc.grid.max_pixels:
        unit = gbox.crs.units[0] if gbox.crs is not None and gbox.crs.units else "CRS units"
        raise RecipeError(
            f"grid.resolution: {rc.grid.resolution:g} {unit} gives a grid of "
            f"{gbox.shape.y:,} × {gbox.shape.x:,} = {pixels:,} px over the AOI, more than "
            f"grid.max_pixels ({rc.grid.max_pixels:,}); the resolution is in {unit} of "
            f"{gbox.crs}: e.g. 10 for Sentinel-2 on a metric CRS"
        )
    _check_output_dir(Path(rc.output.dir))
    colls = rc.source.collections
    per = {c: sensors.bands_for(c, rc.indices) for c in colls}  # SourceError: unknown collection
    bands = list(dict.fromkeys(b for c in colls for b in per[c]))
    scl_only = rc.composite.reducer in ("weighted", "bap")
    if scl_only and any(sensors.for_collection(c).NAME != "sentinel2" for c in colls):
        raise RecipeError(
            f"composite.reducer: {rc.composite.reducer!r} scores scenes by their Sentinel-2 "
            f"SCL; use median, mean, max or min with {', '.join(colls)}"
        )
    items: list[pystac.Item] = []
    for coll in colls:
        found = catalog.search(
            rc.source.catalog,
            collection=coll,
            bbox=tuple(geom.boundingbox),  # type: ignore[arg-type]
            start=rc.time.start,
            end=rc.time.end,
            max_cloud_cover=rc.source.max_cloud_cover,
        )
        if found:
            try:
                cube.asset_keys(found, per[coll], collection=coll)
            except BandError as exc:  # name the recipe's index that needs the band
                needing = [
                    i
                    for i in rc.indices
                    if any(f"band {b!r}:" in str(exc) for b in sensors.bands_for(coll, [i])[:-1])
                ]
                where = f"indices ({', '.join(needing)})" if needing else "source.collection"
                raise BandError(f"{where}: {exc}") from None
        items += found
    if not items:
        raise SourceError(
            f"source: no {' or '.join(colls)} scenes in {rc.source.catalog} intersect the AOI "
            f"between {rc.time.start} and {rc.time.end} with eo:cloud_cover ≤ "
            f"{rc.source.max_cloud_cover}; check aoi, time and source.max_cloud_cover"
        )
    items, duplicates = catalog.one_per_acquisition(items, preference=colls)
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
    cloud_items: list[pystac.Item] = []
    cp = rc.mask.cloud_probability
    if cp is not None:
        field_ = "mask.cloud_probability"
        if sensors.sentinel2 not in [sensors.for_collection(c) for c in colls]:
            raise RecipeError(f"{field_}: needs a Sentinel-2 L2A collection in source.collection")
        try:
            mask.cloud_probability_model()
        except ModuleNotFoundError as exc:
            raise RecipeError(f"{field_}: {exc}") from None
        try:
            found = catalog.search(
                cp.catalog or rc.source.catalog,
                collection=cp.collection,
                bbox=tuple(geom.boundingbox),  # type: ignore[arg-type]
                start=rc.time.start - dt.timedelta(days=1),
                end=rc.time.end + dt.timedelta(days=1),
            )
        except SourceError as exc:  # name this section's keys, not source's
            msg = str(exc).replace("source.collection", f"{field_}.collection")
            raise SourceError(msg.replace("source.catalog", f"{field_}.catalog")) from None
        if found:
            try:
                cube.asset_keys(found, mask.CLOUD_PROBABILITY_BANDS, collection=cp.collection)
            except BandError as exc:
                raise BandError(f"{field_}.collection: {exc}") from None
        # pair by local solar day (as cube.load groups scenes) with the Sentinel-2 scenes
        lon = gbox.geographic_extent.centroid.coords[0][0]

        def day(it: pystac.Item) -> dt.date:
            when = it.datetime or it.common_metadata.start_datetime
            assert when is not None
            return (when + dt.timedelta(hours=lon / 15)).date()

        s2_days = {
            day(it)
            for it in items
            if sensors.for_collection(it.collection_id or colls[0]) is sensors.sentinel2
        }
        cloud_items = [it for it in found if day(it) in s2_days]
    lst_items, lst_without = _lst_items(rc, geom)
    return Plan(
        rc,
        geom,
        gbox,
        items,
        bands,
        regions,
        lst_items,
        cloud_items=cloud_items,
        value_rules=cube.value_rules(items, bands),
        duplicates=duplicates,
        lst_without_band=lst_without,
    )


def _check_output_dir(out: Path) -> None:
    """`output.dir` must be a folder, or creatable where its nearest existing parent is a
    writable folder: checked before any work (RecipeError naming output.dir)."""
    if out.exists():
        if not out.is_dir():
            raise RecipeError(f"output.dir: {out} exists and is not a folder; name a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise RecipeError(f"output.dir: {out} is not writable; name a writable folder")
        return
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise RecipeError(f"output.dir: {out} cannot be created: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RecipeError(f"output.dir: {out} cannot be created: {parent} is not writable")


def _lst_items(rc: Recipe, geom: Any) -> tuple[list[pystac.Item], list[str]]:
    """The scenes of the land-surface-temperature source (`lst`), bands checked, and the ids
    of those left out for having no thermal asset (Landsat L2SR: surface reflectance only)."""
    if rc.lst is None:
        return [], []
    spec = rc.lst
    where = spec.catalog or rc.source.catalog
    found = catalog.search(
        where,
        collection=spec.collection,
        bbox=tuple(geom.boundingbox),
        start=rc.time.start,
        end=rc.time.end,
        max_cloud_cover=spec.max_cloud_cover,
    )
    aliases = sensors.for_collection(spec.collection).ASSET_ALIASES.get(spec.band, (spec.band,))
    without = [it.id for it in found if not any(a in it.assets for a in aliases)]
    found = [it for it in found if it.id not in without]
    if not found:
        extra = f" ({len(without)} without a {spec.band!r} asset)" if without else ""
        raise SourceError(
            f"lst: no {spec.collection} scenes with a {spec.band!r} asset in {where} intersect "
            f"the AOI between {rc.time.start} and {rc.time.end}{extra}; check lst.catalog, "
            "lst.collection and lst.band"
        )
    try:
        cube.asset_keys(
            found,
            [spec.band, *sensors.for_collection(spec.collection).QA_BANDS],
            collection=spec.collection,
        )
    except BandError as exc:
        raise BandError(f"lst.band: {exc}") from None
    return found, without


@contextlib.contextmanager
def _scheduler(
    address: str | None, *, catalog_name: str | None = None, storage: dict[str, str] | None = None
) -> Iterator[None]:
    from odc.stac import configure_rio

    from .fetch import gdal_http_options

    # GDAL retries 429/5xx and connection resets with backoff; a truncated body fails the read
    http: dict[str, Any] = dict(gdal_http_options())
    http.update(storage or {})  # requester-pays or anonymous S3 (`catalog.storage_env`)
    if catalog_name is not None:  # e.g. CDSE's S3 endpoint and keys (SourceError if unset)
        keys = catalog.asset_env(catalog_name)
        if "AWS_ACCESS_KEY_ID" in keys:  # signed with the catalog's keys, not anonymous
            http.pop("AWS_NO_SIGN_REQUEST", None)
        http.update(keys)
    if address is None:
        configure_rio(cloud_defaults=True, **http)
        yield
        return
    from distributed import Client

    try:
        client = Client(address, timeout="5s")
    except OSError as exc:
        raise SourceError(f"dask.scheduler: cannot reach {address}: {exc}") from exc
    with client:
        configure_rio(cloud_defaults=True, client=client, **http)
        yield


def storage_options(p: Plan) -> dict[str, str]:
    """GDAL options for the object storage of every asset the plan reads."""
    return catalog.storage_env([*p.items, *p.lst_items, *p.cloud_items])


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
    # an unreachable scheduler is bad input: found before anything is written into OUT
    with _scheduler(rc.dask.scheduler, catalog_name=rc.source.catalog, storage=storage_options(p)):
        out = Path(rc.output.dir)
        out.mkdir(parents=True, exist_ok=True)
        result = RunResult(out)
        result.timings["plan"] = time.perf_counter() - t0
        say(f"{len(p.items)} scenes, grid {p.grid.shape.x}×{p.grid.shape.y} px in {p.grid.crs}")
        meta = _run_meta(rc, p)
        export.write_json({**meta, "status": "running"}, out / "run.json")
        state = State(out / "state.sqlite", fingerprint=fingerprint(meta["recipe"], meta["items"]))
        with _recording(meta, result, state=state, log=say) as say:
            state.seen(p.items, by_update=False)
            _say_conflicts(p, say)
            if state.resumed:
                say("resuming: units of work finished by an earlier attempt are kept")
            _chain(p, result, say, state=state)
            if rc.source.calibrate is not None:  # slope, intercept, r², pairs per index
                meta["calibration"] = calibrate.from_store(out / "composites.zarr")
            result.timings["total"] = time.perf_counter() - t0
    return result


def _say_conflicts(p: Plan, say: Callable[[str], None]) -> None:
    """Contradictions in the items' metadata and the rule applied: once per run, not per item."""
    for c in p.value_rules.get("conflicts", []):
        say(
            f"{c['collection']} {c['band']}: {c['conflict']} ({c['items']} items, e.g. "
            f"{', '.join(c['examples'])})"
        )
    if p.duplicates:
        say(f"{len(p.duplicates)} scenes found in several collections: each used once")
    if p.lst_without_band:
        say(f"lst: {len(p.lst_without_band)} scenes without a thermal asset left out")


@contextlib.contextmanager
def _recording(
    meta: dict[str, Any],
    result: RunResult,
    *,
    state: State | None = None,
    log: Callable[[str], None],
    kind: str = "run",
) -> Iterator[Callable[[str], None]]:
    """Log to `OUT/log/<kind>-<time>.log` (and `log`); write `run.json` with status done,
    or failed (and the error) if the block raises."""
    folder = result.out / "log"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    with open(folder / f"{kind}-{stamp}.log", "a", encoding="utf-8") as file:

        def say(msg: str) -> None:
            file.write(f"{dt.datetime.now(dt.timezone.utc):%H:%M:%S} {msg}\n")
            file.flush()
            log(msg)

        try:
            yield say
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            file.write(f"failed: {error}\n")
            if state is not None:
                state.running_to_failed(error)
            status = {"status": "failed", "error": error}
            export.write_json(
                {**meta, **status, "timings_s": result.timings}, result.out / "run.json"
            )
            raise
        finally:
            if state is not None:
                state.close()
        file.write("done\n")
    done = {
        **meta,
        "status": "done",
        "timings_s": result.timings,
        "outputs": {k: str(v) for k, v in result.outputs.items()},
    }
    export.write_json(done, result.out / "run.json")


def _chain(
    p: Plan,
    result: RunResult,
    say: Callable[[str], None],
    *,
    tail: pd.Timestamp | None = None,
    rebuild_reference: bool = True,
    state: State | None = None,
) -> None:
    """Compute and write every stage. With `tail` (routine update), only the periods from
    `tail` on are computed from scenes and written into the existing stores; the reference
    is kept unless `rebuild_reference`."""
    rc, out = p.recipe, result.out

    def stage(name: str, ds: xr.Dataset, *, whole: bool = False) -> xr.Dataset:
        t = time.perf_counter()
        say(f"{name} …")
        path = out / f"{name}.zarr"
        if state is not None and state.done(name) and path.exists():
            say(f"{name}: written by an earlier attempt, kept")
            result.outputs[name] = path
            return xr.open_zarr(path)
        if tail is None or whole:
            units = state.stage(name) if state is not None else None
            result.outputs[name] = export.write_zarr(ds, path, units=units)
            if state is not None:
                state.set(name, "all", "done")
        else:
            result.outputs[name] = export.append_zarr(ds.sel(time=ds.time >= tail), path)
        result.timings[name] = round(time.perf_counter() - t, 3)
        say(f"{name} written in {result.timings[name]:.1f} s")
        return xr.open_zarr(path)

    comp = _composites(p)
    if rc.lst is not None:
        comp = comp.merge(_lst_composites(p).drop_vars(["period_end", "period_of_year"]))
    comp = stage("composites", _provisional(comp, p))
    products = {"composites": comp}
    series = comp  # what the reference and indicators are computed from
    if rc.gapfill is not None:
        # the fill of new periods uses the whole series, as a full run's does; new data also
        # revise the fill (or smoothing) of the last periods before them: rewritten too
        filled = _gapfill(comp, rc)
        if tail is not None and not rebuild_reference:
            tail = _first_change(filled, out / "gapfilled.zarr", tail, _variables(rc))
        whole = rebuild_reference and tail is not None
        series = stage("gapfilled", filled, whole=whole)
        products["gapfilled"] = series
    ref = None
    if rc.reference is not None:
        ref, ind = _indicators(rc, series, stage, tail=tail, rebuild=rebuild_reference, folder=out)
        if ind is not None:
            products["indicators"] = ind
    if rc.composite.monthly:
        _monthly(rc, out, comp, series, tail=tail, rebuild=rebuild_reference, say=say)
    since = None if rebuild_reference else tail
    _extra_formats(rc, result, products, since=since, state=state)
    table = None
    if p.regions is not None:
        t = time.perf_counter()
        say("zonal statistics …")
        with _unit(state, "zonal"):
            table = _zonal(products, p.regions, out, since=since)
            result.outputs["zonal"], result.outputs["zonal_csv"] = zonal.write(table, out)
        result.timings["zonal"] = round(time.perf_counter() - t, 3)
    if rc.output.report and ref is not None:  # the recipe guarantees indicators with a report
        t = time.perf_counter()
        say("report …")
        with _unit(state, "report"):
            result.outputs["report"] = report.write(
                out, composites=comp, reference=ref, indicators=products["indicators"],
                variable=rc.indices[0], zonal=table,
            )  # fmt: skip
        result.timings["report"] = round(time.perf_counter() - t, 3)


@contextlib.contextmanager
def _unit(state: State | None, name: str) -> Iterator[None]:
    """An output written whole (NetCDF, COGs, tables, report) as a unit of work `status`
    shows: running, then done (failed if the block raises: `_recording` marks it)."""
    if state is not None:
        state.set(name, "all", "running")
    yield
    if state is not None:
        state.set(name, "all", "done")


def _first_change(
    new: xr.Dataset,
    store: Path,
    tail: pd.Timestamp,
    variables: list[str],
    *,
    lookback: int = 36,
    tolerance: float = 1e-6,
) -> pd.Timestamp:
    """The first of the `lookback` periods before `tail` whose stored value in `store` the
    new series changes by more than `tolerance`; `tail` if none does."""
    old = xr.open_zarr(store)
    times = pd.DatetimeIndex(old.time.values)
    end = int(times.searchsorted(tail))
    window = times[max(0, end - lookback) : end]
    if len(window) == 0:
        return tail
    a = new[variables].sel(time=window).compute()
    b = old[variables].sel(time=window).load()
    changed = np.zeros(len(window), bool)
    for name in variables:
        x, y = a[name].values, b[name].values
        differs = (np.abs(x - y) > tolerance) | (np.isnan(x) != np.isnan(y))
        changed |= differs.reshape(len(window), -1).any(axis=1)
    return pd.Timestamp(window[np.argmax(changed)]) if changed.any() else tail


def _indicators(
    rc: Recipe,
    series: xr.Dataset,
    stage: Callable[..., xr.Dataset],
    *,
    tail: pd.Timestamp | None,
    rebuild: bool,
    folder: Path,
    prefix: str = "",
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The reference (computed, or kept in an update) and the indicators against it."""
    spec = rc.reference
    assert spec is not None
    fresh = tail is None or rebuild
    if fresh:
        ref = stage(
            f"{prefix}reference",
            reference.compute(series, start=spec.start, end=spec.end, variables=_variables(rc)),
            whole=True,
        )
    else:
        ref = xr.open_zarr(folder / "reference.zarr")
    if not rc.indicators:
        return ref, None

    def indicators_of(block: xr.Dataset, reference: xr.Dataset) -> xr.Dataset:
        return indicators.compute(
            block,
            reference,
            variables=rc.indices,
            indicators=rc.indicators,
            min_years=spec.min_years,
            thresholds=rc.drought_classes.model_dump(),
            lst="lst" if rc.lst is not None else None,
            alpha=rc.lst.alpha if rc.lst is not None else 0.5,
        )

    # one task per stored chunk (a year of periods × a tile), numpy inside
    ind = blocks.map_chunks(
        indicators_of, series if fresh else series.sel(time=series.time >= tail), ref
    )
    return ref, stage(f"{prefix}indicators", ind, whole=fresh)


def _monthly(
    rc: Recipe,
    out: Path,
    comp: xr.Dataset,
    series: xr.Dataset,
    *,
    tail: pd.Timestamp | None,
    rebuild: bool,
    say: Callable[[str], None],
) -> None:
    """OUT/monthly/: the months' composites (from the dekads), reference and indicators."""
    month = None if tail is None else tail.to_period("M").to_timestamp()
    folder = out / "monthly"

    def stage(name: str, ds: xr.Dataset, *, whole: bool = False) -> xr.Dataset:
        say(f"{name} …")
        path = folder / f"{name.removeprefix('monthly ')}.zarr"
        if month is None or whole:
            export.write_zarr(ds, path)
        else:
            export.append_zarr(ds.sel(time=ds.time >= month), path)
        return xr.open_zarr(path)

    stage("monthly composites", composite.to_monthly(comp, variables=_variables(rc)))
    monthly = composite.to_monthly(series, variables=_variables(rc))
    if rc.reference is not None:
        _indicators(
            rc, monthly, stage, tail=month, rebuild=rebuild, folder=folder, prefix="monthly "
        )


def _provisional(comp: xr.Dataset, p: Plan) -> xr.Dataset:
    """Mark the periods that later data may still change (`provisional` coordinate)."""
    lon = p.grid.geographic_extent.centroid.coords[0][0]
    last = max(it.datetime for it in p.items if it.datetime is not None)
    data_end = (last + dt.timedelta(hours=lon / 15)).date()  # local solar day
    spec = p.recipe.composite
    latency = spec.window_days / 2 if spec.reducer in ("weighted", "bap") else 0
    flag = composite.provisional(
        comp.period_end.values, data_end=data_end, latency_days=latency, today=dt.date.today()
    )
    comp = comp.assign_coords(provisional=("time", flag))
    comp.provisional.attrs = {"long_name": "period may still change (no data acquired after it)"}
    return comp


def _zonal(
    products: dict[str, xr.Dataset], regions: zonal.Regions, out: Path, *, since: Any
) -> pd.DataFrame:
    """Per-region statistics; in an update, those of the new periods replace the old rows."""
    parts = []
    for key in ("composites", "indicators"):
        if key in products:
            ds = products[key]
            ds = ds if since is None else ds.sel(time=ds.time >= since)
            parts.append(zonal.stats(ds, regions))
    table = pd.concat(parts)
    old = out / "zonal.parquet"
    if since is not None and old.exists():
        kept = pd.read_parquet(old)
        table = pd.concat([kept[kept["time"] < since], table])
    return table.sort_values(["region", "variable", "time"], ignore_index=True)


def _gapfill(comp: xr.Dataset, rc: Recipe) -> xr.Dataset:
    """`<index>` filled and `<index>_quality` (−1 observed, n harmonics used, 0 unfilled)."""
    assert rc.gapfill is not None
    out = xr.Dataset(attrs={**comp.attrs, "gapfill_method": rc.gapfill.method})
    for name in _variables(rc):
        filled = gapfill.fill(comp[name], method=rc.gapfill.method, **rc.gapfill.params)
        out[name] = filled["filled"]
        out[f"{name}_quality"] = filled["quality"]
    return out


def _composites(p: Plan) -> xr.Dataset:
    """Period composites of the plan's scenes: one fat task per tile × block of periods
    (`blocks`); a cross-sensor calibration, which fits over the whole cube, reads it lazily."""
    rc = p.recipe
    if rc.source.calibrate is not None:
        return _scene_composites(
            p, p.items, p.grid, rc.time.start, rc.time.end, chunk=rc.dask.chunk
        )
    spec = rc.composite
    reach = spec.window_days / 2 if spec.reducer in ("weighted", "bap") else 0
    res = abs(p.grid.resolution.x)
    # read around each tile as far as a pixel's result reaches: dilation, s2cloudless's
    # averaging disk, and (below) the syntheses' distance to clouds
    halo = math.ceil(rc.mask.dilate_m / res) + 1
    cp = rc.mask.cloud_probability
    if cp is not None:
        halo += cp.average_over
    if spec.reducer in ("weighted", "bap"):  # weights by the distance to clouds, up to a cap
        fn = (
            synthesis.weighted_synthesis
            if spec.reducer == "weighted"
            else synthesis.best_available_pixel
        )
        name = "cloud_distance_max_m" if spec.reducer == "weighted" else "cloud_distance_req_m"
        halo += math.ceil(inspect.signature(fn).parameters[name].default / res) + 1
    table = composite.periods(rc.time.start, rc.time.end, spec.period)
    cut = blocks.layout(
        p.grid,
        scenes=len(p.items) + len(p.cloud_items),
        periods=len(table),
        bands=len(p.bands) + (len(mask.CLOUD_PROBABILITY_BANDS) if p.cloud_items else 0),
        per_year=composite.PERIODS_PER_YEAR[spec.period],
        max_side=rc.dask.chunk,  # the recipe's spatial chunk caps the tile
    )

    def build(items: Any, grid: Any, start: dt.date, end: dt.date) -> xr.Dataset:
        return _scene_composites(p, items, grid, start, end, chunk=None)

    return blocks.by_tiles(
        build,
        items=p.items,
        grid=p.grid,
        table=table,
        layout=cut,
        halo=halo,
        reach_days=reach,
        lon=p.grid.geographic_extent.centroid.coords[0][0],
    )


def _scene_composites(
    p: Plan,
    items: Any,
    grid: Any,
    start: dt.date,
    end: dt.date,
    *,
    chunk: int | None,
) -> xr.Dataset:
    """Scenes `items` on `grid` → masked indices → the composites of the periods from `start`
    to `end` (lazy with a `chunk`; with None, read and computed now, numpy-backed)."""
    rc = p.recipe
    colls = rc.source.collections
    per = {c: sensors.bands_for(c, rc.indices) for c in colls}
    one = colls[0] if len(colls) == 1 else None  # a single collection applies to every item
    scenes = cube.load(items, per, grid=grid, collection=one, chunk=chunk)
    ok = mask.valid(
        scenes,
        scl_classes=rc.mask.sentinel2_scl,
        dilate_m=rc.mask.dilate_m,
        qa_flags=rc.mask.qa_flags,
    )
    cp = rc.mask.cloud_probability
    days = {it.datetime.date() for it in items if it.datetime is not None}
    pairs = [it for it in p.cloud_items if it.datetime is not None and it.datetime.date() in days]
    if cp is not None and pairs:  # s2cloudless on the L1C scene of the same solar day
        l1c = cube.load(
            pairs, list(mask.CLOUD_PROBABILITY_BANDS), grid=grid,
            collection=cp.collection, chunk=chunk,
        )  # fmt: skip
        prob = mask.cloud_probability(l1c, average_over=cp.average_over, dilation_size=0)
        ok = ok & ~mask.probable_clouds(
            scenes, prob, threshold=cp.threshold, dilate_m=rc.mask.dilate_m
        )
    ok = ok & aoi_mod.inside(scenes, p.geometry)  # outside the AOI polygon: NaN
    idx = cube.compute_indices(mask.apply(scenes, ok), rc.indices)
    cal, extra = rc.source.calibrate, {}
    if cal is not None:  # the fits travel in the composites' attrs (→ composites.zarr, run.json)
        idx, fits = calibrate.harmonise(
            idx, reference=cal.reference, indices=rc.indices, max_days=cal.max_days,
            method=cal.method, apply_fit=cal.apply,
        )  # fmt: skip
        extra["calibration"] = calibrate.to_attrs(fits)
    spec, qa = rc.composite, sensors.for_collection(colls[0]).QA_BAND
    if spec.reducer == "weighted":
        return synthesis.weighted_synthesis(
            idx, scl=scenes[qa], period=spec.period, start=start, end=end,
            window_days=spec.window_days, sensor_weights=spec.sensor_weights,
        ).assign_attrs(extra)  # fmt: skip
    if spec.reducer == "bap":
        bap = synthesis.best_available_pixel(
            idx, scl=scenes[qa], period=spec.period, start=start, end=end,
            window_days=spec.window_days, sensor_scores=spec.sensor_weights,
        )  # fmt: skip
        # every composite carries `<index>_count`: for BAP, the candidates it chose from
        return bap.assign({f"{i}_count": bap["bap_count"] for i in rc.indices}).assign_attrs(extra)
    out = composite.composite(idx, period=spec.period, reducer=spec.reducer, start=start, end=end)
    return out.assign_attrs(extra)


def _lst_composites(p: Plan) -> xr.Dataset:
    """Period means of land-surface temperature (K) from the `lst` source, on the grid."""
    rc, spec = p.recipe, p.recipe.lst
    assert spec is not None
    qa = list(sensors.for_collection(spec.collection).QA_BANDS)
    scenes = cube.load(
        p.lst_items, [spec.band, *qa], grid=p.grid, collection=spec.collection,
        chunk=rc.dask.chunk,
    )  # fmt: skip
    ok = mask.valid(scenes, dilate_m=rc.mask.dilate_m, qa_flags=rc.mask.qa_flags, bands=[spec.band])
    ok = ok & aoi_mod.inside(scenes, p.geometry)
    lst = scenes[spec.band].where(ok)
    lst.attrs = {"long_name": "land surface temperature", "units": "K"}
    ds = xr.Dataset({"lst": lst})
    return composite.composite(
        ds, period=rc.composite.period, reducer="mean", start=rc.time.start, end=rc.time.end
    )


def _variables(rc: Recipe) -> list[str]:
    """The series the reference and indicators are computed for: indices, and lst if given."""
    return [*rc.indices, *(["lst"] if rc.lst is not None else [])]


def _extra_formats(
    rc: Recipe,
    result: RunResult,
    products: dict[str, xr.Dataset],
    *,
    since: Any = None,
    state: State | None = None,
) -> None:
    """NetCDF copies (rewritten whole) and COGs (in an update: the periods from `since`)."""
    out = result.out
    if "netcdf" in rc.output.formats:
        with _unit(state, "netcdf"):
            for name, ds in products.items():
                result.outputs[f"{name}_netcdf"] = export.write_netcdf(ds, out / f"{name}.nc")
    if "cog" in rc.output.formats:
        t = time.perf_counter()
        cog_vars = list(rc.indices) + [f"{i}_{k}" for i in rc.indices for k in rc.indicators]
        cog_vars += ["lst_tci"] if "tci" in rc.indicators else []
        parts = [ds[[v for v in cog_vars if v in ds]] for ds in products.values()]
        merged = xr.merge(parts, compat="override", join="exact")
        if since is not None:
            merged = merged.sel(time=merged.time >= since)
        names = [v for v in cog_vars if v in merged]
        with _unit(state, "cog"):
            export.write_cogs(merged, out / "cog", names, overwrite=since is not None)
        result.outputs["cog"] = out / "cog" / "catalog.json"
        result.timings["cog"] = round(time.perf_counter() - t, 3)


def _run_meta(rc: Recipe, p: Plan) -> dict[str, Any]:
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
        "pid": os.getpid(),  # `vegcube status` tells a killed run from a running one
        "items": [it.id for it in p.items],
        # DN → value rule per collection and band, and the contradictions in item metadata
        "values": p.value_rules,
        # the same acquisition in several collections: the id left out → the id used
        "duplicates": p.duplicates,
        **({"lst": {"without_band": p.lst_without_band}} if rc.lst is not None else {}),
    }
