"""The series after the composites: gap filling, the reference and the indicators against it
(one task per stored chunk, `blocks.map_chunks`), months from dekads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import blocks, composite, export, reference
from .. import gapfill as gapfill_mod
from .. import indicators as indicators_mod
from ..export.zarr import cores
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
    """The reference (computed, or kept in an update) and the indicators against it."""
    spec = rc.reference
    assert spec is not None
    fresh = window.fresh
    if fresh:
        ref = stage(
            f"{prefix}reference",
            reference.compute(
                series, start=spec.start, end=spec.end, variables=variables(rc), pool=spec.pool
            ),
            whole=True,
        )
    else:
        ref = xr.open_zarr(folder / "reference.zarr")
    if not rc.indicators:
        return ref, None

    def indicators_of(block: xr.Dataset, reference: xr.Dataset) -> xr.Dataset:
        return indicators_mod.compute(
            block,
            reference,
            variables=rc.indices,
            indicators=rc.indicators,
            min_years=spec.min_years,
            thresholds=rc.drought_classes.model_dump(),
            lst="lst" if rc.lst is not None else None,
            alpha=rc.lst.alpha if rc.lst is not None else 0.5,
        )

    # one task per stored chunk (a year of periods × a tile), numpy inside; with the periods
    # before it that the persistence rule looks back on
    back = rc.drought_classes.persistence - 1 if "drought_class" in rc.indicators else 0
    ind = blocks.map_chunks(indicators_of, series, ref, lookback=back)
    if not fresh:  # an update: only the new periods (the graph's other blocks are not run)
        ind = ind.sel(time=ind.time >= window.since)
    return ref, stage(f"{prefix}indicators", ind, whole=fresh)


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
