"""Outputs: Zarr and CF-NetCDF with a rioxarray-readable `spatial_ref`, COGs + a STAC catalog.

Everything is written under a temporary name and renamed into place, so a crash never
leaves a half-written output under the final name.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import dask
import numpy as np
import pandas as pd
import pystac
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from odc.geo import xr as _odc_xr  # noqa: F401  (registers the .odc accessor)

__all__ = [
    "append_zarr",
    "atomic_path",
    "cf_ready",
    "write_cogs",
    "write_json",
    "write_netcdf",
    "write_zarr",
]


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success it replaces `final` (file or folder)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):  # left by a killed run
        _remove(stale)
    tmp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
    except BaseException:
        _remove_settled(tmp)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        _remove(old)


def _remove_settled(path: Path, *, quiet_s: float = 0.2, limit_s: float = 5.0) -> None:
    """Remove `path` until it stays gone: dask tasks already running when another failed
    may still write chunks into it for a moment after the error surfaced."""
    deadline, gone_since = time.monotonic() + limit_s, None
    while time.monotonic() < deadline:
        if path.exists():
            _remove(path)
            gone_since = None
        elif gone_since is None:
            gone_since = time.monotonic()
        elif time.monotonic() - gone_since >= quiet_s:
            return
        time.sleep(0.02)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def cf_ready(ds: xr.Dataset) -> xr.Dataset:
    """CF grid mapping on every variable and CF attributes on x/y (via rioxarray)."""
    crs = ds.odc.crs if "spatial_ref" in ds.coords else ds.rio.crs
    if crs is None:
        return ds
    ds = ds.rio.write_crs(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    ds = ds.rio.write_coordinate_system()
    ds.attrs.setdefault("Conventions", "CF-1.8")
    return ds


_KEPT_ENCODING = ("_FillValue", "grid_mapping", "dtype")


def _clean_encoding(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    for var in ds.variables.values():  # drop chunking/compressor hints of the source store
        kept = {k: v for k, v in var.encoding.items() if k in _KEPT_ENCODING}
        if var.dtype.kind == "M" or "_FillValue" not in kept:
            kept.pop("dtype", None)  # keep a storage dtype only for CF-masked integers
        var.encoding = kept
    for name in ds.data_vars:
        # name spatial_ref among the coordinates too: then a plain open_zarr/open_dataset
        # keeps it a coordinate (CRS found by rioxarray) while `grid_mapping` serves CF and GDAL
        dims = set(ds[name].dims)
        coords = [str(c) for c in ds.coords if c not in ds.dims and set(ds[c].dims) <= dims]
        if coords:
            ds[name].encoding["coordinates"] = " ".join(coords)
    return ds


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
    ds = _uniform_chunks(_clean_encoding(cf_ready(ds)))
    if units is not None:
        return _write_zarr_resumable(ds, Path(path), units, block_bytes, block_steps)
    with atomic_path(Path(path)) as tmp:
        blocks = _time_blocks(ds, block_bytes, block_steps)
        if len(blocks) <= 1:
            ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
            return Path(path)
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2, compute=False)
        timeless = [name for name, v in ds.variables.items() if "time" not in v.dims]
        for block in blocks:
            part = ds.isel(time=block).drop_vars(timeless)
            part.to_zarr(tmp, region={"time": block}, zarr_format=2)
    return Path(path)


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
    ds = _uniform_chunks(_clean_encoding(cf_ready(ds)))
    ds = ds.drop_vars([name for name, v in ds.variables.items() if "time" not in v.dims])
    overlap = len(have) - at
    for block in _time_blocks(ds, block_bytes) if ds.chunks else [slice(0, ds.sizes["time"])]:
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
    blocks = _time_blocks(ds, block_bytes, block_steps)
    names = [f"time {b.start}-{b.stop}" for b in blocks]
    if not (units.done("init") and partial.exists()):
        units.reset()
        _remove(partial)
        units.plan(["init", *names])
        units.start("init")
        ds.to_zarr(partial, mode="w", consolidated=True, zarr_format=2, compute=False)
        units.finish("init")
    timeless = [name for name, v in ds.variables.items() if "time" not in v.dims]
    for block, name in zip(blocks, names, strict=True):
        if units.done(name):
            continue
        units.start(name)
        ds.isel(time=block).drop_vars(timeless).to_zarr(
            partial, region={"time": block}, zarr_format=2
        )
        units.finish(name)
    if path.exists():
        _remove(path)
    os.replace(partial, path)
    return path


def _time_blocks(ds: xr.Dataset, block_bytes: int, block_steps: int = 36) -> list[slice]:
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


def write_netcdf(ds: xr.Dataset, path: Path) -> Path:
    """Write `ds` as CF-NetCDF4 (netCDF4 library), compressed."""
    ds = _clean_encoding(cf_ready(ds))
    enc = {str(v): {"zlib": True, "complevel": 4} for v in ds.data_vars if ds[v].ndim >= 2}
    # one file, written by this process: on a dask cluster, workers (maybe on other machines)
    # must not write into it; the data come from the Zarr stores the cluster computed
    with atomic_path(Path(path)) as tmp, dask.config.set(scheduler="threads"):
        ds.to_netcdf(tmp, engine="netcdf4", encoding=enc)
    return Path(path)


def write_cogs(
    ds: xr.Dataset,
    folder: Path,
    variables: Sequence[str],
    *,
    title: str = "vegcube outputs",
    overwrite: bool = False,
) -> list[Path]:
    """One COG per variable and time step at `folder/<var>/<YYYY-MM-DD>.tif`, plus a STAC catalog.

    Existing COGs are kept (a rerun resumes) unless `overwrite`; the catalog is rewritten to
    list every COG in `folder`, also those of earlier runs (a routine update adds periods).
    """
    folder = Path(folder)
    ds = cf_ready(ds)
    days = [f"{t:%Y-%m-%d}" for t in pd.DatetimeIndex(ds.time.values)]
    written = []
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for var in variables:
            paths = [folder / var / f"{day}.tif" for day in days]
            written += paths
            todo = [i for i, p in enumerate(paths) if overwrite or not p.exists()]
            # read time steps in blocks of bounded size (one dask compute each), then let
            # GDAL, which releases the GIL while encoding, write the COGs of a block in parallel
            step = max(1, int(_BLOCK_BYTES // max(1, ds[var].isel(time=0).nbytes)))
            for k in range(0, len(todo), step):
                block = ds[var].isel(time=todo[k : k + step]).load()
                jobs = [(block.isel(time=j), paths[i]) for j, i in enumerate(todo[k : k + step])]
                list(pool.map(lambda job: _write_cog(*job), jobs))
    _write_catalog(ds, folder, variables, title)
    return written


_BLOCK_BYTES = 256 * 2**20


def _write_cog(da: xr.DataArray, path: Path) -> None:
    band = da.load()
    dtype = np.dtype(band.encoding.get("dtype", band.dtype))
    fill = band.encoding.get("_FillValue", band.attrs.get("_FillValue"))
    attrs = {k: v for k, v in band.attrs.items() if not k.startswith("_")}
    band = band.copy()
    band.encoding, band.attrs = {}, attrs
    if np.issubdtype(dtype, np.integer) and fill is not None:
        # integer classes decoded to float (NaN = fill) go back to their integer type
        band = band.fillna(fill).astype(dtype)
        nodata: Any = fill
    else:
        band, nodata = band.astype("float32"), np.nan
    band = band.rio.write_nodata(nodata, encoded=False)
    with atomic_path(path) as tmp:
        band.rio.to_raster(
            tmp,
            driver="COG",
            compress="DEFLATE",
            predictor=2 if np.issubdtype(band.dtype, np.integer) else 3,
            blocksize=256,
            overview_resampling="nearest",
            tags={k: str(v) for k, v in attrs.items() if isinstance(v, (str, int, float))},
        )


def _write_catalog(ds: xr.Dataset, folder: Path, variables: Iterable[str], title: str) -> None:
    """`folder/catalog.json` with one item per date (`folder/items/`) and an asset per variable."""
    geobox = ds.odc.geobox
    footprint = geobox.geographic_extent
    cat = pystac.Catalog(id="vegcube-cogs", description=title)
    cat.set_self_href(str(folder / "catalog.json"))
    variables = list(variables)
    provisional = dict.fromkeys((f"{t:%Y-%m-%d}" for t in pd.DatetimeIndex(ds.time.values)), False)
    if "provisional" in ds.coords:
        provisional.update(zip(provisional, map(bool, ds.provisional.values), strict=True))
    on_disk = {p.stem for var in variables for p in (folder / var).glob("????-??-??.tif")}
    for day in sorted(on_disk | set(provisional)):
        t = pd.Timestamp(day)
        item = pystac.Item(
            id=day,
            geometry=footprint.json,
            bbox=list(footprint.boundingbox),
            datetime=t.to_pydatetime().replace(tzinfo=dt.timezone.utc),
            properties={
                "proj:code": str(geobox.crs),
                "proj:shape": list(geobox.shape),
                "vegcube:provisional": provisional.get(day, False),
            },
        )
        for var in variables:
            if not (folder / var / f"{day}.tif").exists():
                continue
            asset = pystac.Asset(
                href=str(folder / var / f"{day}.tif"),
                media_type=pystac.MediaType.COG,
                roles=["data"],
                title=str(ds[var].attrs.get("long_name", var)),
            )
            item.add_asset(var, asset)
        cat.add_item(item)
        item.set_self_href(str(folder / "items" / f"{day}.json"))
    cat.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)


def write_json(obj: Any, path: Path) -> Path:
    """Write JSON atomically."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
    return Path(path)
