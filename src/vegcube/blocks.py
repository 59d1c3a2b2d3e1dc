"""Scenes → composites as few, fat tasks: one task per spatial tile × block of periods.

A task reads the tile's window of every scene of its periods (plus a halo so that clouds
grown by the mask's dilation cross tile edges as they do on the whole grid), masks, computes
the indices and reduces them: the same step functions as a lazy cube, run on numpy in one
pass. The dask graph then holds tiles × blocks tasks instead of several per scene, so a small
area is a handful of tasks and a territory streams through bounded memory. The tile side
follows from a memory budget and the scenes per block; a block is at most a year of periods
(the Zarr writer's block), so each task is computed once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as darr
import numpy as np
import pandas as pd
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from . import catalog
from .errors import DataError

__all__ = [
    "Layout",
    "Tile",
    "as_slice",
    "assemble",
    "by_tiles",
    "chunks_like",
    "layout",
    "map_chunks",
    "phase",
    "tiles",
]

#: a task's working memory (bytes) the tile side is chosen for
BUDGET = 256 * 2**20
#: bytes per pixel and scene a task holds per band read: the DN read, float32 values, masks,
#: indices, the reducer's copies (~16 measured on the wide shape since the DN → value step
#: works in place; kept on the safe side)
_BYTES_PER_BAND = 28

#: (items, grid, first period start, last period end) → that block's composites, computed
Build = Callable[[Sequence[pystac.Item], GeoBox, dt.date, dt.date], xr.Dataset]


@dataclass(frozen=True)
class Layout:
    """How the work is cut: tile side in pixels and periods per block."""

    side: int
    steps: int


@dataclass(frozen=True)
class Tile:
    """A tile of the grid: where it sits (`rows`, `cols`) and the grid it is read on (with
    its halo, clipped to the grid), and where the tile lies inside that read grid."""

    rows: slice
    cols: slice
    read: GeoBox
    inner: tuple[slice, slice]


def layout(
    grid: GeoBox,
    *,
    scenes: int,
    periods: int,
    bands: int,
    per_year: int,
    max_side: int = 1024,
    budget: int = BUDGET,
) -> Layout:
    """Tile side and periods per block for `scenes` over `periods` periods of `bands` bands.

    Every scene is read once per tile (each read has a cost of its own), so tiles are as
    large as allowed (`max_side`, the grid) and the block of periods shrinks to fit the
    `budget`: down to one period; only then does the tile shrink (a multiple of 64 px). A
    block is at most a year of periods (`per_year`, the Zarr writer's block).
    """
    per_period = max(1.0, scenes / max(1, periods)) * 1.5  # revisits are uneven
    side = min(max_side, max(grid.shape.y, grid.shape.x))
    fits = budget / (side * side * max(1, bands) * _BYTES_PER_BAND * per_period)
    steps = max(1, min(per_year, periods, int(fits)))
    if fits < 1:  # one period of scenes on the largest tile is too much: smaller tiles
        side = int(math.sqrt(budget / (per_period * max(1, bands) * _BYTES_PER_BAND)))
        side = max(64, side // 64 * 64)
    return Layout(side=side, steps=steps)


def tiles(
    grid: GeoBox, side: int, *, halo: int = 0, phase: tuple[int, int] = (0, 0)
) -> list[list[Tile]]:
    """The grid cut into `side` × `side` tiles (rows of tiles), each read with `halo` pixels
    around it where the grid goes on (never beyond the grid's own edge).

    With a `phase` (rows, columns: where `phase` puts them), the first cut along a dimension
    cut in several tiles falls there and the next ones `side` apart; a first tile narrower
    than a quarter of `side` joins the next one (a tile is then up to 1.25 `side`)."""
    ny, nx = grid.shape.y, grid.shape.x
    rows, cols = _edges(ny, side, phase[0]), _edges(nx, side, phase[1])
    out = []
    for y0, y1 in itertools.pairwise(rows):
        row = []
        for x0, x1 in itertools.pairwise(cols):
            ry0, rx0 = max(0, y0 - halo), max(0, x0 - halo)
            ry1, rx1 = min(ny, y1 + halo), min(nx, x1 + halo)
            inner = (slice(y0 - ry0, y1 - ry0), slice(x0 - rx0, x1 - rx0))
            row.append(Tile(slice(y0, y1), slice(x0, x1), grid[ry0:ry1, rx0:rx1], inner))
        out.append(row)
    return out


def _edges(n: int, side: int, first: int) -> list[int]:
    """Tile edges along a dimension of `n` pixels: cuts `side` apart from `first`."""
    if n <= side:
        return [0, n]
    cuts = list(range(first % side or side, n, side))
    if cuts and cuts[0] < side // 4:  # a sliver: joined to the next tile
        cuts = cuts[1:]
    return [0, *cuts, n]


def phase(grid: GeoBox, items: Sequence[pystac.Item], side: int) -> tuple[int, int]:
    """Where tiles of `side` px are best cut (rows, columns: `tiles`' `phase`): on multiples
    of `side` counted from the origin of the scenes' own pixel grid, when their assets
    declare one (``proj:`` fields) in the grid's CRS at its pixel size, a whole number of
    pixels away (the most common among `items`); (0, 0) otherwise.

    A COG is decoded by its internal tiles (256, 512 or 1024 px, which divide a 1,024 px
    side): a task window off their grid by a few pixels decodes every tile it touches along
    its edges, and its neighbour decodes them again (on a 2,000 px grid, 25 of a scene's 512 px
    tiles where 16 hold it)."""
    a, epsg = grid.affine, grid.crs.epsg if grid.crs is not None else None
    if epsg is None:  # a CRS without an EPSG code (sinusoidal): not compared, no phase
        return (0, 0)
    votes: Counter[tuple[int, int]] = Counter()
    for it in items:
        for asset in it.assets.values():
            g = catalog.asset_grid(it, asset)
            if g is None or (g[1].a, g[1].b, g[1].d, g[1].e) != (a.a, a.b, a.d, a.e):
                continue
            col, row = (a.c - g[1].c) / a.a, (a.f - g[1].f) / a.e
            if max(abs(col - round(col)), abs(row - round(row))) > 1e-6:
                continue
            if g[0].to_epsg() != epsg:
                continue
            votes[-round(row) % side, -round(col) % side] += 1
            break
    return votes.most_common(1)[0][0] if votes else (0, 0)


def by_tiles(
    build: Build,
    *,
    items: Sequence[pystac.Item],
    grid: GeoBox,
    table: pd.DataFrame,
    layout: Layout,
    halo: int = 0,
    reach_days: float = 0,
    lon: float = 0.0,
) -> xr.Dataset:
    """Composites of the periods of `table` (columns start, end, period_of_year) on `grid`,
    as a dask-backed dataset of one task per tile × block of `layout.steps` periods, the
    tiles cut on the scenes' own pixel grid (`phase`).

    `build` computes one block from the items whose local solar day (at longitude `lon`) lies
    in the block's periods ± `reach_days` (a synthesis window reaching beyond its period).
    The first period holding scenes is computed now on a small corner of the grid (it gives
    the variables and their types).
    """
    cut = tiles(grid, layout.side, halo=halo, phase=phase(grid, items, layout.side))
    days = np.array([catalog.scene_day(it, lon) for it in items], dtype="datetime64[D]")
    blocks = [table.iloc[i : i + layout.steps] for i in range(0, len(table), layout.steps)]
    # ± a day more: a scene outside its block's periods is read but not used
    reach = np.timedelta64(math.ceil(reach_days) + 1, "D")

    def members(first: pd.Timestamp, last: pd.Timestamp) -> list[pystac.Item]:
        lo = np.datetime64(first.date(), "D") - reach
        hi = np.datetime64(last.date(), "D") + reach
        return [it for it, d in zip(items, days, strict=True) if lo <= d <= hi]

    chosen = [members(b["start"].iloc[0], b["end"].iloc[-1]) for b in blocks]

    def task(its: list[pystac.Item], bi: int, iy: int, ix: int) -> dict[str, np.ndarray]:
        block, tile = blocks[bi], cut[iy][ix]
        start, end = block["start"].iloc[0].date(), block["end"].iloc[-1].date()
        ds = build(its, tile.read, start, end).isel(y=tile.inner[0], x=tile.inner[1])
        return {str(k): np.asarray(v.values) for k, v in ds.data_vars.items()}

    # the first period holding scenes, on a small corner of the grid, tells the variables,
    # their types and attributes at the cost of a few small reads
    first = next((i for i in range(len(table)) if members(*table.iloc[i][["start", "end"]])), None)
    if first is None:
        raise DataError("no scene falls in any period of the run: nothing to composite")
    start, end = table["start"].iloc[first], table["end"].iloc[first]
    corner = cut[0][0].read[: min(16, grid.shape.y), : min(16, grid.shape.x)]
    probe = build(members(start, end), corner, start.date(), end.date())
    names = [str(v) for v in probe.data_vars]
    run = uuid.uuid4().hex
    # a block's items are one node of the graph, named (dask would otherwise hash, i.e.
    # pickle, every item) and given to its tiles' tasks: on a cluster they travel once to
    # a worker, where a task that held them itself (or the whole plan) was pickled and
    # read again for every task (~50 ms a task for 335 items)
    shared = [
        dask.delayed(its, name=f"vegcube-items-{run}-{bi}", traverse=False)
        for bi, its in enumerate(chosen)
    ]
    cells = [
        [
            [
                (
                    dask.delayed(task, pure=False)(
                        shared[bi],
                        bi,
                        iy,
                        ix,
                        dask_key_name=f"vegcube-composites-{run}-{bi}-{iy}-{ix}",
                    )
                    if its
                    else None,  # no scene in the block: the fill value
                    (len(block), t.rows.stop - t.rows.start, t.cols.stop - t.cols.start),
                )
                for ix, t in enumerate(row)
            ]
            for iy, row in enumerate(cut)
        ]
        for bi, (block, its) in enumerate(zip(blocks, chosen, strict=True))
    ]
    parts = assemble(cells, {n: probe[n].dtype for n in names})
    coords = {
        "time": table["start"].values,
        # named latitude/longitude on a geographic grid: the cube's y and x (`cube.load`)
        "y": grid.coords[grid.dimensions[0]].values,
        "x": grid.coords[grid.dimensions[1]].values,
    }
    out = xr.Dataset(
        {n: (("time", "y", "x"), parts[n], probe[n].attrs) for n in names},
        coords=coords,
        attrs=probe.attrs,
    )
    out = out.assign_coords(
        period_end=("time", table["end"].values),
        period_of_year=("time", table["period_of_year"].values),
    )
    for name in ("y", "x"):
        out[name].attrs = probe[name].attrs
    if "spatial_ref" in probe.coords:
        out = out.assign_coords(spatial_ref=probe.spatial_ref)
    return out


def _small_coords_loaded(obj: xr.Dataset) -> xr.Dataset:
    """`obj` with its dask-backed coordinates of one dimension read into memory."""
    lazy = {k: v for k, v in obj.coords.items() if v.chunks is not None and v.ndim <= 1}
    return obj.assign_coords({k: v.load() for k, v in lazy.items()}) if lazy else obj


def as_slice(index: np.ndarray) -> slice | np.ndarray:
    """A run of consecutive positions as a slice (cut without copying), else the positions."""
    if len(index) and (np.diff(index) == 1).all():
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def _cut(obj: xr.Dataset, sel: dict[str, Any]) -> xr.Dataset:
    """`obj.isel(sel)`, lazily; a dask variable whose cut is exactly one of its chunks takes
    that chunk as is, so a task depends on the stored chunks only (no slicing tasks between)."""
    out = obj.isel(sel)
    for name, var in obj.data_vars.items():
        data = var.data
        if not isinstance(data, darr.Array):
            continue
        index = []
        for dim, chunks in zip(var.dims, data.chunks, strict=True):
            edges = [0, *np.cumsum(chunks).tolist()]
            cut = sel.get(str(dim), slice(None))
            if not isinstance(cut, slice):
                break
            start, stop, step = cut.indices(edges[-1])
            if step != 1 or start not in edges or stop not in edges:
                break
            k = edges.index(start)
            if edges[k + 1] != stop:
                break
            index.append(k)
        else:
            out[name] = xr.Variable(var.dims, data.blocks[tuple(index)], var.attrs, var.encoding)
    return out


def assemble(
    cells: Sequence[Sequence[Sequence[tuple[Any, tuple[int, ...]]]]],
    dtypes: dict[str, np.dtype[Any]],
) -> dict[str, darr.Array]:
    """One dask array per variable from a 3-D grid of tasks: `cells[i][j][k]` is (a delayed
    mapping variable → numpy block, or None for a block of fill values; the block's shape)."""
    return {
        name: darr.block(
            [
                [
                    [
                        darr.from_delayed(out[name], shape, dtype=dtype)
                        if out is not None
                        else darr.full(shape, _fill(dtype), dtype=dtype)
                        for out, shape in row
                    ]
                    for row in plane
                ]
                for plane in cells
            ]
        )
        for name, dtype in dtypes.items()
    }


def _fill(dtype: np.dtype[Any]) -> Any:
    if np.issubdtype(dtype, np.floating):
        return np.nan
    if np.issubdtype(dtype, np.datetime64):
        return np.datetime64("NaT")
    return 0


def map_chunks(
    fn: Callable[..., xr.Dataset],
    ds: xr.Dataset,
    *others: xr.Dataset,
    lookback: int = 0,
) -> xr.Dataset:
    """`fn(block, *others_block)` per chunk of `ds` (time, y, x), as one task each.

    `ds`'s chunks are the blocks (a stage's Zarr chunks: periods × a spatial tile); each
    `others` dataset (no time dimension, e.g. a reference) is cut to the block's tile and,
    along `period_of_year`, to the block's periods of the year. `fn` is a step function
    returning (time, y, x) variables; it runs on numpy inside the task. With `lookback`, a
    block also holds up to that many periods before it (for rules over consecutive
    periods); `fn`'s results for them are dropped. The result has `ds`'s time coordinates
    and chunks. A small corner of the first chunk is computed now (it gives the variables
    and their types).
    """
    cubes = [v for v in ds.data_vars.values() if v.chunks and set(v.dims) == {"time", "y", "x"}]
    if not cubes:
        return fn(ds, *others)
    plan = _Plan(ds, others, lookback)
    ds, others = plan.ds, plan.others
    probe = plan.probe(fn)
    names = [str(v) for v in probe.data_vars]
    run = uuid.uuid4().hex
    tc, yc, xc = plan.chunks

    def task(block: xr.Dataset, *rest: xr.Dataset, extra: int = 0) -> dict[str, np.ndarray]:
        out = fn(block, *rest)  # `extra` look-back steps at its head, not the block's own
        return {str(k): np.asarray(v.values)[extra:] for k, v in out.data_vars.items()}

    cells = [
        [
            [
                (
                    dask.delayed(task, pure=False)(
                        plan.part(ds, iy, ix, it),
                        *(plan.part(o, iy, ix, it) for o in others),
                        extra=int(plan.edges[0][it]) - plan.first(it),
                        dask_key_name=f"vegcube-{fn.__name__}-{run}-{it}-{iy}-{ix}",
                    ),
                    (nt, ny, nx),
                )
                for ix, nx in enumerate(xc)
            ]
            for iy, ny in enumerate(yc)
        ]
        for it, nt in enumerate(tc)
    ]
    return _result(ds, probe, assemble(cells, {n: probe[n].dtype for n in names}))


def chunks_like(
    fn: Callable[..., xr.Dataset],
    ds: xr.Dataset,
    *like: xr.Dataset,
    lookback: int = 0,
) -> xr.Dataset:
    """What `map_chunks(fn, ds, *others, lookback=lookback)` gives (variables, types,
    attributes, encodings, coordinates, chunks), its values zeros: the layout of a store
    whose chunks other tasks write. `like` stand in for `others` (the same variables, types
    and attributes; cheap to compute: a small corner of them is, for the probe)."""
    plan = _Plan(ds, like, lookback)
    probe = plan.probe(fn)
    shape = tuple(sum(c) for c in plan.chunks)
    return _result(
        plan.ds,
        probe,
        {
            str(n): darr.zeros(shape, chunks=plan.chunks, dtype=v.dtype)
            for n, v in probe.data_vars.items()
        },
    )


class _Plan:
    """How `map_chunks` cuts `ds` (time, y, x) and `others` into blocks."""

    def __init__(self, ds: xr.Dataset, others: Sequence[xr.Dataset], lookback: int) -> None:
        cubes = [v for v in ds.data_vars.values() if v.chunks and set(v.dims) == {"time", "y", "x"}]
        sizes = dict(zip(cubes[0].dims, cubes[0].chunks, strict=True))  # type: ignore[arg-type]
        self.chunks = tuple(tuple(sizes[d]) for d in ("time", "y", "x"))
        self.edges = [np.cumsum((0, *c)) for c in self.chunks]
        self.lookback = lookback
        self.poy = (
            np.asarray(ds["period_of_year"].values) if "period_of_year" in ds.coords else None
        )
        # small coordinates (period ends, flags) read once, not once per task
        self.ds = _small_coords_loaded(ds)
        self.others = tuple(_small_coords_loaded(o) for o in others)

    def first(self, it: int) -> int:
        """The block's first time step, its look-back included."""
        return max(0, int(self.edges[0][it]) - self.lookback)

    def part(self, obj: xr.Dataset, iy: int, ix: int, it: int) -> xr.Dataset:
        edges = self.edges
        sel: dict[str, Any] = {
            "y": slice(edges[1][iy], edges[1][iy + 1]),
            "x": slice(edges[2][ix], edges[2][ix + 1]),
        }
        if "time" in obj.dims:
            sel["time"] = slice(self.first(it), edges[0][it + 1])
        elif self.poy is not None and "period_of_year" in obj.dims:  # only the block's periods
            wanted = obj.indexes["period_of_year"].get_indexer(
                np.unique(self.poy[self.first(it) : edges[0][it + 1]])
            )
            sel["period_of_year"] = as_slice(wanted)
        return _cut(obj, sel)

    def probe(self, fn: Callable[..., xr.Dataset]) -> xr.Dataset:
        """`fn` on a small corner of the first chunk: the variables, types and attributes."""
        corner = {"y": slice(0, 16), "x": slice(0, 16)}
        return fn(
            self.part(self.ds, 0, 0, 0).isel({"time": slice(0, 1), **corner}).compute(),
            *(self.part(o, 0, 0, 0).isel(corner).compute() for o in self.others),
        )


def _result(ds: xr.Dataset, probe: xr.Dataset, arrays: dict[str, Any]) -> xr.Dataset:
    """`map_chunks`'s dataset: `arrays` as `probe`'s variables, `ds`'s time coordinates."""
    names = [str(v) for v in probe.data_vars]
    data = {n: (("time", "y", "x"), arrays[n], probe[n].attrs) for n in names}
    coords = {k: v for k, v in ds.coords.items() if k in probe.coords or "time" in v.dims}
    out = xr.Dataset(data, coords=coords, attrs=probe.attrs)
    for n in names:
        out[n].encoding = probe[n].encoding
    return out
