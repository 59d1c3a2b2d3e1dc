"""Years of periods → per period-of-year mean, std, min, max and count of years."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .composite import PERIODS_PER_YEAR
from .errors import InputError

__all__ = ["STATS", "compute", "statistics"]

STATS = ("mean", "std", "min", "max", "count")
#: a reference task's working memory (bytes): years × periods of year × tile in float64
BUDGET = 256 * 2**20


def statistics(stack: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, sample std (ddof=1), min, max (float32) and count (int16) over axis 0 of
    `stack`, ignoring NaN; NaN where no value (std: where fewer than two)."""
    v = np.asarray(stack)
    if v.dtype.kind != "f":
        v = v.astype("float64")
    ok = ~np.isnan(v)
    count = ok.sum(axis=0)
    # sums in float64: a float32 std of near-constant series loses digits z-scores need
    with np.errstate(invalid="ignore", divide="ignore"):  # no value: NaN is the answer
        mean = np.where(ok, v, 0).sum(axis=0, dtype="float64") / count
        dev = v.astype("float64")
        dev -= mean
        dev[~ok] = 0.0
        dev *= dev
        std = np.sqrt(dev.sum(axis=0) / (count - 1))
    std[count < 2] = np.nan
    lo, hi = np.fmin.reduce(v, axis=0), np.fmax.reduce(v, axis=0)  # NaN only where no value
    return {
        "mean": mean.astype("float32"),
        "std": std.astype("float32"),
        "min": lo.astype("float32"),
        "max": hi.astype("float32"),
        "count": count.astype("int16"),
    }


def compute(
    comp: xr.Dataset,
    *,
    start: dt.date | str,
    end: dt.date | str,
    variables: Sequence[str] | None = None,
) -> xr.Dataset:
    """Reference statistics of each variable over the periods that start in [start, end].

    Output dims (period_of_year, y, x) with `<var>_mean`, `_std` (sample, ddof=1), `_min`,
    `_max` and `_count` (number of years with a value). Every period of the year is present,
    NaN (count 0) where the reference has none. A dask-backed `comp` gives a lazy result of
    one task per spatial chunk × group of periods of the year (numpy inside; no more periods
    than `comp` has per chunk, memory bounded by `BUDGET`); numpy-backed, it is computed now.
    """
    names = (
        list(variables)
        if variables is not None
        else [str(v) for v in comp.data_vars if not str(v).endswith("_count")]
    )
    times = pd.DatetimeIndex(comp.time.values)
    inside = (times >= pd.Timestamp(start)) & (times <= pd.Timestamp(end))
    if not inside.any():
        raise InputError(f"reference {start}..{end}: no period of the data lies inside it")
    period = comp.attrs.get("period", "dekad")
    poy = np.asarray(comp["period_of_year"].values)
    every = np.arange(1, PERIODS_PER_YEAR.get(period, 36) + 1, dtype="int16")
    # the time steps of each period of the year inside the reference
    members = [np.flatnonzero(inside & (poy == p)) for p in every]
    data = comp[names]
    if any(data[n].chunks for n in names):
        arrays = _blockwise(data, names, members)
    else:
        arrays = _all_statistics(data, names, members)
    out = xr.Dataset(
        {
            f"{n}_{s}": (
                ("period_of_year", "y", "x"),
                arrays[f"{n}_{s}"],
                {"long_name": f"reference {s} of {n} per {period} of year"},
            )
            for n in names
            for s in STATS
        },
        coords={"period_of_year": every, "y": comp["y"], "x": comp["x"]},
    )
    if "spatial_ref" in comp.coords:
        out = out.assign_coords(spatial_ref=comp.spatial_ref)
    out.attrs = {
        "period": period,
        "reference_start": str(pd.Timestamp(start).date()),
        "reference_end": str(pd.Timestamp(end).date()),
    }
    return out


def _years_first(values: np.ndarray, members: list[np.ndarray]) -> np.ndarray:
    """(years, periods of year, y, x): the time steps `members[k]` of `values` (time, y, x)
    for each period of the year k, NaN-padded to the longest."""
    years = max(1, max(len(m) for m in members))
    dtype = values.dtype if values.dtype.kind == "f" else np.dtype("float64")
    out = np.full((years, len(members), *values.shape[1:]), np.nan, dtype=dtype)
    for k, idx in enumerate(members):
        out[: len(idx), k] = values[idx]
    return out


def _all_statistics(
    data: xr.Dataset, names: list[str], members: list[np.ndarray]
) -> dict[str, np.ndarray]:
    """`<var>_<stat>` of every variable of `data` over the time steps of `members`."""
    return {
        f"{n}_{s}": a
        for n in names
        for s, a in statistics(_years_first(np.asarray(data[n].values), members)).items()
    }


def _blockwise(data: xr.Dataset, names: list[str], members: list[np.ndarray]) -> dict[str, Any]:
    """One task per spatial chunk × group of periods of the year: each reads the reference
    years of its periods (its only inputs) and computes their statistics in numpy."""
    import dask

    from .blocks import assemble

    data = data.unify_chunks()
    ychunks, xchunks = data.chunks["y"], data.chunks["x"]
    years = max(1, max(len(m) for m in members))
    side = max(ychunks) * max(xchunks)
    # the float64 stack and three temporaries of its size, for each variable
    group = max(1, int(BUDGET // (years * side * 8 * 4 * len(names))))
    # no more periods of the year than the input holds per chunk: the result's chunks then
    # match the periods a block of the series needs (indicators read no more than that)
    group = min(group, max(data.chunks["time"]))
    groups = [range(i, min(len(members), i + group)) for i in range(0, len(members), group)]
    yedges, xedges = np.cumsum((0, *ychunks)), np.cumsum((0, *xchunks))
    run = uuid.uuid4().hex

    def task(piece: xr.Dataset, sizes: list[int]) -> dict[str, np.ndarray]:
        bounds = np.cumsum((0, *sizes))
        local = [np.arange(bounds[k], bounds[k + 1]) for k in range(len(sizes))]
        return _all_statistics(piece, names, local)

    cells = [
        [
            [
                (
                    dask.delayed(task, pure=False)(
                        data.isel(
                            time=np.concatenate([members[p] for p in grp]).astype(int),
                            y=slice(yedges[iy], yedges[iy + 1]),
                            x=slice(xedges[ix], xedges[ix + 1]),
                        ),
                        [len(members[p]) for p in grp],
                        dask_key_name=f"vegcube-reference-{run}-{gi}-{iy}-{ix}",
                    ),
                    (len(grp), ychunks[iy], xchunks[ix]),
                )
                for ix in range(len(xchunks))
            ]
            for iy in range(len(ychunks))
        ]
        for gi, grp in enumerate(groups)
    ]
    dtypes = {
        f"{n}_{s}": np.dtype("int16" if s == "count" else "float32") for n in names for s in STATS
    }
    return assemble(cells, dtypes)
