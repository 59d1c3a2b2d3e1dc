"""What the chain publishes beside its Zarr stores: the recipe's other formats (`export`'s
registry of writers) and the per-region tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import calibrate, export, zonal
from ..export.atomic import atomic_path
from .context import Context

__all__ = ["formats", "read_offsets", "write_offsets", "zonal_table"]

#: the per-pixel calibration offsets of a run (`calibrate.pixel_offsets`), for its updates
OFFSETS = "calibration.zarr"


def write_offsets(fits: Sequence[calibrate.Fit], like: xr.Dataset, out: Path) -> Path:
    """`OUT/calibration.zarr`: each per-pixel fit's offsets (y, x) named by `Fit.key`, on
    the grid of `like`, in the index's unit; written atomically."""
    coords = {k: like[k] for k in ("y", "x", "spatial_ref") if k in like.coords}
    ds = xr.Dataset(
        {
            f.key: xr.DataArray(
                np.asarray(f.offsets, "float32"), dims=("y", "x"),
                attrs={"long_name": f"offset of {f.sensor} {f.index} from the line, per pixel",
                       "rule": "reference-scale value = (value - intercept - offset) / slope",
                       "slope": f.slope, "intercept": f.intercept},
            )
            for f in fits
            if f.offsets is not None
        },
        coords=coords,
    )  # fmt: skip
    path = out / OFFSETS
    with atomic_path(path) as tmp:
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
    return path


def read_offsets(out: Path) -> dict[str, np.ndarray] | None:
    """The per-pixel offsets `write_offsets` stored in `out` (None without any)."""
    path = out / OFFSETS
    if not path.exists():
        return None
    with xr.open_zarr(path) as ds:
        return {str(k): np.asarray(v.values, "float64") for k, v in ds.data_vars.items()}


def zonal_table(
    products: dict[str, xr.Dataset], regions: zonal.Regions, out: Path, *, since: Any
) -> pd.DataFrame:
    """Per-region statistics; in an update, those of the new periods replace the old rows."""
    parts = []
    for key in ("composites", "indicators"):
        if key in products:
            ds = products[key]
            ds = ds if since is None else ds.sel(time=ds.time >= since)
            parts.append(zonal.stats(_with_shares(ds), regions))
    table = pd.concat(parts)
    old = out / "zonal.parquet"
    if since is not None and old.exists():
        kept = pd.read_parquet(old)
        table = pd.concat([kept[kept["time"] < since], table])
    return table.sort_values(["region", "variable", "time"], ignore_index=True)


def _with_shares(ds: xr.Dataset) -> xr.Dataset:
    """`ds` with `<var>_drought_share` beside each `<var>_drought_class`: 1 moderate or worse,
    0 other classes, NaN without a class (no data, not monitorable), so that a region's
    mean is the share of its classed area in drought; the classes' own mean is taken over
    classed pixels only."""
    out = {}
    for k, v in ds.data_vars.items():
        if str(k).endswith("_drought_class"):
            classed = v.where(v >= 0)
            out[str(k)] = classed
            out[str(k).replace("_class", "_share")] = (classed >= 2).where(classed.notnull())
    return ds.assign({k: v.astype("float32") for k, v in out.items()}) if out else ds


def formats(ctx: Context, *, since: Any = None) -> None:
    """The formats of `export.WRITERS` the recipe names beyond the Zarr stores, in registry
    order: written whole, or (appending writers, in an update) the periods from `since`."""
    rc, products = ctx.recipe, ctx.products
    # the variables published per period (COGs): the indices and their indicators
    variables = list(rc.indices) + [f"{i}_{k}" for i in rc.indices for k in rc.indicators]
    variables += ["lst_tci"] if "tci" in rc.indicators else []
    variables += [f"{c}_drought_class" for c in rc.heat_classes()]
    for writer in export.WRITERS.values():
        if writer.write is None or writer.name not in rc.output.formats:
            continue
        files = writer.files(ctx.out, products)
        if not ctx.kept(writer.name, *files.values()):
            with ctx.timed(writer.name):
                writer.write(
                    products, ctx.out, variables=variables, since=since if writer.appends else None
                )
        ctx.result.outputs.update(files)
