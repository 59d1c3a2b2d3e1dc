"""Outputs: a registry of writers, one module per format, atomic writes in one place.

- `zarr`: the stores of the chain's stages, written in blocks of time (resumable) and
  appended to by updates; `netcdf`: CF-NetCDF4 copies; `cog`: COGs + a STAC catalog.
- `registry`: one `Writer` record per format in `WRITERS`, which also gives the recipe's
  accepted ``output.formats``. Adding a format is one module and one line there.
- `cf`: the CF grid mapping (`spatial_ref`, readable by rioxarray, odc-geo and GDAL) and
  clean encodings; `atomic`: everything is written under a temporary name and renamed, so
  a crash never leaves a half-written output under the final name; `stac`: the static
  catalog writer shared with the download mirror.
"""

from __future__ import annotations

from .atomic import atomic_path, write_json
from .cf import cf_ready
from .cog import write_cogs
from .netcdf import write_netcdf
from .registry import WRITERS, Writer, get
from .stac import save_catalog
from .zarr import append_zarr, write_zarr

__all__ = [
    "WRITERS",
    "Writer",
    "append_zarr",
    "atomic_path",
    "cf_ready",
    "get",
    "save_catalog",
    "write_cogs",
    "write_json",
    "write_netcdf",
    "write_zarr",
]
