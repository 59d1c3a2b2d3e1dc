"""The chain: the stages of a run, in order, each a small function of a `Context`.

`execute` runs them for a `Plan` over a `Window`: the whole series (`vegcube run`), or the
periods from a date on, keeping or rebuilding the reference (`vegcube update`). Each stage
persists what it computes (Zarr, read back by the next, so dask graphs stay small and a
stage is computed once), records its units of work in the journal, and times itself:

composites → gap-filled series → reference → indicators → monthly → NetCDF/COG → zonal
statistics → report.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
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
    indices,
    journal,
    mask,
    reference,
    report,
    sensors,
    zonal,
)
from .errors import SourceError
from .journal import RunResult
from .planning import Plan
from .recipe import Recipe
from .state import State

__all__ = ["STAGES", "Context", "Window", "environment", "execute"]


@dataclass(frozen=True)
class Window:
    """Which periods a run computes from scenes: all (`since` None: a run), or those from
    `since` on (an update, which writes them into the existing stores); and whether the
    reference and indicators are computed over the whole series (a run, or an update that
    rebuilds the reference) or the reference is kept."""

    since: pd.Timestamp | None = None
    rebuild_reference: bool = True

    @property
    def fresh(self) -> bool:
        """The reference (and every indicator) is computed anew."""
        return self.since is None or self.rebuild_reference


@dataclass
class Context:
    """What the stages share: the plan, the window, the journal, and the products so far."""

    plan: Plan
    window: Window
    result: RunResult
    say: Callable[[str], None]
    state: State | None = None
    #: Zarr products written so far (composites, gapfilled, indicators), read back lazily
    products: dict[str, xr.Dataset] = field(default_factory=dict)
    #: what the reference and indicators are computed from (composites, or the filled series)
    series: xr.Dataset | None = None
    reference: xr.Dataset | None = None
    zonal: pd.DataFrame | None = None

    @property
    def recipe(self) -> Recipe:
        return self.plan.recipe

    @property
    def out(self) -> Path:
        return self.result.out

    def store(self, name: str, ds: xr.Dataset, *, whole: bool = False) -> xr.Dataset:
        """Write `ds` as `OUT/<name>.zarr` (in an update, only the periods of the window,
        unless `whole`) and read it back; a store an earlier attempt finished is kept."""
        t = time.perf_counter()
        self.say(f"{name} …")
        path = self.out / f"{name}.zarr"
        state, since = self.state, self.window.since
        if state is not None and state.done(name) and path.exists():
            self.say(f"{name}: written by an earlier attempt, kept")
            self.result.outputs[name] = path
            return xr.open_zarr(path)
        if since is None or whole:
            units = state.stage(name) if state is not None else None
            self.result.outputs[name] = export.write_zarr(ds, path, units=units)
        else:  # an update: the window's periods written into the store in place
            if state is not None:
                state.set(name, "all", "running")
            self.result.outputs[name] = export.append_zarr(ds.sel(time=ds.time >= since), path)
        if state is not None:
            state.set(name, "all", "done")
        self.result.timings[name] = round(time.perf_counter() - t, 3)
        self.say(f"{name} written in {self.result.timings[name]:.1f} s")
        return xr.open_zarr(path)

    def kept(self, name: str, *paths: Path) -> bool:
        """An output an earlier attempt of this run finished (its unit done, its files
        there): kept, not written again; its paths are recorded as this run's outputs."""
        if self.state is None or not self.state.done(name) or not all(p.exists() for p in paths):
            return False
        self.say(f"{name}: written by an earlier attempt, kept")
        return True

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """An output written whole (NetCDF, COGs, tables, report): a unit of work, timed."""
        t = time.perf_counter()
        self.say(f"{name} …")
        with journal.unit(self.state, name):
            yield
        self.result.timings[name] = round(time.perf_counter() - t, 3)


# --------------------------------------------------------------------------- the stages


def composites_stage(ctx: Context) -> None:
    """Scenes → period composites (and land-surface temperature), provisional periods marked."""
    p, rc = ctx.plan, ctx.recipe
    comp = _composites(p)
    if rc.lst is not None:
        comp = comp.merge(
            _lst_composites(p).drop_vars(["period_end", "period_of_year"]), compat="override"
        )
    comp = ctx.store("composites", _provisional(comp, p))
    ctx.products["composites"] = ctx.series = comp


def gapfill_stage(ctx: Context) -> None:
    """The filled series (the fill of new periods uses the whole series, as a run's does;
    new data also revise the last periods before them, rewritten too in an update)."""
    rc = ctx.recipe
    if rc.gapfill is None:
        return
    filled = _gapfill(ctx.products["composites"], rc)
    window = ctx.window
    if window.since is not None and not window.rebuild_reference:
        since = _first_change(filled, ctx.out / "gapfilled.zarr", window.since, _variables(rc))
        ctx.window = Window(since, window.rebuild_reference)
    whole = window.rebuild_reference and window.since is not None
    ctx.products["gapfilled"] = ctx.series = ctx.store("gapfilled", filled, whole=whole)


def reference_stage(ctx: Context) -> None:
    """The reference and the indicators against it."""
    if ctx.recipe.reference is None:
        return
    assert ctx.series is not None
    ref, ind = _indicators(ctx.recipe, ctx.series, ctx.store, window=ctx.window, folder=ctx.out)
    ctx.reference = ref
    if ind is not None:
        ctx.products["indicators"] = ind


def monthly_stage(ctx: Context) -> None:
    """OUT/monthly/: months from the dekads, their reference and indicators."""
    if not ctx.recipe.composite.monthly:
        return
    assert ctx.series is not None
    _monthly(ctx.recipe, ctx.out, ctx.products["composites"], ctx.series, ctx.window, ctx.say)


def formats_stage(ctx: Context) -> None:
    """NetCDF copies and COGs of the products."""
    since = None if ctx.window.rebuild_reference else ctx.window.since
    _extra_formats(ctx, since=since)


def zonal_stage(ctx: Context) -> None:
    """Per-region time series (OUT/zonal.parquet, .csv)."""
    regions = ctx.plan.regions
    if regions is None:
        return
    since = None if ctx.window.rebuild_reference else ctx.window.since
    outputs, files = ctx.result.outputs, (ctx.out / "zonal.parquet", ctx.out / "zonal.csv")
    if ctx.kept("zonal", *files):
        outputs["zonal"], outputs["zonal_csv"] = files
        ctx.zonal = pd.read_parquet(files[0])
        return
    with ctx.timed("zonal"):
        ctx.zonal = _zonal(ctx.products, regions, ctx.out, since=since)
        outputs["zonal"], outputs["zonal_csv"] = zonal.write(ctx.zonal, ctx.out)


def report_stage(ctx: Context) -> None:
    """OUT/report/: maps and time series of the latest period, one HTML page."""
    rc = ctx.recipe
    if not rc.output.report or ctx.reference is None:  # the recipe ensures indicators
        return
    page = ctx.out / "report" / "index.html"
    if ctx.kept("report", page):
        ctx.result.outputs["report"] = page
        return
    with ctx.timed("report"):
        ctx.result.outputs["report"] = report.write(
            ctx.out, composites=ctx.products["composites"], reference=ctx.reference,
            indicators=ctx.products["indicators"], variable=rc.indices[0], zonal=ctx.zonal,
        )  # fmt: skip


#: the chain, in order: each stage reads what the earlier ones left in the context
STAGES: tuple[Callable[[Context], None], ...] = (
    composites_stage,
    gapfill_stage,
    reference_stage,
    monthly_stage,
    formats_stage,
    zonal_stage,
    report_stage,
)


def execute(
    p: Plan,
    result: RunResult,
    say: Callable[[str], None],
    *,
    window: Window = Window(),
    state: State | None = None,
) -> Context:
    """Run every stage of the chain for `p` over `window`; returns the final context."""
    ctx = Context(p, window, result, say, state)
    for stage in STAGES:
        stage(ctx)
    return ctx


# --------------------------------------------------------------------------- the steps


@contextlib.contextmanager
def environment(
    address: str | None, *, catalog_name: str | None = None, storage: dict[str, str] | None = None
) -> Iterator[None]:
    """Where the chain computes: dask's threads, or the cluster at `address`; GDAL's HTTP
    and object-storage settings (`storage`, the catalog's keys) on every worker."""
    from odc.stac import configure_rio

    from .download import gdal_http_options

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
    window: Window,
    folder: Path,
    prefix: str = "",
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The reference (computed, or kept in an update) and the indicators against it."""
    spec = rc.reference
    assert spec is not None
    fresh = window.fresh
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
        indicators_of, series if fresh else series.sel(time=series.time >= window.since), ref
    )
    return ref, stage(f"{prefix}indicators", ind, whole=fresh)


def _monthly(
    rc: Recipe,
    out: Path,
    comp: xr.Dataset,
    series: xr.Dataset,
    window: Window,
    say: Callable[[str], None],
) -> None:
    """OUT/monthly/: the months' composites (from the dekads), reference and indicators."""
    tail = window.since
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
        by_month = Window(month, window.rebuild_reference)
        _indicators(rc, monthly, stage, window=by_month, folder=folder, prefix="monthly ")


def _provisional(comp: xr.Dataset, p: Plan) -> xr.Dataset:
    """Mark the periods that later data may still change (`provisional` coordinate)."""
    lon = p.grid.geographic_extent.centroid.coords[0][0]
    last = max(it.datetime for it in p.items if it.datetime is not None)
    data_end = (last + dt.timedelta(hours=lon / 15)).date()  # local solar day
    spec = p.recipe.composite
    latency = composite.get(spec.reducer).reach_days(spec.params)
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
    reducer = composite.get(spec.reducer)
    reach = reducer.reach_days(spec.params)
    res = abs(p.grid.resolution.x)
    # read around each tile as far as a pixel's result reaches: dilation, s2cloudless's
    # averaging disk, and the reducer's own reach (the syntheses' distance to clouds)
    halo = math.ceil(rc.mask.dilate_m / res) + 1
    cp = rc.mask.cloud_probability
    if cp is not None:
        halo += cp.average_over
    if reducer.halo_m(spec.params):
        halo += math.ceil(reducer.halo_m(spec.params) / res) + 1
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
    idx = indices.per_scene(mask.apply(scenes, ok), rc.indices)
    cal, extra = rc.source.calibrate, {}
    if cal is not None:  # the fits travel in the composites' attrs (→ composites.zarr, run.json)
        idx, fits = calibrate.harmonise(
            idx, reference=cal.reference, indices=rc.indices, max_days=cal.max_days,
            method=cal.method, apply_fit=cal.apply,
        )  # fmt: skip
        extra["calibration"] = calibrate.to_attrs(fits)
    spec, qa = rc.composite, sensors.for_collection(colls[0]).qa_band
    reducer = composite.get(spec.reducer)
    out = reducer(
        idx, scl=scenes[qa] if reducer.needs_qa else None,
        period=spec.period, start=start, end=end, **spec.params,
    )  # fmt: skip
    return out.assign_attrs(extra)


def _lst_composites(p: Plan) -> xr.Dataset:
    """Period means of land-surface temperature (K) from the `lst` source, on the grid."""
    rc, spec = p.recipe, p.recipe.lst
    assert spec is not None
    qa = list(sensors.for_collection(spec.collection).qa_bands)
    scenes = cube.load(
        p.lst_items, [spec.band, *qa], grid=p.grid, collection=spec.collection,
        chunk=rc.dask.chunk,
    )  # fmt: skip
    ok = mask.valid(scenes, dilate_m=rc.mask.dilate_m, qa_flags=rc.mask.qa_flags, bands=[spec.band])
    ok = ok & aoi_mod.inside(scenes, p.geometry)
    lst = scenes[spec.band].where(ok)
    lst.attrs = {"long_name": "land surface temperature", "units": "K"}
    ds = xr.Dataset({"lst": lst})
    return composite.get("mean")(
        ds, period=rc.composite.period, start=rc.time.start, end=rc.time.end
    )


def _variables(rc: Recipe) -> list[str]:
    """The series the reference and indicators are computed for: indices, and lst if given."""
    return [*rc.indices, *(["lst"] if rc.lst is not None else [])]


def _extra_formats(ctx: Context, *, since: Any = None) -> None:
    """The formats of `export.WRITERS` the recipe names beyond the Zarr stores, in registry
    order: written whole, or (appending writers, in an update) the periods from `since`."""
    rc, products = ctx.recipe, ctx.products
    # the variables published per period (COGs): the indices and their indicators
    variables = list(rc.indices) + [f"{i}_{k}" for i in rc.indices for k in rc.indicators]
    variables += ["lst_tci"] if "tci" in rc.indicators else []
    for writer in export.WRITERS.values():
        if writer.write is None or writer.name not in rc.output.formats:
            continue
        files = writer.files(ctx.out, products)
        if not ctx.kept(writer.name, *files.values()):
            with ctx.timed(writer.name):
                writer.write(
                    products, ctx.out, variables=variables, since=since if writer.appends else None
                )
        ctx.result.outputs.update(files)
