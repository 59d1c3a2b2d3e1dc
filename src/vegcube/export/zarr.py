"""Zarr stores (v2 layout, consolidated): written in blocks of time, resumable, appendable.

Every stage of the chain persists its result as `OUT/<stage>.zarr` through `write_zarr`; a
routine update writes its periods into the existing store with `append_zarr`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Protocol

import pandas as pd
import xarray as xr

from .atomic import atomic_path, remove
from .cf import cf_ready, clean_encoding

__all__ = ["Units", "append_zarr", "stores", "time_blocks", "write_zarr"]


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
    """
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
