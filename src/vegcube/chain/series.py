"""The series after the composites: gap filling, the reference and the indicators against it
(computed afresh: one task per tile × group of periods of the year writes both; in an
update: one task per stored chunk against the stored reference, `blocks.map_chunks`), months
from dekads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import blocks, composite, export, reference
from .. import gapfill as gapfill_mod
from .. import indicators as indicators_mod
from ..export.zarr import Ahead, _uniform_chunks, cores, write_region
from ..recipe import Recipe
from .context import Window

__all__ = ["first_change", "gapfill", "indicators", "monthly", "variables"]


def gapfill(comp: xr.Dataset, rc: Recipe) -> xr.Dataset:
    """`<index>` filled and `<index>_quality` (−1 observed, −2 observation replaced as
    one-date cloud residue, n > 0 filled (harmonics used, or 1), 0 unfilled)."""
    assert rc.gapfill is not None
    out = xr.Dataset(attrs={**comp.attrs, "gapfill_method": rc.gapfill.method})
    for name in variables(rc):
        da = comp[name]
        filled = gapfill_mod.fill(_spread(da), method=rc.gapfill.method, **rc.gapfill.params)
        back = dict(zip(da.dims, da.chunks, strict=True)) if da.chunks else {}
        out[name] = filled["filled"].chunk(back) if back else filled["filled"]
        out[f"{name}_quality"] = filled["quality"].chunk(back) if back else filled["quality"]
    return out


def _spread(da: xr.DataArray) -> xr.DataArray:
    """`da` cut into at least as many spatial chunks as there are cores (in rows), so that
    a small area fills on every core; an area of many chunks is left as it is."""
    if not da.chunks:
        return da
    sizes = dict(zip(da.dims, da.chunks, strict=True))
    have = len(sizes["y"]) * len(sizes["x"])
    n = cores()
    if have >= n:
        return da
    rows = -(-da.sizes["y"] // -(-n // len(sizes["x"])))
    return da.chunk({"y": max(rows, 16)})


def first_change(
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


def indicators(
    rc: Recipe,
    series: xr.Dataset,
    stage: Callable[..., xr.Dataset],
    *,
    window: Window,
    folder: Path,
    prefix: str = "",
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The reference (computed, or kept in an update) and the indicators against it.

    Computed afresh (`window.fresh`), both come from one task per spatial tile × group of
    periods of the year (`_fused`): it computes the group's reference from the tile's series
    and the indicators of the periods starting in the group, and writes both into their
    stores; the reference is never read back. The reference stage's time then holds both;
    the indicators stage moves its store into place. In an update, or when the reference
    was kept from an earlier attempt, the indicators are computed per stored chunk against
    the stored reference (`blocks.map_chunks`)."""
    spec = rc.reference
    assert spec is not None
    lst = "lst" if rc.lst is not None else None
    # a continuity series' noise per sensor era (small: eras × y × x), computed now in a run
    # and stored beside the reference; an update finds it there
    eras = (
        indicators_mod.era_noises(series, variables(rc), lst=lst).compute()
        if window.fresh
        else xr.Dataset()
    )

    def indicators_of(block: xr.Dataset, reference: xr.Dataset) -> xr.Dataset:
        missing = [v for v in eras.data_vars if v not in reference]
        if missing:  # the block's tile of each era's noise
            reference = reference.assign(eras[missing].sel(y=block["y"], x=block["x"]))
        return indicators_mod.compute(
            block,
            reference,
            variables=rc.indices,
            indicators=rc.indicators,
            min_years=spec.min_years,
            thresholds=rc.drought_classes.model_dump(),
            lst=lst,
            alpha=rc.lst.alpha if rc.lst is not None else 0.5,
        )

    def plain_of(
        values: dict[str, np.ndarray], refs: dict[str, dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray] | None:
        """`indicators_of`'s values from numpy arrays (`indicators.plain`): values and each
        step's reference per variable; None where it takes the Datasets' way."""
        if lst is not None:
            return None
        out: dict[str, np.ndarray] = {}
        for name in rc.indices:
            got = indicators_mod.plain(
                values[name], refs[name], name=name, indicators=rc.indicators,
                min_years=spec.min_years,
            )  # fmt: skip
            if got is None:
                return None
            out.update(got)
        return out

    # the periods before a block that the persistence rule looks back on
    back = rc.drought_classes.persistence - 1 if "drought_class" in rc.indicators else 0
    fresh = window.fresh
    if fresh:

        def of_series(layout: bool = False) -> xr.Dataset:
            return reference.compute(
                series,
                start=spec.start,
                end=spec.end,
                variables=variables(rc),
                pool=spec.pool,
                layout=layout,
            )

        def with_eras(ref: xr.Dataset) -> xr.Dataset:
            """The stored reference with the eras' noise added to its store (read back)."""
            if not eras.data_vars:
                return ref
            path = folder / "reference.zarr"
            eras.to_zarr(path, mode="a", consolidated=True, zarr_format=2)
            return xr.open_zarr(path)

        fused = None
        if rc.indicators:  # the layout only: building the reference's own tasks takes time
            fused = _fused(
                rc, series, of_series(layout=True), indicators_of, back, folder, plain_of
            )
        if fused is None:
            ref = with_eras(stage(f"{prefix}reference", of_series(), whole=True))
        else:
            try:
                ref = with_eras(stage(f"{prefix}reference", fused.dataset("reference"), whole=True))
                if fused.ran:  # the indicators are written: their store is moved into place
                    ind = stage(f"{prefix}indicators", fused.dataset("indicators"), whole=True)
                    return ref, ind
            finally:
                fused.discard()
    else:
        ref = xr.open_zarr(folder / "reference.zarr")
    if not rc.indicators:
        return ref, None
    # one task per stored chunk (a year of periods × a tile), numpy inside; with the periods
    # before it that the persistence rule looks back on
    ind = blocks.map_chunks(indicators_of, series, ref, lookback=back)
    if not fresh:  # an update: only the new periods (the graph's other blocks are not run)
        ind = ind.sel(time=ind.time >= window.since)
    return ref, stage(f"{prefix}indicators", ind, whole=fresh)


def _fused(
    rc: Recipe,
    series: xr.Dataset,
    ref: xr.Dataset,
    fn: Callable[[xr.Dataset, xr.Dataset], xr.Dataset],
    lookback: int,
    folder: Path,
    plain: Callable[..., dict[str, np.ndarray] | None] | None = None,
) -> Ahead | None:
    """The reference `ref` (`reference.compute`'s lazy result: its layout) and the indicators
    `fn` gives against it, as stores written by one computation (`Ahead`): one
    task per spatial tile × group of periods of the year (`ref`'s chunks), which computes
    that group's reference from the tile's reference years (`reference.of_periods`, as
    `reference.compute`'s tasks do), writes it, and computes and writes the indicators of
    the series' chunks whose first period lies in the group (their other periods' reference,
    and that of the `lookback` periods before them, computed in the same task); and one task
    per tile for the noise (`reference.noise`), which the tile's indicator tasks take.
    A task holds the stored chunks it reads and its periods' reference, as a reference task
    of `reference.compute` does. None where this does not apply (a numpy-backed series, a
    reference of other variables, chunks a store would not keep as they are): the stages
    then run one after the other. `plain` (values, each step's reference → the indicators'
    arrays, or None) gives `fn`'s values without Datasets where it can."""
    names = variables(rc)
    marks = {n: reference.observed_name(series, n) for n in names}
    cubes = [*names, *(m for m in marks.values() if m)]
    expected = {f"{n}_{s}" for n in names for s in reference.STATS} | {f"{n}_noise" for n in names}
    if {str(v) for v in ref.data_vars} != expected or not all(
        series[v].chunks is not None and series[v].dims == ("time", "y", "x") for v in cubes
    ):
        return None
    chunks = {str(d): c for d, c in series[cubes].unify_chunks().chunks.items()}
    if any(series[v].chunks != tuple(chunks[d] for d in ("time", "y", "x")) for v in cubes):
        return None
    layout = blocks.chunks_like(fn, series, xr.ones_like(ref), lookback=lookback)
    # the chunks `write_zarr` stores: those the tasks write
    if _uniform_chunks(layout).chunks != layout.chunks or _uniform_chunks(ref).chunks != ref.chunks:
        return None
    if {str(d): c for d, c in layout.chunks.items()} != chunks:
        return None

    every = np.asarray(ref["period_of_year"].values)
    n = len(every)
    times = pd.DatetimeIndex(series.time.values)
    start, end = (pd.Timestamp(ref.attrs[f"reference_{k}"]) for k in ("start", "end"))
    inside = (times >= start) & (times <= end)
    at = np.searchsorted(every, np.asarray(series["period_of_year"].values))  # period index
    members = [np.flatnonzero(inside & (at == k)) for k in range(n)]
    steps = np.flatnonzero(inside).astype(int)
    tedges = np.cumsum((0, *chunks["time"]))
    yedges, xedges = (np.cumsum((0, *chunks[d])) for d in ("y", "x"))
    pedges = np.cumsum((0, *ref.chunks["period_of_year"]))
    groups = len(pedges) - 1
    pool = int(ref.attrs.get("pool", 0))
    frame = xr.Dataset(  # the series' coordinates, read once; a block's are cut from it
        coords={k: v.load() for k, v in series.coords.items() if set(v.dims) <= {"time", "y", "x"}},
        attrs=series.attrs,
    )
    attrs = {v: series[v].attrs for v in names}
    outputs = [str(v) for v in layout.data_vars]
    ref_attrs = dict(ref.attrs)
    arrays = {v: series[v].data for v in cubes}
    # the noise is only read by the significance of drought classes: without them, a task
    # does not wait for its tile's noise
    judged = "drought_class" in rc.indicators

    # the series' chunks, by the group of periods of the year their first period lies in
    assigned: list[list[tuple[int, int]]] = [[] for _ in range(groups)]
    for c in range(len(tedges) - 1):
        g = int(np.searchsorted(pedges, at[tedges[c]], side="right")) - 1
        assigned[g].append((int(tedges[c]), int(tedges[c + 1])))

    def span(g: int) -> range:
        """The periods of the year (consecutive, unwrapped) whose reference group `g`'s task
        needs: its own, those of its chunks and of the periods they look back on."""
        lo, hi = int(pedges[g]), int(pedges[g + 1])
        own = hi - lo
        for t0, t1 in assigned[g]:
            for t in range(max(0, t0 - lookback), t1):
                d = (int(at[t]) - int(pedges[g])) % n
                if d < own:
                    continue
                if t >= t0:  # after the group
                    hi = max(hi, int(pedges[g]) + d + 1)
                else:  # before it: looked back on
                    lo = min(lo, int(pedges[g]) + d - n)
        return range(0, n) if hi - lo >= n else range(lo, hi)

    def wanted(g: int) -> np.ndarray:
        """The time steps group `g`'s task reads: the reference years of its periods (± pool)
        and its chunks' steps with those they look back on."""
        need = span(g)
        years = [members[p % n] for p in range(need.start - pool, need.stop + pool)]
        ranges = [np.arange(max(0, t0 - lookback), t1) for t0, t1 in assigned[g]]
        want = np.unique(np.concatenate([np.zeros(0, int), *years, *ranges]).astype(int))
        return want if len(want) else np.zeros(1, int)  # nothing: a chunk's shape

    def held(want: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """The stored time chunks holding steps `want`, and where a step lies in their
        concatenation."""
        which = np.unique(np.searchsorted(tedges, want, side="right") - 1)
        base = np.cumsum((0, *(tedges[k + 1] - tedges[k] for k in which)))[:-1]

        def position(t: np.ndarray) -> np.ndarray:
            k = np.searchsorted(tedges, t, side="right") - 1
            return np.asarray(base[np.searchsorted(which, k)] + t - tedges[k], dtype=int)

        return which, position

    def region(iy: int, ix: int) -> dict[str, slice]:
        return {"y": slice(yedges[iy], yedges[iy + 1]), "x": slice(xedges[ix], xedges[ix + 1])}

    def noise_task(
        parts: dict[str, list[np.ndarray]], iy: int, ix: int, store: Path
    ) -> dict[str, np.ndarray] | None:
        out = reference.noise_of(parts, names, marks, held(steps)[1](steps))
        write_region(store, region(iy, ix), {f"{v}_noise": a for v, a in out.items()})
        return out if judged else None  # the tile's tasks take it, or no one does

    def task(
        parts: dict[str, list[np.ndarray]],
        noise: dict[str, np.ndarray] | None,
        g: int,
        iy: int,
        ix: int,
        stores: dict[str, Path],
    ) -> None:
        need, position = span(g), held(wanted(g))[1]
        local = [np.zeros(0, int)] * n  # the periods' reference steps, in `parts`
        for p in range(need.start - pool, need.stop + pool):
            local[p % n] = position(members[p % n])
        # in pieces of a group's size (the memory the reference's tasks are sized for);
        # unpooled, a period's statistics need no more than its own years: at once
        size = int(pedges[g + 1] - pedges[g]) if pool else len(need)
        pieces = [range(p, min(p + size, need.stop)) for p in range(need.start, need.stop, size)]
        stats: dict[str, dict[str, np.ndarray]] = {}
        for v in names:  # the stored chunks' steps are read in place (not concatenated)
            done = [reference.of_periods(parts[v], local, piece, pool) for piece in pieces]
            stats[v] = {s: _joined([d[s] for d in done]) for s in reference.STATS}
        own = slice(int(pedges[g]) - need.start, int(pedges[g + 1]) - need.start)
        write_region(
            stores["reference"],
            {"period_of_year": slice(pedges[g], pedges[g + 1]), **region(iy, ix)},
            {f"{v}_{s}": a[own] for v in names for s, a in stats[v].items()},
        )
        tile = frame.isel(region(iy, ix))
        for t0, t1 in assigned[g]:
            first = max(0, t0 - lookback)
            block = tile.isel(time=slice(first, t1))
            idx = position(np.arange(first, t1))
            values = {v: _steps(parts[v], idx) for v in names}
            if plain is not None:  # each step's reference: its period's
                rows = blocks.as_slice((at[first:t1] - need.start) % n)
                got = plain(values, {v: {s: a[rows] for s, a in stats[v].items()} for v in names})
                if got is not None and set(outputs) <= set(got):
                    write_region(
                        stores["indicators"],
                        {"time": slice(t0, t1), **region(iy, ix)},
                        {v: got[v][t0 - first :] for v in outputs},
                    )
                    continue
            block = block.assign({v: (("time", "y", "x"), values[v], attrs[v]) for v in names})
            periods = np.unique(at[first:t1])
            pos = blocks.as_slice((periods - need.start) % n)
            against = xr.Dataset(
                {
                    **{
                        f"{v}_{s}": (("period_of_year", "y", "x"), a[pos])
                        for v in names
                        for s, a in stats[v].items()
                    },
                    **{f"{v}_noise": (("y", "x"), noise[v]) for v in names if noise},
                },
                coords={"period_of_year": every[periods], "y": block["y"], "x": block["x"]},
                attrs=ref_attrs,
            )
            out = fn(block, against).transpose("time", "y", "x")
            write_region(
                stores["indicators"],
                {"time": slice(t0, t1), **region(iy, ix)},
                {v: np.asarray(out[v].values)[t0 - first :] for v in outputs},
            )

    def run(stores: dict[str, Path]) -> None:
        import dask

        def parts(want: np.ndarray, iy: int, ix: int, of: list[str]) -> dict[str, list[Any]]:
            return {v: [arrays[v].blocks[k, iy, ix] for k in held(want)[0]] for v in of}

        tiles = [(iy, ix) for iy in range(len(yedges) - 1) for ix in range(len(xedges) - 1)]
        noises = {
            (iy, ix): dask.delayed(noise_task, pure=False)(
                parts(steps, iy, ix, cubes), iy, ix, stores["reference"]
            )
            for iy, ix in tiles
        }
        # what is computed: the tasks, which return nothing (a noise a tile's tasks take is
        # computed for them, and let go when they are done)
        todo = [] if judged else list(noises.values())
        for g in range(groups):
            want = wanted(g)
            todo += [
                dask.delayed(task, pure=False)(
                    parts(want, iy, ix, names),
                    noises[iy, ix] if judged else None,
                    g,
                    iy,
                    ix,
                    stores,
                )
                for iy, ix in tiles
            ]
        dask.compute(*todo)

    return Ahead(
        {
            "reference": (ref, folder / ".reference.zarr.ahead"),
            "indicators": (layout, folder / ".indicators.zarr.ahead"),
        },
        run,
    )


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    """`arrays` concatenated along their first axis (the one itself if alone: no copy)."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _steps(chunks: list[np.ndarray], positions: np.ndarray) -> np.ndarray:
    """The time steps at `positions` of the concatenation of `chunks`: a view of one chunk
    where they are consecutive steps of it, else a copy."""
    bounds = np.cumsum([0, *(len(c) for c in chunks)])
    c = int(np.searchsorted(bounds, positions[0], side="right")) - 1 if len(positions) else 0
    steps = blocks.as_slice(positions - bounds[c])
    if isinstance(steps, slice) and steps.stop <= len(chunks[c]):
        return chunks[c][steps]
    step = reference.steps_of(chunks)
    return np.stack([step(int(t)) for t in positions]) if len(positions) else chunks[0][:0]


def monthly(
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

    stage("monthly composites", composite.to_monthly(comp, variables=variables(rc)))
    monthly = composite.to_monthly(series, variables=variables(rc))
    if rc.reference is not None:
        by_month = Window(month, window.rebuild_reference)
        indicators(rc, monthly, stage, window=by_month, folder=folder, prefix="monthly ")


def variables(rc: Recipe) -> list[str]:
    """The series the reference and indicators are computed for: indices, and lst if given."""
    return [*rc.indices, *(["lst"] if rc.lst is not None else [])]
