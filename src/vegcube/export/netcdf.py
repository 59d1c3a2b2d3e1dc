"""CF-NetCDF4 copies of the chain's products (`OUT/<product>.nc`), rewritten whole."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import dask
import xarray as xr

from .atomic import atomic_path
from .cf import cf_ready, clean_encoding

__all__ = ["files", "publish", "write_netcdf"]


def write_netcdf(ds: xr.Dataset, path: Path) -> Path:
    """Write `ds` as CF-NetCDF4 (netCDF4 library), compressed."""
    ds = clean_encoding(cf_ready(ds))
    enc = {str(v): {"zlib": True, "complevel": 4} for v in ds.data_vars if ds[v].ndim >= 2}
    # one file, written by this process: on a dask cluster, workers (maybe on other machines)
    # must not write into it; the data come from the Zarr stores the cluster computed
    with atomic_path(Path(path)) as tmp, dask.config.set(scheduler="threads"):
        ds.to_netcdf(tmp, engine="netcdf4", encoding=enc)
    return Path(path)


def files(out: Path, products: Collection[str]) -> dict[str, Path]:
    """`OUT/<product>.nc` for each product, keyed `<product>_netcdf`."""
    return {f"{name}_netcdf": Path(out) / f"{name}.nc" for name in products}


def publish(products: Mapping[str, xr.Dataset], out: Path, **_: Any) -> None:
    """Every product as `OUT/<product>.nc`, whole (the variables and period are not used)."""
    for ds, path in zip(products.values(), files(out, products).values(), strict=True):
        write_netcdf(ds, path)
