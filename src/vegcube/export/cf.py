"""CF conventions shared by the Zarr and NetCDF writers: grid mapping, clean encodings."""

from __future__ import annotations

import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from odc.geo import xr as _odc_xr  # noqa: F401  (registers the .odc accessor)

__all__ = ["cf_ready", "clean_encoding"]


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


def clean_encoding(ds: xr.Dataset) -> xr.Dataset:
    """A copy of `ds` keeping only the fill value, grid mapping and CF-masked storage dtype
    of each variable's encoding, and naming its non-dimension coordinates (`spatial_ref`)."""
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
