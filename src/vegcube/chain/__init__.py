"""The chain: the stages of a run, in order, each a small function of a `Context`.

`execute` runs them for a `Plan` over a `Window`: the whole series (`vegcube run`), or the
periods from a date on, keeping or rebuilding the reference (`vegcube update`). Each stage
persists what it computes (Zarr, read back by the next, so dask graphs stay small and a
stage is computed once), records its units of work in the journal, and times itself:

composites → gap-filled series → reference → indicators → monthly → NetCDF/COG → zonal
statistics → alerts → report.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from .. import alerts, calibrate, catalog, report, zonal
from ..catalog.storage import gdal_http_options
from ..errors import SourceError
from ..journal import RunResult
from ..planning import Plan
from ..state import State
from . import outputs, scenes, series
from .context import Context, Window

__all__ = ["STAGES", "Context", "Window", "environment", "execute"]


# --------------------------------------------------------------------------- the stages


def composites_stage(ctx: Context) -> None:
    """Scenes → period composites (and land-surface temperature), provisional periods marked."""
    p, rc = ctx.plan, ctx.recipe
    fits = offsets = None
    switches = [rc.source.calibrate, rc.lst.calibrate if rc.lst is not None else None]
    if ctx.window.since is not None and any(c is not None and c.switch for c in switches):
        # an update's new scenes may all be after the switch: keep the history's fits
        fits = calibrate.from_store(ctx.out / "composites.zarr") or None
        offsets = outputs.read_offsets(ctx.out)
    comp, fitted = scenes.composites(p, fits=fits, offsets=offsets)
    if rc.lst is not None:
        lst, lst_fitted = scenes.lst_composites(p, fits=fits, offsets=offsets)
        fitted = [*fitted, *lst_fitted]
        both = calibrate.from_attrs(comp.attrs) + calibrate.from_attrs(lst.attrs)
        comp = comp.merge(lst.drop_vars(["period_end", "period_of_year"]), compat="override")
        if both:  # the fits of the indices and of the temperature, in one list
            comp.attrs["calibration"] = json.dumps(both)
    if fits is None and any(f.offsets is not None for f in fitted):
        ctx.result.outputs["calibration"] = outputs.write_offsets(fitted, comp, ctx.out)
    comp = ctx.store("composites", scenes.provisional(comp, p))
    ctx.products["composites"] = ctx.series = comp


def gapfill_stage(ctx: Context) -> None:
    """The filled series (the fill of new periods uses the whole series, as a run's does;
    new data also revise the last periods before them, rewritten too in an update)."""
    rc = ctx.recipe
    if rc.gapfill is None:
        return
    filled = series.gapfill(ctx.products["composites"], rc)
    window = ctx.window
    if window.since is not None and not window.rebuild_reference:
        since = series.first_change(
            filled, ctx.out / "gapfilled.zarr", window.since, series.variables(rc)
        )
        ctx.window = Window(since, window.rebuild_reference)
    whole = window.rebuild_reference and window.since is not None
    ctx.products["gapfilled"] = ctx.series = ctx.store(
        "gapfilled", filled, whole=whole, at_once=True
    )


def reference_stage(ctx: Context) -> None:
    """The reference and the indicators against it."""
    if ctx.recipe.reference is None:
        return
    assert ctx.series is not None
    ref, ind = series.indicators(
        ctx.recipe, ctx.series, ctx.store, window=ctx.window, folder=ctx.out
    )
    ctx.reference = ref
    if ind is not None:
        ctx.products["indicators"] = ind


def monthly_stage(ctx: Context) -> None:
    """OUT/monthly/: months from the dekads, their reference and indicators."""
    if not ctx.recipe.composite.monthly:
        return
    assert ctx.series is not None
    series.monthly(ctx.recipe, ctx.out, ctx.products["composites"], ctx.series, ctx.window, ctx.say)


def formats_stage(ctx: Context) -> None:
    """NetCDF copies and COGs of the products."""
    since = None if ctx.window.rebuild_reference else ctx.window.since
    outputs.formats(ctx, since=since)


def zonal_stage(ctx: Context) -> None:
    """Per-region time series (OUT/zonal.parquet, .csv)."""
    regions = ctx.plan.regions
    if regions is None:
        return
    since = None if ctx.window.rebuild_reference else ctx.window.since
    done, files = ctx.result.outputs, (ctx.out / "zonal.parquet", ctx.out / "zonal.csv")
    if ctx.kept("zonal", *files):
        done["zonal"], done["zonal_csv"] = files
        ctx.zonal = pd.read_parquet(files[0])
        return
    with ctx.timed("zonal"):
        ctx.zonal = outputs.zonal_table(ctx.products, regions, ctx.out, since=since)
        done["zonal"], done["zonal_csv"] = zonal.write(ctx.zonal, ctx.out)


def alerts_stage(ctx: Context) -> None:
    """The recipe's alert rules on the per-region series (OUT/alerts.parquet, .csv, .geojson);
    an update says which alerts it raised and which ended."""
    rc, regions = ctx.recipe, ctx.plan.regions
    if not rc.alerts or regions is None or ctx.zonal is None:
        return
    keys = ("alerts", "alerts_csv", "alerts_geojson")
    files = tuple(ctx.out / f"alerts.{ext}" for ext in ("parquet", "csv", "geojson"))
    if ctx.kept("alerts", *files):
        ctx.result.outputs.update(zip(keys, files, strict=True))
        ctx.alerts = pd.read_parquet(files[0])
        return
    update = ctx.window.since is not None
    before = pd.read_parquet(files[0]) if update and files[0].exists() else None
    with ctx.timed("alerts"):
        events = alerts.evaluate(ctx.zonal, rc.alerts)
        written = alerts.write(events, regions, ctx.out)
    ctx.result.outputs.update(zip(keys, written, strict=True))
    ctx.alerts = events
    on = events[events["ongoing"].astype(bool)]
    ctx.say(f"alerts: {len(on)} ongoing ({', '.join(sorted(set(on['region']))) or 'none'})")
    if update:
        ctx.result.alert_changes = found = alerts.changes(before, events)
        for a in found["raised"]:
            ctx.say(f"alert raised: {a['rule']} in {a['region']} since {a['since']}")
        for a in found["ended"]:
            ctx.say(f"alert ended: {a['rule']} in {a['region']} (last period {a['last']})")


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
            series=ctx.products.get("gapfilled"), alerts=ctx.alerts,
        )  # fmt: skip


#: the chain, in order: each stage reads what the earlier ones left in the context
STAGES: tuple[Callable[[Context], None], ...] = (
    composites_stage,
    gapfill_stage,
    reference_stage,
    monthly_stage,
    formats_stage,
    zonal_stage,
    alerts_stage,
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


@contextlib.contextmanager
def environment(
    address: str | None, *, catalog_name: str | None = None, storage: dict[str, str] | None = None
) -> Iterator[None]:
    """Where the chain computes: dask's threads, or the cluster at `address`; GDAL's HTTP
    and object-storage settings (`storage`, the catalog's keys) on every worker."""
    from odc.stac import configure_rio

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

    from .._worker import RunSettings

    try:
        client = Client(address, timeout="5s")
    except OSError as exc:
        raise SourceError(f"dask.scheduler: cannot reach {address}: {exc}") from exc
    with client:
        configure_rio(cloud_defaults=True, **http)  # here: the plan's and the probes' reads
        client.register_plugin(RunSettings(http))  # and on every worker
        yield
