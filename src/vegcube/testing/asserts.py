"""Assertions that a dataset follows DESIGN.md's data conventions, as `xarray.testing` does.

`assert_composites`, `assert_reference` and `assert_indicators` check an output cube (in
memory, or as opened from `composites.zarr`, `reference.zarr`, `indicators.zarr`): its
dimensions, its CRS in a `spatial_ref` coordinate, its period coordinates, the dtypes and the
valid range of each variable. Each raises `AssertionError` naming the variable and what is
wrong; they read every value, so use them on test-sized cubes.

>>> assert_composites(xr.open_zarr(out / "composites.zarr"))
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS

__all__ = ["INDEX_RANGES", "assert_composites", "assert_indicators", "assert_reference"]

#: valid range of the indices every normalized difference shares (others: finite or NaN)
INDEX_RANGES: Mapping[str, tuple[float, float]] = {"ndvi": (-1.0, 1.0), "ndwi": (-1.0, 1.0)}
_PERIODS = {"dekad": 36, "month": 12}
#: indicator suffix → valid range (None: finite or NaN)
_INDICATORS: Mapping[str, tuple[float, float] | None] = {
    "vci": (0.0, 100.0),
    "tci": (0.0, 100.0),
    "vhi": (0.0, 100.0),
    "zscore": None,
    "anomaly": None,
    "pct_normal": None,
    "percentile": (0.0, 100.0),
    "confidence": (0.0, 1.0),
}
_STATS = ("mean", "std", "min", "max", "count")


def assert_composites(
    ds: xr.Dataset, *, ranges: Mapping[str, tuple[float, float]] = INDEX_RANGES
) -> None:
    """`ds` is a composite cube: every variable (time, y, x) on a georeferenced grid, `time` the
    period start with `period_end` ≥ `time` and `period_of_year` (dekad 1..36, month 1..12)
    coordinates; each index (a variable with an `<index>_count`) float32, finite or NaN and
    within `ranges` (indices in [-1, 1]); each `_count` integer ≥ 0."""
    _grid(ds, "composites", "time")
    _periods(ds, "composites")
    for name in _indices(ds):
        _values(ds[name], "composites", ranges.get(name), dtype="float32")
        _integer(ds[f"{name}_count"], "composites", low=0)


def assert_reference(
    ds: xr.Dataset, *, ranges: Mapping[str, tuple[float, float]] = INDEX_RANGES
) -> None:
    """`ds` is a reference: `<index>_mean/_std/_min/_max/_count` (period_of_year, y, x) on a
    georeferenced grid, `period_of_year` 1..36 (dekads) or 1..12 (months), each statistic
    float32 finite or NaN (mean, min and max within `ranges`, std ≥ 0, min ≤ mean ≤ max) and
    `_count` integer ≥ 0; other variables (`<index>_noise`) end in (y, x)."""
    _grid(ds, "reference", "period_of_year")
    poy = ds["period_of_year"].values
    n = _PERIODS.get(ds.attrs.get("period", "dekad"), 36)
    _fail_if(
        poy.size == 0 or poy.min() < 1 or poy.max() > n or len(set(poy.tolist())) != poy.size,
        "reference",
        "period_of_year",
        f"must be distinct values in 1..{n}, got {_span(poy)}",
    )
    names = sorted(
        {str(v).removesuffix("_count") for v in ds.data_vars if str(v).endswith("_count")}
    )
    _fail_if(not names, "reference", "(dataset)", "has no <index>_count variable")
    for name in names:
        for stat in _STATS:
            var = f"{name}_{stat}"
            _fail_if(var not in ds, "reference", var, f"is missing (a reference holds {_STATS})")
            if stat == "count":
                _integer(ds[var], "reference", low=0)
                continue
            bounds = (0.0, np.inf) if stat == "std" else ranges.get(name)
            _values(ds[var], "reference", bounds, dtype="float32")
        lo, mid, hi = (ds[f"{name}_{s}"].values for s in ("min", "mean", "max"))
        with np.errstate(invalid="ignore"):
            bad = (lo > mid + 1e-6) | (mid > hi + 1e-6)
        _fail_if(bool(bad.any()), "reference", f"{name}_mean", f"outside [min, max] at {_n(bad)}")


def assert_indicators(ds: xr.Dataset) -> None:
    """`ds` is an indicator cube: every variable (time, y, x) on a georeferenced grid with the
    composites' period coordinates; VCI, TCI, VHI float32 in [0, 100] or NaN; z-score, anomaly,
    percent of normal float32 finite or NaN; `_ref_years` integer ≥ 0; drought classes int8
    (on disk, when read back CF-decoded) with values among their `flag_values` or −1 (no data).
    """
    _grid(ds, "indicators", "time")
    _periods(ds, "indicators")
    for var in map(str, ds.data_vars):
        da = ds[var]
        suffix = next((s for s in _INDICATORS if var.endswith(f"_{s}")), None)
        if suffix is not None:
            _values(da, "indicators", _INDICATORS[suffix], dtype="float32")
        elif var.endswith("_ref_years"):
            _integer(da, "indicators", low=0)
        elif var.endswith("_drought_class"):
            _drought_class(da)


# --------------------------------------------------------------------------- checks


def _fail_if(bad: bool, kind: str, var: str, what: str) -> None:
    if bad:
        raise AssertionError(f"{kind}: {var} {what}")


def _span(a: np.ndarray) -> str:
    a = np.asarray(a)
    return "nothing" if a.size == 0 else f"{a.min()}..{a.max()} ({a.size} values)"


def _n(mask: np.ndarray) -> str:
    return f"{int(np.count_nonzero(mask))} of {mask.size} values"


def _grid(ds: xr.Dataset, kind: str, lead: str) -> None:
    """Dims (lead, y, x) for every variable (or (y, x) for per-pixel ones), CRS in spatial_ref."""
    _fail_if(not ds.data_vars, kind, "(dataset)", "has no variables")
    for var, da in ds.data_vars.items():
        ok = da.dims == (lead, "y", "x") or (lead != "time" and da.dims == ("y", "x"))
        _fail_if(not ok, kind, str(var), f"has dims {da.dims}, expected ({lead}, y, x)")
    _fail_if("spatial_ref" not in ds.coords, kind, "spatial_ref", "coordinate is missing")
    attrs = ds["spatial_ref"].attrs
    wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
    _fail_if(not wkt, kind, "spatial_ref", "has no crs_wkt (or spatial_ref) attribute")
    try:
        CRS.from_user_input(wkt)
    except Exception as err:  # pyproj's CRSError and its parse errors
        raise AssertionError(f"{kind}: spatial_ref holds no readable CRS: {err}") from None
    for dim in ("y", "x"):
        step = np.diff(np.asarray(ds[dim].values, dtype="float64"))
        _fail_if(step.size > 0 and not np.allclose(step, step[0]), kind, dim, "is not regular")


def _periods(ds: xr.Dataset, kind: str) -> None:
    """`time` the period start; `period_end` ≥ time; `period_of_year` matching the start."""
    for coord in ("period_end", "period_of_year"):
        _fail_if(coord not in ds.coords, kind, coord, "coordinate is missing")
        _fail_if(
            ds[coord].dims != ("time",), kind, coord, f"has dims {ds[coord].dims}, not (time,)"
        )
    start = pd.DatetimeIndex(ds["time"].values)
    end = pd.DatetimeIndex(ds["period_end"].values)
    _fail_if(bool((end < start).any()), kind, "period_end", f"before time at {_n(end < start)}")
    long = (end - start).days.size > 0 and (end - start).days.max() > 11
    period = ds.attrs.get("period") or ("month" if long else "dekad")
    dekad = (start.month - 1) * 3 + np.minimum((start.day - 1) // 10, 2) + 1
    expect = start.month if period == "month" else dekad
    poy = np.asarray(ds["period_of_year"].values)
    _fail_if(
        not np.array_equal(poy, np.asarray(expect)),
        kind,
        "period_of_year",
        f"does not match the {period} of each time (1..{_PERIODS[period]}): got {_span(poy)}",
    )


def _indices(ds: xr.Dataset) -> list[str]:
    names = [str(v)[: -len("_count")] for v in ds.data_vars if str(v).endswith("_count")]
    names = [n for n in names if n in ds.data_vars]
    _fail_if(not names, "composites", "(dataset)", "has no <index> with its <index>_count")
    return names


def _values(da: xr.DataArray, kind: str, bounds: tuple[float, float] | None, *, dtype: str) -> None:
    _fail_if(da.dtype != np.dtype(dtype), kind, str(da.name), f"is {da.dtype}, expected {dtype}")
    v = np.asarray(da.values)
    _fail_if(bool(np.isinf(v).any()), kind, str(da.name), f"holds ±inf at {_n(np.isinf(v))}")
    if bounds is not None:
        lo, hi = bounds
        with np.errstate(invalid="ignore"):
            out = (v < lo) | (v > hi)
        if out.any():
            raise AssertionError(
                f"{kind}: {da.name} has {_n(out)} outside [{lo:g}, {hi:g}] "
                f"(min {np.nanmin(v):g}, max {np.nanmax(v):g})"
            )


def _integer(da: xr.DataArray, kind: str, *, low: int) -> None:
    _fail_if(da.dtype.kind not in "iu", kind, str(da.name), f"is {da.dtype}, expected an integer")
    v = np.asarray(da.values)
    _fail_if(bool((v < low).any()), kind, str(da.name), f"has {_n(v < low)} below {low}")


def _drought_class(da: xr.DataArray) -> None:
    name = str(da.name)
    stored = da.encoding.get("dtype", da.dtype)
    _fail_if(np.dtype(stored) != np.int8, "indicators", name, f"is {stored}, expected int8")
    flags = da.attrs.get("flag_values")
    if flags is None or "flag_meanings" not in da.attrs:
        raise AssertionError(f"indicators: {name} has no flag_values/flag_meanings attributes")
    v = np.asarray(da.values)
    if v.dtype.kind == "f":  # CF-decoded: the fill value (−1, no data) reads as NaN
        v = np.where(np.isnan(v), -1, v)
    allowed = {-1, *(int(f) for f in np.atleast_1d(flags))}
    bad = ~np.isin(v, list(allowed))
    _fail_if(bool(bad.any()), "indicators", name,
             f"has {_n(bad)} not among its flag values {sorted(allowed)}")  # fmt: skip
