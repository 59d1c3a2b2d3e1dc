"""Zarr stores (v2 layout, consolidated): written in blocks of time, resumable, appendable.

Every stage of the chain persists its result as `OUT/<stage>.zarr` through `write_zarr`; a
routine update writes its periods into the existing store with `append_zarr`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import xarray as xr

from .atomic import atomic_path, remove
from .cf import cf_ready, clean_encoding

__all__ = [
    "Ahead",
    "Units",
    "append_zarr",
    "stores",
    "time_blocks",
    "write_region",
    "write_zarr",
]

#: the key of a dataset's encoding naming the `Ahead` computation its store comes from
_AHEAD = "vegcube_ahead"


class Units(Protocol):
    """Where a resumable write records its finished blocks (`state.Stage`)."""

    def plan(self, units: list[str]) -> None: ...
    def done(self, unit: str = "all") -> bool: ...
    def start(self, unit: str = "all") -> None: ...
    def finish(self, unit: str = "all") -> None: ...
    def reset(self) -> None: ...


def write_zarr(
    ds: xr.Dataset,
    path: Path,
    *,
    block_bytes: int = 128 * 2**20,
    block_steps: int = 36,
    units: Units | None = None,
) -> Path:
    """Write `ds` as a consolidated Zarr (v2 layout, readable by GDAL and every xarray).

    A lazy dataset with a `time` dimension is computed and written in blocks of whole time
    chunks of about `block_bytes` (at most `block_steps` steps, a year of dekads), so memory
    stays bounded however long the series grows. With `units`, each block is a unit of
    work: blocks are written into `.<name>.partial` and recorded, a rerun after a crash
    skips the recorded ones, and the store is renamed into place when all are written.

    A dataset of an `Ahead` computation (`Ahead.dataset`) is not written block by block:
    its store is written whole by that computation (run now if it has not run) and moved
    into place.
    """
    mark = ds.encoding.get(_AHEAD)
    if isinstance(mark, tuple) and isinstance(mark[0], Ahead):
        return mark[0].place(mark[1], Path(path), units)
    ds = _uniform_chunks(clean_encoding(cf_ready(ds)))
    if units is not None:
        return _write_zarr_resumable(ds, Path(path), units, block_bytes, block_steps)
    with atomic_path(Path(path)) as tmp:
        blocks = time_blocks(ds, block_bytes, block_steps)
        if len(blocks) <= 1:
            ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
            return Path(path)
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2, compute=False)
        _write_blocks(ds, tmp, [(b, str(b)) for b in blocks])
    return Path(path)


def cores() -> int:
    """Threads that run tasks: the dask cluster's if a client is active, else this machine's."""
    try:
        from distributed import get_client

        return max(1, sum(get_client().nthreads().values()))
    except (ImportError, ValueError):
        import dask

        # the threaded scheduler's pool: dask's `num_workers` (DASK_NUM_WORKERS) or the cores
        return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)


def _write_blocks(
    ds: xr.Dataset,
    store: Path,
    blocks: list[tuple[slice, str]],
    *,
    start: Callable[[str], None] = lambda name: None,
    finish: Callable[[str], None] = lambda name: None,
) -> None:
    """Each time block of `ds` into its region of `store` (initialised, `compute=False`).

    Consecutive blocks are computed together, as many as there are cores without a spatial
    chunk each (a small area is one chunk per block), never more than cores (memory). If a
    group fails, its blocks are written again one by one, so those that can be are kept
    and recorded (`finish`) before the failure is raised."""
    chunks = ds.chunks if ds.chunks else {}
    spatial = len(chunks.get("y", (1,))) * len(chunks.get("x", (1,)))
    n = cores()
    at_once = max(1, min(n, -(-n // spatial)))
    data = ds.drop_vars([k for k, v in ds.variables.items() if "time" not in v.dims])

    def write(region: slice) -> None:
        data.isel(time=region).to_zarr(store, region={"time": region}, zarr_format=2)

    groups: list[list[tuple[slice, str]]] = []
    for block, name in blocks:
        last = groups[-1] if groups else None
        if last and len(last) < at_once and last[-1][0].stop == block.start:
            last.append((block, name))
        else:
            groups.append([(block, name)])
    for group in groups:
        for _, name in group:
            start(name)
        try:
            write(slice(group[0][0].start, group[-1][0].stop))
        except Exception:
            if len(group) == 1:
                raise
            for block, name in group:  # the good blocks kept; a bad one raises here
                write(block)
                finish(name)
        else:
            for _, name in group:
                finish(name)


def append_zarr(ds: xr.Dataset, path: Path, *, block_bytes: int = 128 * 2**20) -> Path:
    """Write the time steps of `ds` into the existing store at `path` (routine updates).

    Time steps the store already has are overwritten in place, later ones appended; the
    store must hold every time step before the first of `ds` (a tail rewrite, never a hole).
    Data is computed and written in blocks of about `block_bytes`; variables without a time
    dimension are left as they are. Rerunning with the same `ds` gives the same store.
    """
    path = Path(path)
    have = pd.DatetimeIndex(xr.open_zarr(path, consolidated=True).time.values)
    new = pd.DatetimeIndex(ds.time.values)
    if len(new) == 0:
        return path
    if new[0] > have[-1] and len(have) and _gap(have, new[0]):
        raise ValueError(f"{path}: {new[0].date()} does not follow the store's last time step")
    at = int(have.searchsorted(new[0]))
    if not (have[at:] == new[: len(have) - at]).all():
        raise ValueError(f"{path}: the time steps from {new[0].date()} differ from the store's")
    ds = _uniform_chunks(clean_encoding(cf_ready(ds)))
    ds = ds.drop_vars([name for name, v in ds.variables.items() if "time" not in v.dims])
    overlap = len(have) - at
    for block in time_blocks(ds, block_bytes) if ds.chunks else [slice(0, ds.sizes["time"])]:
        for lo, hi in (
            (block.start, min(block.stop, overlap)),
            (max(block.start, overlap), block.stop),
        ):
            if lo >= hi:
                continue
            part = ds.isel(time=slice(lo, hi)).load()
            if lo < overlap:
                part.to_zarr(path, region={"time": slice(at + lo, at + hi)}, zarr_format=2)
            else:
                part.to_zarr(path, append_dim="time", zarr_format=2)
    import zarr

    zarr.consolidate_metadata(str(path))
    return path


def stores(out: Path, products: Collection[str]) -> dict[str, Path]:
    """`OUT/<product>.zarr` for each product (the chain's stages write them)."""
    return {name: Path(out) / f"{name}.zarr" for name in products}


def time_blocks(ds: xr.Dataset, block_bytes: int, block_steps: int = 36) -> list[slice]:
    """Slices of whole time chunks, each about `block_bytes` of output, ≤ `block_steps`."""
    if "time" not in ds.dims or not ds.chunks or "time" not in ds.chunks:
        return [slice(0, ds.sizes.get("time", 0))]
    step_bytes = sum(
        v.nbytes // ds.sizes["time"] for v in ds.data_vars.values() if "time" in v.dims
    )
    chunk = ds.chunks["time"][0]
    per = max(1, min(block_bytes // max(1, step_bytes * chunk), block_steps // chunk)) * chunk
    n = ds.sizes["time"]
    return [slice(i, min(n, i + per)) for i in range(0, n, per)]


def _uniform_chunks(ds: xr.Dataset) -> xr.Dataset:
    """Zarr needs equal chunks along a dimension (but the last): rechunk where they are not."""
    if not any(v.chunks for v in ds.variables.values()):
        return ds
    ds = ds.unify_chunks()
    fix = {
        dim: max(sizes)
        for dim, sizes in ds.chunks.items()
        if len(set(sizes[:-1])) > 1 or (len(sizes) > 1 and sizes[-1] > sizes[0])
    }
    return ds.chunk(fix) if fix else ds


def _gap(have: pd.DatetimeIndex, first: pd.Timestamp) -> bool:
    """True if `first` leaves a hole after the last step (more than one step's spacing)."""
    step = have[-1] - have[-2] if len(have) > 1 else pd.Timedelta(days=31)
    return bool(first - have[-1] > step + pd.Timedelta(days=3))


def _write_zarr_resumable(
    ds: xr.Dataset, path: Path, units: Units, block_bytes: int, block_steps: int
) -> Path:
    partial = path.with_name(f".{path.name}.partial")
    if "time" not in ds.dims:  # one unit: the store is written whole
        with atomic_path(path) as tmp:
            ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
        return path
    blocks = time_blocks(ds, block_bytes, block_steps)
    names = [f"time {b.start}-{b.stop}" for b in blocks]
    if not (units.done("init") and partial.exists()):
        units.reset()
        remove(partial)
        units.plan(["init", *names])
        units.start("init")
        ds.to_zarr(partial, mode="w", consolidated=True, zarr_format=2, compute=False)
        units.finish("init")
    todo = [(b, n) for b, n in zip(blocks, names, strict=True) if not units.done(n)]
    _write_blocks(ds, partial, todo, start=units.start, finish=units.finish)
    if path.exists():
        remove(path)
    os.replace(partial, path)
    return path


@dataclass(eq=False)
class Ahead:
    """Zarr stores written by one computation whose tasks write their own regions (fused
    tasks, e.g. a tile's reference and its indicators), each then moved into place by its
    own stage's `write_zarr` (journal, outputs and timings as for any store).

    `layouts` maps each store's name to the dataset it will hold (lazy: variables, chunks,
    attributes, encodings, coordinates; never computed) and the hidden folder it is written
    in first; `run` computes every region. The first `write_zarr` of one of their datasets
    (`dataset`) lays the stores out (as `write_zarr` would lay them out), calls `run` and
    moves its own store into place; the next ones move theirs. A stage that never writes
    (kept from an earlier attempt) leaves `ran` False: its caller computes the others the
    usual way, and `discard` removes what is left.
    """

    layouts: dict[str, tuple[xr.Dataset, Path]]
    run: Callable[[dict[str, Path]], None]
    ran: bool = False
    placed: set[str] = field(default_factory=set)

    def dataset(self, name: str) -> xr.Dataset:
        """The dataset to stage as store `name`: its layout before the run, the store read
        back after; `write_zarr` of it writes (or moves) the store."""
        layout, folder = self.layouts[name]
        ds = layout.copy() if not self.ran else xr.open_zarr(folder, consolidated=True)
        ds.encoding[_AHEAD] = (self, name)
        return ds

    def place(self, name: str, path: Path, units: Units | None = None) -> Path:
        """Run the computation if it has not run, then move store `name` to `path`."""
        if not self.ran:
            folders = {}
            for store, (layout, folder) in self.layouts.items():
                remove(folder)
                _uniform_chunks(clean_encoding(cf_ready(layout))).to_zarr(
                    folder, mode="w", consolidated=True, zarr_format=2, compute=False
                )
                folders[store] = folder
            self.run(folders)
            self.ran = True
        if units is not None:  # a store moved whole: no block of an earlier attempt is kept
            units.reset()
            remove(path.with_name(f".{path.name}.partial"))
        with atomic_path(path) as tmp:
            os.replace(self.layouts[name][1], tmp)
        self.placed.add(name)
        return path

    def discard(self) -> None:
        """Remove the stores not moved into place."""
        for name, (_, folder) in self.layouts.items():
            if name not in self.placed:
                remove(folder)


def write_region(store: Path, region: Mapping[str, slice], data: Mapping[str, np.ndarray]) -> None:
    """Write `data` (variable → values) into `region` (dimension → slice; whole along a
    dimension not named) of the variables of `store`, a Zarr (v2 layout) laid out by
    `Ahead` or xarray. Values are stored as they are: in the variable's stored type and
    dimension order, with no CF encoding to apply (NaN or integer fill values, no scale or
    offset) — what xarray's region write stores for them, without its per-call cost.
    Regions of concurrent writers must not share a chunk."""
    meta = Path(store) / ".zgroup"
    st = meta.stat()  # the store as laid out now: a store made again has another key
    arrays = _arrays(str(store), st.st_ino, st.st_mtime_ns)
    for name, values in data.items():
        target, dims = arrays[name]
        coded = {"scale_factor", "add_offset", "calendar"} & set(target.attrs)
        if values.dtype != target.dtype or values.ndim != len(dims) or coded:
            raise TypeError(f"{name}: {values.dtype} values cannot be stored as they are")
        target[tuple(region.get(d, slice(None)) for d in dims)] = values


@lru_cache(maxsize=16)
def _arrays(store: str, inode: int, mtime_ns: int) -> dict[str, tuple[Any, list[str]]]:
    """The arrays of `store` with their dimensions, opened once for all of a run's region
    writes (opening the group and an array reads their metadata: ~1.6 s of a wide run)."""
    import zarr

    group = zarr.open_group(store, mode="r+", zarr_format=2, use_consolidated=False)
    out = {}
    for name, target in group.arrays():
        dims = [str(d) for d in target.attrs["_ARRAY_DIMENSIONS"]]  # type: ignore[union-attr]
        out[str(name)] = (target, dims)
    return out
