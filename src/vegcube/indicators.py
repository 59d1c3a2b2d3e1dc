"""Period + reference → VCI, z-score, anomaly, percent of normal, drought class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

__all__ = ["DROUGHT_CLASSES", "INDICATORS", "compute", "drought_class"]

INDICATORS = ("vci", "zscore", "anomaly", "pct_normal", "drought_class")

#: class code → (name, VCI upper bound); VCI at or above the last bound is "none" (0)
DROUGHT_CLASSES: Mapping[str, float] = {"extreme": 10, "severe": 20, "moderate": 30, "mild": 40}
_CODES = {"none": 0, "mild": 1, "moderate": 2, "severe": 3, "extreme": 4}
FILL = -1


def drought_class(
    vci: xr.DataArray, thresholds: Mapping[str, float] = DROUGHT_CLASSES
) -> xr.DataArray:
    """int8 classes from VCI: 4 extreme, 3 severe, 2 moderate, 1 mild, 0 none, −1 no data."""
    cls = xr.full_like(vci, 0, dtype="int8")
    for name in ("mild", "moderate", "severe", "extreme"):  # most severe last wins
        cls = xr.where(vci < thresholds[name], np.int8(_CODES[name]), cls)
    cls = xr.where(vci.notnull(), cls, np.int8(FILL)).astype("int8")
    cls.attrs = {
        "long_name": "drought class from VCI",
        "flag_values": [0, 1, 2, 3, 4],
        "flag_meanings": "none mild moderate severe extreme",
        "thresholds_vci": ", ".join(f"{k} < {v:g}" for k, v in thresholds.items()),
    }
    cls.encoding["_FillValue"] = FILL
    return cls


def compute(
    comp: xr.Dataset,
    ref: xr.Dataset,
    *,
    variables: Sequence[str],
    indicators: Sequence[str] = ("vci", "zscore", "anomaly"),
    min_years: int = 3,
    thresholds: Mapping[str, float] = DROUGHT_CLASSES,
) -> xr.Dataset:
    """Indicators of each variable in `comp` (time, y, x) against `ref` (period_of_year, y, x).

    VCI = 100·(x − min)/(max − min) clipped to [0, 100]; zscore = (x − mean)/std;
    anomaly = x − mean; pct_normal = 100·x/mean (where mean > 0). Every indicator is NaN
    where the reference has fewer than `min_years` years or is degenerate (max = min, std = 0),
    never ±inf. `<var>_ref_years` holds the number of reference years behind each value.
    """
    unknown = [i for i in indicators if i not in INDICATORS]
    if unknown:
        raise ValueError(f"unknown indicators {unknown}; choose from {list(INDICATORS)}")
    poy = xr.DataArray(np.asarray(comp["period_of_year"].values), dims="time")
    out = xr.Dataset(coords={k: v for k, v in comp.coords.items() if k != "spatial_ref"})
    # each period's reference, looked up once for all variables
    r = ref.sel(period_of_year=poy).drop_vars("period_of_year")
    for name in variables:
        x = comp[name]
        count = r[f"{name}_count"]
        enough = count >= min_years
        mean, std = r[f"{name}_mean"], r[f"{name}_std"]
        lo, hi = r[f"{name}_min"], r[f"{name}_max"]
        vci = (100 * (x - lo) / (hi - lo).where(hi > lo)).clip(0, 100).where(enough)
        values = {
            "vci": vci,
            "zscore": ((x - mean) / std.where(std > 0)).where(enough),
            "anomaly": (x - mean).where(enough),
            "pct_normal": (100 * x / mean.where(mean > 0)).where(enough),
        }
        for ind in indicators:
            if ind == "drought_class":
                out[f"{name}_drought_class"] = drought_class(vci, thresholds)
                continue
            da = values[ind].astype("float32")
            da.attrs = {"long_name": f"{_LONG[ind]} of {name}", "units": _UNITS[ind]}
            out[f"{name}_{ind}"] = da
        years = count.astype("int16")
        years.attrs = {"long_name": f"reference years behind the indicators of {name}"}
        out[f"{name}_ref_years"] = years
    if "spatial_ref" in comp.coords:
        out = out.assign_coords(spatial_ref=comp.spatial_ref)
    out.attrs = {"min_reference_years": min_years, **ref.attrs}
    return out


_LONG = {
    "vci": "vegetation condition index",
    "zscore": "standardised anomaly (z-score)",
    "anomaly": "anomaly",
    "pct_normal": "percent of normal",
}
_UNITS = {"vci": "percent", "zscore": "1", "anomaly": "1", "pct_normal": "percent"}
