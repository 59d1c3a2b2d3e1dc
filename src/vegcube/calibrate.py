"""Cross-sensor calibration: a linear relation of an index between two sensors, fitted on clear
pixels of near-simultaneous scenes, and its application.

The relation is written ``sensor = slope × reference + intercept`` (e.g. Landsat NDVI =
0.95 × Sentinel-2 NDVI + 0.02); `apply` maps the sensor onto the reference scale with
``(value − intercept) / slope``.

The default fit is the reduced major axis (geometric-mean regression, ``slope = sign(r) ·
sd(sensor) / sd(reference)``) after robust trimming of outliers. Both sensors carry noise
(radiometric noise, residual cloud edges, misregistration, a day of phenology): ordinary least
squares of one on the other is biased towards zero by the noise of the regressor (regression
dilution) and gives a different line when the roles swap; RMA is symmetric, so the inverse
relation is the inverse line, and it is closed-form on millions of pairs. Outliers (missed
cloud edges, shadows) are removed by iterating the fit and dropping pairs whose residual is
beyond `clip` robust standard deviations (1.4826 × MAD). ``method="ols"`` is available.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from .errors import BandError, DataError, InputError

__all__ = [
    "Fit",
    "apply",
    "continuity",
    "fit",
    "fit_line",
    "from_attrs",
    "from_store",
    "harmonise",
    "pairs",
    "period_sensors",
    "to_attrs",
]

Method = Literal["rma", "ols"]
#: fewer pixel pairs than this: no fit (NaN), nothing applied
MIN_PAIRS = 50


@dataclass(frozen=True)
class Fit:
    """``sensor = slope × reference + intercept`` for one index, and how it was obtained."""

    index: str
    sensor: str
    reference: str
    slope: float
    intercept: float
    r2: float
    n: int
    scene_pairs: int
    method: str = "rma"
    max_days: float = 1.0
    applied: bool = False

    @property
    def ok(self) -> bool:
        """True when enough pairs gave a usable (finite, non-zero slope) relation."""
        return bool(self.n >= MIN_PAIRS and np.isfinite(self.slope) and self.slope != 0)

    def to_reference(self, values: Any) -> Any:
        """Sensor values mapped onto the reference scale: (value − intercept) / slope."""
        return (values - self.intercept) / self.slope

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN as None)."""
        return {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def fit_line(
    reference: np.ndarray,
    sensor: np.ndarray,
    *,
    method: Method = "rma",
    clip: float = 3.5,
    iterations: int = 5,
) -> tuple[float, float, float, int]:
    """(slope, intercept, r², n) of ``sensor = slope × reference + intercept``.

    Non-finite pairs are ignored; pairs with residuals beyond `clip` robust standard
    deviations are dropped and the line refitted, up to `iterations` times.
    """
    if method not in ("rma", "ols"):
        raise InputError(f"method must be 'rma' or 'ols'; got {method!r}")
    r = np.asarray(reference, dtype="float64").ravel()
    s = np.asarray(sensor, dtype="float64").ravel()
    keep = np.isfinite(r) & np.isfinite(s)
    r, s = r[keep], s[keep]
    if r.size < 3:
        return float("nan"), float("nan"), float("nan"), int(r.size)
    use = np.ones(r.size, bool)
    slope = intercept = float("nan")
    for _ in range(max(1, iterations)):
        slope, intercept = _line(r[use], s[use], method)
        res = s - (slope * r + intercept)
        centre = np.median(res[use])
        sigma = 1.4826 * np.median(np.abs(res[use] - centre))
        new = np.abs(res - centre) <= clip * sigma if sigma > 0 else use
        if np.array_equal(new, use) or new.sum() < 3:
            break
        use = new
    slope, intercept = _line(r[use], s[use], method)
    r2 = float(np.corrcoef(r[use], s[use])[0, 1] ** 2)
    return float(slope), float(intercept), r2, int(use.sum())


def _line(r: np.ndarray, s: np.ndarray, method: Method) -> tuple[float, float]:
    mr, ms = r.mean(), s.mean()
    dr, ds = r - mr, s - ms
    srr, sss, srs = (dr * dr).sum(), (ds * ds).sum(), (dr * ds).sum()
    if srr == 0:
        return float("nan"), float("nan")
    slope = srs / srr if method == "ols" else np.sign(srs) * np.sqrt(sss / srr)
    return float(slope), float(ms - slope * mr)


def _scenes_of(ds: xr.Dataset | xr.DataArray, name: str) -> np.ndarray:
    """Boolean per time step: the scene's sensor or collection is `name`."""
    hit = np.zeros(ds.sizes["time"], bool)
    for coord in ("sensor", "collection"):
        if coord in ds.coords:
            hit |= np.asarray(ds[coord].values).astype(str) == name
    if not hit.any():
        have = sorted(
            {str(v) for c in ("sensor", "collection") if c in ds.coords for v in ds[c].values}
        )
        raise BandError(f"no scene of {name!r} in the cube; it has: {', '.join(have) or 'none'}")
    return hit


def _days(ds: xr.Dataset | xr.DataArray) -> np.ndarray:
    t = ds["solar_day"] if "solar_day" in ds.coords else ds["time"]
    return np.asarray(t.values).astype("datetime64[s]").astype("float64") / 86400.0


def pairs(
    ds: xr.Dataset,
    *,
    index: str,
    sensor: str,
    reference: str,
    max_days: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(reference values, sensor values, number of scene pairs) of pixels valid in both scenes
    of every pair of scenes at most `max_days` apart (solar days). Computes those scenes.

    `sensor` and `reference` are sensor names (`landsat`) or collection ids.
    """
    if index not in ds:
        raise BandError(
            f"calibrate: index {index!r} is not in the cube ({', '.join(map(str, ds.data_vars))})"
        )
    s_pos = np.flatnonzero(_scenes_of(ds, sensor))
    r_pos = np.flatnonzero(_scenes_of(ds, reference))
    days = _days(ds)
    gap = np.abs(days[s_pos][:, None] - days[r_pos][None, :])
    si, ri = np.nonzero(gap <= max_days + 1e-9)
    if si.size == 0:
        return np.empty(0), np.empty(0), 0
    need = np.unique(np.concatenate([s_pos[si], r_pos[ri]]))
    vals = np.asarray(ds[index].isel(time=need).values, dtype="float64")
    at = {int(t): k for k, t in enumerate(need)}
    ref = [vals[at[int(r_pos[j])]].ravel() for j in ri]
    sen = [vals[at[int(s_pos[i])]].ravel() for i in si]
    return np.concatenate(ref), np.concatenate(sen), int(si.size)


def fit(
    ds: xr.Dataset,
    *,
    index: str,
    sensor: str,
    reference: str,
    max_days: float = 1.0,
    method: Method = "rma",
) -> Fit:
    """The relation ``sensor = slope × reference + intercept`` of `index` on paired scenes."""
    ref, sen, n_scenes = pairs(
        ds, index=index, sensor=sensor, reference=reference, max_days=max_days
    )
    slope, intercept, r2, n = fit_line(ref, sen, method=method)
    return Fit(index, sensor, reference, slope, intercept, r2, n, n_scenes, method, max_days)


def apply(ds: xr.Dataset, fits: Iterable[Fit]) -> xr.Dataset:
    """`ds` with each fit's index rescaled onto the reference on its sensor's scenes (lazy).

    Fits that are not `ok` (too few pairs) are skipped.
    """
    out = ds.copy()
    for f in fits:
        if not f.ok:
            continue
        if f.index not in out:
            raise BandError(f"calibrate: index {f.index!r} is not in the cube")
        on = xr.DataArray(_scenes_of(out, f.sensor), dims="time", coords={"time": out.time})
        da = out[f.index]
        out[f.index] = xr.where(on, f.to_reference(da), da, keep_attrs=True).astype(da.dtype)
    return out


def harmonise(
    ds: xr.Dataset,
    *,
    reference: str,
    indices: Sequence[str] | None = None,
    max_days: float = 1.0,
    method: Method = "rma",
    apply_fit: bool = True,
    known: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[xr.Dataset, list[Fit]]:
    """Fit every other sensor of `ds` against `reference` for each index; apply if asked.

    Returns the (possibly rescaled) dataset and the fits, `applied` set on those used.
    `known` fits (as `from_attrs` gives them: an update after a sensor switch, whose new
    scenes no longer overlap the reference's) are applied as they are instead of refitted.
    """
    if "sensor" not in ds.coords:
        raise DataError("calibrate: the cube has no `sensor` coordinate (one sensor only?)")
    kept = [Fit(**dict(f)) for f in known or [] if indices is None or f["index"] in indices]
    if kept:
        return (apply(ds, [f for f in kept if f.applied]) if apply_fit else ds), kept
    from . import sensors

    ref_name = sensors.for_name(reference).name
    names = list(dict.fromkeys(np.asarray(ds["sensor"].values).astype(str).tolist()))
    fits = []
    for other in (n for n in names if n != ref_name):
        for index in indices or [str(v) for v in ds.data_vars]:
            f = fit(
                ds, index=index, sensor=other, reference=ref_name, max_days=max_days, method=method
            )
            fits.append(Fit(**{**asdict(f), "applied": apply_fit and f.ok}))
    return (apply(ds, fits) if apply_fit else ds), fits


def continuity(ds: xr.Dataset, *, reference: str, switch: dt.date) -> xr.Dataset:
    """One series of two sensor eras: `reference`'s scenes before `switch`, the others' from
    it (solar days). Calibrate first (`harmonise`): the fit needs the years both observed."""
    from . import sensors

    ref = _scenes_of(ds, sensors.for_name(reference).name)
    cut = np.datetime64(switch, "D").astype("datetime64[s]").astype("float64") / 86400.0
    days = np.floor(_days(ds) + 1e-9)
    keep = np.where(ref, days < cut, days >= cut)
    return ds.isel(time=np.flatnonzero(keep))


def period_sensors(scenes: xr.Dataset, composites: xr.Dataset) -> np.ndarray:
    """Per period of `composites`, the sensors of the `scenes` inside it, joined by "+"
    ("" for a period without scenes): the ``sensor`` coordinate of a continuity series."""
    days = np.floor(_days(scenes) + 1e-9)
    names = np.asarray(scenes["sensor"].values).astype(str)
    to_day = "datetime64[D]"
    starts = np.asarray(composites["time"].values).astype(to_day).astype("float64")
    ends = np.asarray(composites["period_end"].values).astype(to_day).astype("float64")
    out = []
    for a, b in zip(starts, ends, strict=True):
        inside = names[(days >= a) & (days <= b)]
        out.append("+".join(dict.fromkeys(sorted(inside))))
    return np.asarray(out)


def to_attrs(fits: Iterable[Fit]) -> str:
    """The fits as a JSON string, for a dataset attribute (Zarr/NetCDF-safe)."""
    return json.dumps([f.to_dict() for f in fits])


def from_attrs(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fits stored by `to_attrs` in ``attrs["calibration"]`` (empty if none)."""
    text = attrs.get("calibration")
    return json.loads(text) if text else []


def from_store(path: str | Path) -> list[dict[str, Any]]:
    """The fits recorded in a composites store (``OUT/composites.zarr``); empty if none.

    For `run.json`: ``done["calibration"] = calibrate.from_store(out / "composites.zarr")``.
    """
    if not Path(path).exists():
        return []
    return from_attrs(xr.open_zarr(path).attrs)
