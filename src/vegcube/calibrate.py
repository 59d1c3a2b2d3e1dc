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

With ``per_pixel``, each pixel also gets its own offset from the line: the mean of its pairs'
residuals, shrunk towards 0 by its sampling error (`pixel_offsets`). Two sensors seldom see a
pixel through the same footprint (MODIS's fixed 1 km grid, SLSTR's swath pixels falling
differently on every orbit), so on mixed land one line leaves a lasting per-pixel bias that a
reference of the older sensor's years reads as an anomaly after a switch.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
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
    "pixel_offsets",
    "to_attrs",
]

Method = Literal["rma", "ols"]
#: fewer pixel pairs than this: no fit (NaN), nothing applied
MIN_PAIRS = 50
#: fewer pairs than this at a pixel: no offset of its own (the line alone)
MIN_PIXEL_PAIRS = 5


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
    per_pixel: bool = False
    #: per_pixel: the spread (sd) of the pixels' offsets, in the index's unit
    offset_sd: float | None = None
    #: per_pixel: each pixel's offset from the line (y, x), None when not computed or loaded
    offsets: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when enough pairs gave a usable (finite, non-zero slope) relation."""
        return bool(self.n >= MIN_PAIRS and np.isfinite(self.slope) and self.slope != 0)

    def to_reference(self, values: Any) -> Any:
        """Sensor values mapped onto the reference scale: (value − intercept − offset) / slope,
        the pixel's offset (0 without `offsets`) broadcast over the last two axes (y, x)."""
        if self.offsets is None:
            return (values - self.intercept) / self.slope
        off: Any = self.offsets
        if tuple(np.shape(values)[-2:]) != off.shape:
            raise DataError(
                f"calibrate: the per-pixel offsets of {self.index} ({self.sensor}) are "
                f"{off.shape[0]} × {off.shape[1]} px; the cube is "
                f"{' × '.join(map(str, np.shape(values)[-2:]))} (a different grid?)"
            )
        if isinstance(values, xr.DataArray):
            off = xr.DataArray(off, dims=values.dims[-2:])  # positional: no label alignment
        return (values - self.intercept - off) / self.slope

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN as None), without the offsets' array."""
        return {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in ((f.name, getattr(self, f.name)) for f in fields(self))
            if k != "offsets"
        }

    @property
    def key(self) -> str:
        """``<index>_<sensor>``: the name of this fit's offsets in ``OUT/calibration.zarr``."""
        return f"{self.index}_{self.sensor}"


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
    vals, ref_at, sen_at = _paired(ds, index, sensor, reference, max_days)
    return _flat(vals, ref_at), _flat(vals, sen_at), len(ref_at)


def _flat(vals: np.ndarray, at: Sequence[int]) -> np.ndarray:
    """The scenes `at` of `vals` (scene, y, x), one after the other, flattened."""
    return np.concatenate([vals[k].ravel() for k in at]) if at else np.empty(0)


def _paired(
    ds: xr.Dataset, index: str, sensor: str, reference: str, max_days: float
) -> tuple[np.ndarray, list[int], list[int]]:
    """The values of `index` in the scenes of every pair (scene, y, x; computed now) and,
    per pair, the positions of its reference scene and of its sensor scene in them."""
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
        return np.empty((0, 0, 0)), [], []
    need = np.unique(np.concatenate([s_pos[si], r_pos[ri]]))
    vals = np.asarray(ds[index].isel(time=need).values, dtype="float64")
    at = {int(t): k for k, t in enumerate(need)}
    return vals, [at[int(r_pos[j])] for j in ri], [at[int(s_pos[i])] for i in si]


def pixel_offsets(
    vals: np.ndarray,
    ref_at: Sequence[int],
    sen_at: Sequence[int],
    slope: float,
    intercept: float,
    *,
    clip: float = 3.5,
) -> np.ndarray:
    """Each pixel's offset from the line ``sensor = slope × reference + intercept`` (y, x):
    the mean residual of its pairs, shrunk towards 0 by its sampling error.

    Residuals beyond `clip` robust standard deviations of all pixels' are dropped (as the
    line's fit drops them). The shrinkage is the empirical-Bayes (James–Stein) one: with
    within-pixel variance v (pooled) and between-pixel variance τ² of the true offsets
    (the spread of the pixel means beyond what v/n gives), a pixel of n pairs keeps
    τ² / (τ² + v/n) of its mean: all of it when the offsets are real and well sampled,
    nothing when they are noise. Fewer than `MIN_PIXEL_PAIRS` pairs: 0.
    """
    shape = vals.shape[1:]
    n = np.zeros(shape)
    total = np.zeros(shape)
    square = np.zeros(shape)
    res = [vals[s] - (slope * vals[r] + intercept) for r, s in zip(ref_at, sen_at, strict=True)]
    every = np.concatenate([e[np.isfinite(e)] for e in res]) if res else np.empty(0)
    if every.size < 3:
        return np.zeros(shape)
    centre = float(np.median(every))
    sigma = 1.4826 * float(np.median(np.abs(every - centre)))
    for e in res:
        ok = np.isfinite(e) & (np.abs(e - centre) <= clip * sigma if sigma > 0 else True)
        n += ok
        total += np.where(ok, e, 0.0)
        square += np.where(ok, e * e, 0.0)
    enough = n >= MIN_PIXEL_PAIRS
    if enough.sum() < 2:
        return np.zeros(shape)
    mean = np.where(enough, total / np.maximum(n, 1), 0.0)
    within = (square - n * mean**2)[enough].sum() / max(float((n - 1)[enough].sum()), 1.0)
    error = within / np.maximum(n, 1)  # the sampling variance of each pixel's mean
    between = max(float(np.var(mean[enough]) - np.mean(error[enough])), 0.0)
    keep = between / (between + error) if between > 0 else np.zeros(shape)
    return np.where(enough, keep * mean, 0.0)


def fit(
    ds: xr.Dataset,
    *,
    index: str,
    sensor: str,
    reference: str,
    max_days: float = 1.0,
    method: Method = "rma",
    per_pixel: bool = False,
) -> Fit:
    """The relation ``sensor = slope × reference + intercept`` of `index` on paired scenes
    (with `per_pixel`, and each pixel's offset from it: `pixel_offsets`)."""
    vals, ref_at, sen_at = _paired(ds, index, sensor, reference, max_days)
    slope, intercept, r2, n = fit_line(_flat(vals, ref_at), _flat(vals, sen_at), method=method)
    f = Fit(index, sensor, reference, slope, intercept, r2, n, len(ref_at), method, max_days)
    if not per_pixel or not f.ok:
        return f
    off = pixel_offsets(vals, ref_at, sen_at, slope, intercept)
    return replace(f, per_pixel=True, offset_sd=float(np.std(off)), offsets=off)


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
    per_pixel: bool = False,
    known: Sequence[Mapping[str, Any]] | None = None,
    offsets: Mapping[str, np.ndarray] | None = None,
) -> tuple[xr.Dataset, list[Fit]]:
    """Fit every other sensor of `ds` against `reference` for each index (`per_pixel`: and
    each pixel's offset); apply if asked.

    Returns the (possibly rescaled) dataset and the fits, `applied` set on those used.
    `known` fits (as `from_attrs` gives them: an update after a sensor switch, whose new
    scenes no longer overlap the reference's) are applied as they are instead of refitted,
    with their per-pixel `offsets` (by `Fit.key`, as `OUT/calibration.zarr` holds them).
    """
    if "sensor" not in ds.coords:
        raise DataError("calibrate: the cube has no `sensor` coordinate (one sensor only?)")
    kept = [Fit(**dict(f)) for f in known or [] if indices is None or f["index"] in indices]
    for i, f in enumerate(kept):
        if f.per_pixel:
            if offsets is None or f.key not in offsets:
                raise DataError(
                    f"calibrate: the history's fit of {f.index} ({f.sensor}) has per-pixel "
                    f"offsets, but {f.key!r} is not in calibration.zarr: run the whole series"
                )
            kept[i] = replace(f, offsets=np.asarray(offsets[f.key]))
    if kept:
        return (apply(ds, [f for f in kept if f.applied]) if apply_fit else ds), kept
    from . import sensors

    ref_name = sensors.for_name(reference).name
    names = list(dict.fromkeys(np.asarray(ds["sensor"].values).astype(str).tolist()))
    fits = []
    for other in (n for n in names if n != ref_name):
        for index in indices or [str(v) for v in ds.data_vars]:
            f = fit(
                ds, index=index, sensor=other, reference=ref_name, max_days=max_days,
                method=method, per_pixel=per_pixel,
            )  # fmt: skip
            fits.append(replace(f, applied=apply_fit and f.ok))
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
