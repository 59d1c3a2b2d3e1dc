"""Cloud-optimized GeoTIFFs, one per variable and time step, and a STAC catalog of them.

``OUT/cog/<var>/<YYYY-MM-DD>.tif``; ``OUT/cog/catalog.json`` with one item per date
(``OUT/cog/items/<YYYY-MM-DD>.json``) and an asset per variable.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pystac
import rasterio
import rasterio.crs
import xarray as xr
from odc.geo import xr as _odc_xr  # noqa: F401  (registers the .odc accessor)

from .atomic import atomic_path
from .cf import cf_ready
from .stac import save_catalog

__all__ = ["files", "publish", "write_cogs"]

_BLOCK_BYTES = 256 * 2**20


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
    geobox = ds.odc.geobox
    grid = {"transform": geobox.affine, "crs": rasterio.crs.CRS.from_wkt(geobox.crs.to_wkt())}
    written = []
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for var in variables:
            paths = [folder / var / f"{day}.tif" for day in days]
            written += paths
            todo = [i for i, p in enumerate(paths) if overwrite or not p.exists()]
            # read time steps in blocks of bounded size (one dask compute each), then let
            # GDAL, which releases the GIL while encoding, write the COGs of a block in parallel
            step = max(1, int(_BLOCK_BYTES // max(1, ds[var].isel(time=0).nbytes)))
            profile, as_stored = _profile(ds[var], grid)
            for k in range(0, len(todo), step):
                block = as_stored(np.asarray(ds[var].isel(time=todo[k : k + step]).values))
                jobs = [(block[j], paths[i], profile) for j, i in enumerate(todo[k : k + step])]
                list(pool.map(lambda job: _write_cog(*job), jobs))
    save_catalog(_catalog(ds, folder, variables, title), folder)
    return written


def files(out: Path, products: Collection[str]) -> dict[str, Path]:
    """The catalog of the COGs, ``OUT/cog/catalog.json``, keyed `cog`."""
    return {"cog": Path(out) / "cog" / "catalog.json"}


def publish(
    products: Mapping[str, xr.Dataset],
    out: Path,
    *,
    variables: Sequence[str] = (),
    since: Any = None,
) -> None:
    """COGs of the `variables` found in the products (with `since`: only the periods from
    it on, rewritten), and the catalog of every COG in ``OUT/cog``."""
    parts = [ds[[v for v in variables if v in ds]] for ds in products.values()]
    merged = xr.merge(parts, compat="override", join="exact")
    if since is not None:
        merged = merged.sel(time=merged.time >= since)
    names = [v for v in variables if v in merged]
    write_cogs(merged, Path(out) / "cog", names, overwrite=since is not None)


def _profile(
    da: xr.DataArray, grid: Mapping[str, Any]
) -> tuple[dict[str, Any], Callable[[np.ndarray], np.ndarray]]:
    """The COG profile of variable `da` (type, nodata, compression, tags and description as
    rioxarray writes them) and how its decoded values go back to the stored type."""
    dtype = np.dtype(da.encoding.get("dtype", da.dtype))
    fill: Any = da.encoding.get("_FillValue", da.attrs.get("_FillValue"))
    attrs = {k: v for k, v in da.attrs.items() if not k.startswith("_")}
    integer = bool(np.issubdtype(dtype, np.integer) and fill is not None)
    profile = {
        "driver": "COG",
        "height": da.sizes["y"],
        "width": da.sizes["x"],
        "count": 1,
        "dtype": dtype if integer else np.dtype("float32"),
        "nodata": fill if integer else np.nan,
        "compress": "DEFLATE",
        "predictor": 2 if integer else 3,
        "blocksize": 256,
        "overview_resampling": "nearest",
        "tags": {**{k: str(v) for k, v in attrs.items()}, "AREA_OR_POINT": "Area"},
        "description": str(attrs.get("long_name", da.name)),
        **grid,
    }

    def as_stored(values: np.ndarray) -> np.ndarray:
        if integer:  # integer classes decoded to float (NaN = fill) go back to their type
            return np.where(np.isnan(values), fill, values).astype(dtype)
        return values.astype("float32")

    return profile, as_stored


def _write_cog(values: np.ndarray, path: Path, profile: Mapping[str, Any]) -> None:
    """One band (y, x) as a COG at `path` (GDAL's COG driver; atomic)."""
    opts = dict(profile)
    tags, description = opts.pop("tags"), opts.pop("description")
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **opts) as dst:
        dst.update_tags(**tags)
        dst.set_band_description(1, description)
        dst.write(values, 1)


def _catalog(ds: xr.Dataset, folder: Path, variables: Iterable[str], title: str) -> pystac.Catalog:
    """The catalog of `folder`: one item per date (`folder/items/`), an asset per variable."""
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
    return cat
