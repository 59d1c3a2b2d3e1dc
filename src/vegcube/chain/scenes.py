"""Scenes → period composites: one fat task per tile × block of periods (`blocks`), the
scenes read (`cube`), masked (`mask`), turned into indices (`indices`) and reduced by the
recipe's reducer (`composite`); land-surface temperature; provisional periods."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from .. import aoi as aoi_mod
from .. import blocks, calibrate, catalog, composite, cube, indices, mask, sensors, speckle
from ..planning import Plan

__all__ = ["composites", "lst_composites", "provisional", "scene_composites"]


def provisional(comp: xr.Dataset, p: Plan) -> xr.Dataset:
    """Mark the periods that later data may still change (`provisional` coordinate)."""
    lon = aoi_mod.centre(p.grid)[0]
    data_end = max(catalog.scene_day(it, lon) for it in p.items)  # the last scene's day
    spec = p.recipe.composite
    latency = composite.get(spec.reducer).reach_days(spec.params)
    flag = composite.provisional(
        comp.period_end.values, data_end=data_end, latency_days=latency, today=dt.date.today()
    )
    comp = comp.assign_coords(provisional=("time", flag))
    comp.provisional.attrs = {"long_name": "period may still change (no data acquired after it)"}
    return comp


def composites(
    p: Plan,
    *,
    fits: list[dict[str, Any]] | None = None,
    offsets: Mapping[str, np.ndarray] | None = None,
) -> tuple[xr.Dataset, list[calibrate.Fit]]:
    """Period composites of the plan's scenes: one fat task per tile × block of periods
    (`blocks`); a cross-sensor calibration, which fits over the whole cube, reads it lazily
    (`fits`: the fits of an earlier run and their per-pixel `offsets`, applied instead of
    refitted). Also returns the calibration's fits (none without one)."""
    rc = p.recipe
    if rc.source.calibrate is not None:
        return scene_composites(
            p, p.items, p.grid, rc.time.start, rc.time.end, chunk=rc.dask.chunk, fits=fits,
            offsets=offsets,
        )  # fmt: skip
    spec = rc.composite
    reducer = composite.get(spec.reducer)
    reach = reducer.reach_days(spec.params)
    res = min(aoi_mod.ground_resolution(p.grid))  # metres per pixel (degrees too)
    # read around each tile as far as a pixel's result reaches: dilation, s2cloudless's
    # averaging disk, and the reducer's own reach (the syntheses' distance to clouds)
    halo = math.ceil(rc.mask.dilate_m / res) + 1 if rc.mask.dilate_m else 0
    cp = rc.mask.cloud_probability
    if cp is not None:
        halo += cp.average_over
    if reducer.halo_m(spec.params):
        halo += math.ceil(reducer.halo_m(spec.params) / res) + 1
    if rc.mask.speckle is not None:  # the speckle filter's window (radar)
        halo += speckle.halo(rc.mask.speckle.size)
    table = composite.periods(rc.time.start, rc.time.end, spec.period)
    cut = blocks.layout(
        p.grid,
        scenes=len(p.items) + len(p.cloud_items),
        periods=len(table),
        bands=len(p.bands) + (len(mask.CLOUD_PROBABILITY_BANDS) if p.cloud_items else 0),
        per_year=composite.PERIODS_PER_YEAR[spec.period],
        max_side=rc.dask.chunk,  # the recipe's spatial chunk caps the tile
    )

    # what a task needs of the plan: not its items (each task is given its block's), which
    # a cluster would otherwise pickle into every task
    slim = dataclasses.replace(p, items=[], lst_items=[], regions=None)

    def build(items: Any, grid: Any, start: dt.date, end: dt.date) -> xr.Dataset:
        return scene_composites(slim, items, grid, start, end, chunk=None)[0]

    return blocks.by_tiles(
        build,
        items=p.items,
        grid=p.grid,
        table=table,
        layout=cut,
        halo=halo,
        reach_days=reach,
        lon=aoi_mod.centre(p.grid)[0],
    ), []


def scene_composites(
    p: Plan,
    items: Any,
    grid: Any,
    start: dt.date,
    end: dt.date,
    *,
    chunk: int | None,
    fits: list[dict[str, Any]] | None = None,
    offsets: Mapping[str, np.ndarray] | None = None,
) -> tuple[xr.Dataset, list[calibrate.Fit]]:
    """Scenes `items` on `grid` → masked indices → the composites of the periods from `start`
    to `end` (lazy with a `chunk`; with None, read and computed now, numpy-backed), and the
    calibration's fits.

    With a calibration `switch` (sensor continuity), the series takes the reference's scenes
    before it and the others' from it, and gets a ``sensor`` coordinate per period."""
    rc = p.recipe
    colls = rc.source.collections
    per = {c: indices.bands_for(c, rc.indices) for c in colls}
    one = colls[0] if len(colls) == 1 else None  # a single collection applies to every item
    scenes = cube.load(items, per, grid=grid, collection=one, chunk=chunk)
    sp = rc.mask.speckle
    if sp is not None:  # radar: each scene filtered in linear power, before any mask
        scenes = speckle.apply(
            scenes, bands=sensors.sentinel1.POLARISATIONS, method=sp.filter, size=sp.size,
            looks=sp.looks,
        )  # fmt: skip
    ok = mask.valid(
        scenes,
        scl_classes=rc.mask.sentinel2_scl,
        dilate_m=rc.mask.dilate_m,
        qa_flags=rc.mask.qa_flags,
    )
    cp = rc.mask.cloud_probability
    lon = aoi_mod.centre(grid)[0]
    days = {catalog.scene_day(it, lon) for it in items}
    pairs = [it for it in p.cloud_items if catalog.scene_day(it, lon) in days]
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
    fitted: list[calibrate.Fit] = []
    if cal is not None:  # the fits travel in the composites' attrs (→ composites.zarr, run.json)
        idx, fitted = calibrate.harmonise(
            idx, reference=cal.reference, indices=rc.indices, max_days=cal.max_days,
            method=cal.method, apply_fit=cal.apply, per_pixel=cal.per_pixel, known=fits,
            offsets=offsets,
        )  # fmt: skip
        extra["calibration"] = calibrate.to_attrs(fitted)
        if cal.switch is not None:
            idx = calibrate.continuity(idx, reference=cal.reference, switch=cal.switch)
    spec, qa = rc.composite, sensors.for_collection(colls[0]).qa_band
    reducer = composite.get(spec.reducer)
    if reducer.needs_qa and cal is not None and cal.switch is not None:
        scenes = calibrate.continuity(scenes[[qa]], reference=cal.reference, switch=cal.switch)
    out = reducer(
        idx, scl=scenes[qa] if reducer.needs_qa else None,
        period=spec.period, start=start, end=end, **spec.params,
    )  # fmt: skip
    out = indices.finish(out, rc.indices)  # radar: dB of the linear composites
    if cal is not None and cal.switch is not None:
        out = out.assign_coords(sensor=("time", calibrate.period_sensors(idx, out)))
        out["sensor"].attrs = {"long_name": "sensors of the period's scenes (continuity series)"}
    return out.assign_attrs(extra), fitted


def lst_composites(
    p: Plan,
    *,
    fits: list[dict[str, Any]] | None = None,
    offsets: Mapping[str, np.ndarray] | None = None,
) -> tuple[xr.Dataset, list[calibrate.Fit]]:
    """Period means of land-surface temperature (K) from the `lst` source, on the grid.

    Each band is masked by its own QA band (MOD11A2/MOD21A2 night LST: QC_Night) with the
    recipe's flags for that sensor; a multi-day composite (MODIS 8-day) counts in the period
    holding its start day, as odc-stac dates it (MOD13Q1 likewise). Several collections make
    one series through `lst.calibrate` (fitted in K, or `fits` and `offsets` of an earlier
    run); with a `switch`, the composites get an ``lst_sensor`` coordinate per period. Also
    returns the calibration's fits."""
    rc, spec = p.recipe, p.recipe.lst
    assert spec is not None
    colls = spec.collections
    parts = []
    for coll in colls:
        items = [it for it in p.lst_items if len(colls) == 1 or it.collection_id == coll]
        band = spec.band_of(coll)
        qa = sensors.for_collection(coll).qa_for(band)
        scenes = cube.load(
            items, [band, qa] if qa else [band], grid=p.grid, collection=coll,
            chunk=rc.dask.chunk,
        )  # fmt: skip
        ok = mask.valid(
            scenes, dilate_m=rc.mask.dilate_m, qa_flags=rc.mask.qa_flags, qa_band=qa or None,
            bands=[band],
        )  # fmt: skip
        ok = ok & aoi_mod.inside(scenes, p.geometry)
        keep = [c for c in ("solar_day", "sensor", "spatial_ref") if c in scenes.coords]
        lst = (
            scenes[band]
            .where(ok)
            .reset_coords(drop=True)
            .assign_coords({c: scenes[c] for c in keep})
        )
        parts.append(lst.rename("lst"))
    lst = parts[0] if len(parts) == 1 else xr.concat(parts, "time", coords="minimal")
    if len(parts) > 1:
        lst = lst.isel(time=np.argsort(lst.time.values, kind="stable"))
    lst.attrs = {"long_name": "land surface temperature", "units": "K"}
    ds = xr.Dataset({"lst": lst})
    cal, extra = spec.calibrate, {}
    fitted: list[calibrate.Fit] = []
    if cal is not None:
        known = [f for f in fits or [] if f.get("index") == "lst"] or None
        ds, fitted = calibrate.harmonise(
            ds, reference=cal.reference, indices=["lst"], max_days=cal.max_days,
            method=cal.method, apply_fit=cal.apply, per_pixel=cal.per_pixel, known=known,
            offsets=offsets,
        )  # fmt: skip
        extra["calibration"] = calibrate.to_attrs(fitted)
        if cal.switch is not None:
            ds = calibrate.continuity(ds, reference=cal.reference, switch=cal.switch)
    out = composite.get("mean")(
        ds, period=rc.composite.period, start=rc.time.start, end=rc.time.end
    )
    if cal is not None and cal.switch is not None:
        out = out.assign_coords(lst_sensor=("time", calibrate.period_sensors(ds, out)))
        out["lst_sensor"].attrs = {"long_name": "sensors of the period's LST scenes"}
    return out.assign_attrs(extra), fitted
