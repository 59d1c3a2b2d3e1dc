"""Level-3 syntheses per period: WASP-like weighted average and FORCE-like best available pixel.

Both take a scene cube (time, y, x) and its Sentinel-2 SCL band and return one image per period
(`time` = period start, coordinates `period_end` and `period_of_year`, as `composite.composite`).
Scenes are dated by their `solar_day` coordinate when present, else by `time`, to the day.
A period's window is centred on its middle day, (first day + last day) / 2, so a scene's offset
from the centre is a multiple of half a day; scenes within ± window_days / 2 take part.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import dask.array as darr
import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from ..aoi import ground_resolution
from ..errors import InputError
from .periods import Period, periods

__all__ = ["FLAGS", "best_available_pixel", "check_bap", "check_weighted", "weighted_synthesis"]

#: `flag` values of `weighted_synthesis` (WASP Level-3A convention)
FLAGS = {"nodata": 0, "cloud": 1, "snow": 2, "water": 3, "land": 4}
_NODATA, _CLOUD, _SNOW, _WATER, _LAND = range(5)
_SCL_WATER, _SCL_SNOW = 6, 11
_ATTRS: dict[str, dict[str, Any]] = {
    # offsets in days from the period start; not CF time units, which readers would decode
    "weighted_date": {"long_name": "weighted mean date, days after the period start"},
    "flag": {"flag_values": list(FLAGS.values()), "flag_meanings": " ".join(FLAGS)},
    "bap_date": {"long_name": "date of the chosen observation, days after the period start"},
    "bap_score": {"long_name": "BAP score of the chosen observation"},
    "bap_count": {"long_name": "candidate observations in the window"},
}
DateLike = dt.date | str | None


# --------------------------------------------------------------------------- shared helpers


def _check(
    name: str, value: float, low: float, high: float = math.inf, open_low: bool = False
) -> None:
    ok = math.isfinite(value) and (value > low if open_low else value >= low) and value <= high
    if not ok:
        side = f"> {low}" if open_low else f">= {low}"
        rng = side if high == math.inf else f"{side} and <= {high}"
        raise InputError(f"must be a number {rng}; got {value!r}", field=name)


def _prepare(ds: xr.Dataset, scl: xr.DataArray, date_coord: str):
    """Variables to synthesise, scenes sorted by day, and the scene days (int days since 1970)."""
    names = [str(v) for v in ds.data_vars if v != scl.name]
    bad = [n for n in names if not np.issubdtype(ds[n].dtype, np.floating)]
    if not names or bad:
        raise InputError(
            f"ds: needs float variables (NaN = invalid) besides the SCL band; "
            f"{'not float: ' + ', '.join(bad) if bad else 'none found'}"
        )
    same_time = "time" not in scl.coords or np.array_equal(scl.time.values, ds.time.values)
    if not same_time or any(scl.sizes.get(d) != ds.sizes.get(d) for d in ("time", "y", "x")):
        raise InputError(
            f"scl: must be the SCL of the scenes of ds, dims (time, y, x) and the same times; "
            f"got {dict(scl.sizes)} for ds {dict(ds.sizes)}"
        )
    source = ds[date_coord] if date_coord in ds.coords else ds["time"]
    days = pd.DatetimeIndex(source.values).normalize().values.astype("datetime64[D]")
    order = np.argsort(days, kind="stable")
    ds, scl = ds.isel(time=order), scl.isel(time=order)
    return ds, scl, names, days[order].astype("int64")


def _per_scene(ds: xr.Dataset, mapping: Mapping[str, float] | None, param: str) -> np.ndarray:
    """One factor per scene from its `sensor` (or `platform`) coordinate; 1 when unlisted."""
    n = ds.sizes["time"]
    if mapping is None:
        return np.ones(n)
    key = next((k for k in ("sensor", "platform") if k in ds.coords), None)
    if key is None:
        raise InputError(
            f"{param}: ds has no per-scene 'sensor' or 'platform' coordinate to look up; "
            f"add one (ds.assign_coords(platform=('time', [...]))) or pass {param}=None"
        )
    for k, v in mapping.items():
        _check(f"{param}[{k!r}]", float(v), 0.0)
    return np.array([float(mapping.get(str(s), 1.0)) for s in ds[key].values])


def _classes(scl: Any, cloud: Iterable[int], nodata: Iterable[int]) -> Any:
    """SCL → int8 class codes: 0 no data, 1 cloud/shadow, 2 snow, 3 water, 4 land."""
    cloud, nodata = list(cloud), list(nodata)

    def codes(block: np.ndarray) -> np.ndarray:
        return np.select(
            [
                np.isin(block, nodata),
                np.isin(block, cloud),
                block == _SCL_SNOW,
                block == _SCL_WATER,
            ],
            [_NODATA, _CLOUD, _SNOW, _WATER],
            _LAND,
        ).astype("int8")

    if isinstance(scl, darr.Array):
        return darr.map_blocks(codes, scl, dtype="int8")
    return codes(np.asarray(scl))


def _cloud_distance(cls: Any, res: tuple[float, float], cap_m: float) -> Any:
    """Per scene: metres from each pixel to the nearest cloud/shadow pixel, capped at `cap_m`.

    Capping makes the result independent of spatial chunks: dask blocks overlap by the cap.
    """

    def dist(block: np.ndarray) -> np.ndarray:
        out = np.full(block.shape, cap_m)
        for i, scene in enumerate(block):
            cloudy = scene == _CLOUD
            if cloudy.any():
                d = ndimage.distance_transform_edt(~cloudy, sampling=res)
                out[i] = np.minimum(np.asarray(d), cap_m)
        return out

    if not isinstance(cls, darr.Array):
        return dist(np.asarray(cls))
    depth = {1: math.ceil(cap_m / res[0]) + 1, 2: math.ceil(cap_m / res[1]) + 1}
    chunks = cls.chunks
    for axis in (1, 2):  # blocks smaller than the overlap: whole scenes along that axis
        if min(cls.chunks[axis]) < depth[axis]:
            cls, depth[axis] = cls.rechunk({axis: -1}), 0
    # back on the caller's chunks: the kernels run blockwise with the other arrays
    return cls.map_overlap(dist, depth=depth, boundary="none", dtype="float64").rechunk(chunks)


def _synthesise(
    ds: xr.Dataset,
    scl: xr.DataArray,
    *,
    period: Period,
    window_days: float,
    start: DateLike,
    end: DateLike,
    date_coord: str,
    cloud_classes: Iterable[int],
    nodata_classes: Iterable[int],
    cap_m: float,
    target: Callable[[int, int], float],
    kernel: Callable[..., np.ndarray],
    sensor: tuple[Mapping[str, float] | None, str],
    suffixes: tuple[str, ...],
    extra: list[tuple[str, str]],
    method: str,
) -> xr.Dataset:
    """Run `kernel` on the window of every period; assemble outputs like `composite`."""
    _check("window_days", float(window_days), 0.0, open_low=True)
    ds, scl, names, days = _prepare(ds, scl, date_coord)
    table = periods(
        start if start is not None else days.min().astype("datetime64[D]").item(),
        end if end is not None else days.max().astype("datetime64[D]").item(),
        period,
    )
    if table.empty:
        raise InputError(f"end must not be before start; got start={start!r}, end={end!r}")
    res = ground_resolution(ds)  # metres, on a geographic grid too
    arrays = [scl.transpose("time", "y", "x").data] + [
        ds[n].transpose("time", "y", "x").data for n in names
    ]
    lazy = any(isinstance(a, darr.Array) for a in arrays)
    if lazy:
        ref = next(a for a in arrays if isinstance(a, darr.Array))
        chunks = {0: 1, 1: ref.chunks[1], 2: ref.chunks[2]}
        arrays = [darr.asarray(a).rechunk(chunks) for a in arrays]
    cls = _classes(arrays[0], cloud_classes, nodata_classes)
    dist = _cloud_distance(cls, res, cap_m)
    per_scene = _per_scene(ds, *sensor)
    spec = [(n + x, "int16" if x == "_count" else "float32") for n in names for x in suffixes]
    spec += extra
    ny, nx = ds.sizes["y"], ds.sizes["x"]
    results = []
    for first, last in zip(table["start"].values, table["end"].values, strict=True):
        d0 = int(first.astype("datetime64[D]").astype("int64"))
        d1 = int(last.astype("datetime64[D]").astype("int64"))
        centre = target(d0, d1)
        idx = np.flatnonzero(np.abs(days - centre) <= window_days / 2)
        kw = {
            "delta": np.abs(days[idx] - centre),
            "offset": (days[idx] - d0).astype("float64"),
            "sensor": per_scene[idx],
        }
        if not idx.size:  # nothing in the window: the kernel's answer on an empty stack
            empty = [np.empty((0, ny, nx), a.dtype) for a in (cls, dist, *arrays[1:])]
            out = kernel(*empty, **kw)
            if lazy:
                out = darr.from_array(out, chunks=(-1, cls.chunks[1], cls.chunks[2]))
        elif lazy:
            ins = [a[idx].rechunk({0: -1}) for a in (cls, dist, *arrays[1:])]
            out = darr.map_blocks(
                kernel,
                *ins,
                **kw,
                dtype="float64",
                chunks=((len(spec),), cls.chunks[1], cls.chunks[2]),
            )
        else:
            out = kernel(cls[idx], dist[idx], *(a[idx] for a in arrays[1:]), **kw)
        results.append(out)
    stack = (darr.stack if lazy else np.stack)(results)
    coords = {k: ds[k] for k in ("y", "x", "spatial_ref") if k in ds.coords}
    result = xr.Dataset(coords={"time": table["start"].values, **coords})
    for i, (name, dtype) in enumerate(spec):
        attrs = _ATTRS.get(name, {"long_name": f"summed weight of {name[:-7]} observations"})
        if name.endswith("_count") and name not in _ATTRS:
            attrs = {"long_name": f"observations of {name[:-6]} weighing in the period"}
        if name in ds:
            attrs = {**ds[name].attrs, "cell_methods": f"time: {method}"}
        result[name] = xr.DataArray(stack[:, i].astype(dtype), dims=("time", "y", "x"), attrs=attrs)
    result.attrs = {**ds.attrs, "period": period, "synthesis": method, "window_days": window_days}
    return result.assign_coords(
        period_end=("time", table["end"].values),
        period_of_year=("time", table["period_of_year"].values),
    )


# --------------------------------------------------------------------------- WASP


def _wasp_kernel(cls, dist, *vals, delta, offset, sensor, half, t_min, d_max, c_min):
    w_time = 1.0 - (1.0 - t_min) * (delta / half)  # float division, never integer
    w = np.maximum(c_min, np.minimum(1.0, dist / d_max)) * (w_time * sensor)[:, None, None]
    finite = [np.isfinite(v) for v in vals]
    usable = (cls >= _SNOW) & np.logical_or.reduce(finite)  # snow, water or land
    w = np.where(usable & (w > 0), w, 0.0)
    cand = np.array([_LAND, _WATER, _SNOW])  # ties go to land, then water
    sums = np.stack([np.where(cls == c, w, 0.0).sum(0) for c in cand])
    flag = np.where(
        sums.max(0) > 0, cand[sums.argmax(0)], np.where((cls == _CLOUD).any(0), _CLOUD, _NODATA)
    )
    w = np.where(cls == flag, w, 0.0)
    out = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for v, f in zip(vals, finite, strict=True):
            wv = np.where(f, w, 0.0)
            total = wv.sum(0)
            out += [(wv * np.where(f, v, 0.0)).sum(0) / total, total, (wv > 0).sum(0)]
        date = (w * offset[:, None, None]).sum(0) / w.sum(0)
    return np.stack([*out, date, flag])


def _check_mapping(name: str, mapping: Mapping[str, float] | None) -> None:
    for k, v in (mapping or {}).items():
        _check(f"{name}[{k!r}]", float(v), 0.0)


def check_weighted(
    *,
    window_days: float = 46.0,
    cloud_distance_max_m: float = 1000.0,
    cloud_weight_min: float = 0.1,
    temporal_weight_min: float = 0.5,
    sensor_weights: Mapping[str, float] | None = None,
) -> None:
    """Raise `ValueError` naming the first parameter of `weighted_synthesis` out of range."""
    _check("window_days", float(window_days), 0.0, open_low=True)
    _check("cloud_distance_max_m", float(cloud_distance_max_m), 0.0, open_low=True)
    _check("cloud_weight_min", float(cloud_weight_min), 0.0, 1.0)
    _check("temporal_weight_min", float(temporal_weight_min), 0.0, 1.0)
    _check_mapping("sensor_weights", sensor_weights)


def check_bap(
    *,
    window_days: float = 46.0,
    target: Literal["centre", "start", "end"] | float = "centre",
    doy_sigma_days: float = 10.0,
    cloud_distance_req_m: float = 3000.0,
    w_doy: float = 1.0,
    w_cloud: float = 0.4,
    w_sensor: float = 1.0,
    sensor_weights: Mapping[str, float] | None = None,
) -> None:
    """Raise `ValueError` naming the first parameter of `best_available_pixel` out of range."""
    _check("window_days", float(window_days), 0.0, open_low=True)
    _check("doy_sigma_days", float(doy_sigma_days), 0.0, open_low=True)
    _check("cloud_distance_req_m", float(cloud_distance_req_m), 0.0, open_low=True)
    for name, value in (("w_doy", w_doy), ("w_cloud", w_cloud), ("w_sensor", w_sensor)):
        _check(name, float(value), 0.0)
    if isinstance(target, str):
        if target not in ("centre", "start", "end"):
            raise InputError(
                f"target must be 'centre', 'start', 'end' or days after the period start; "
                f"got {target!r}"
            )
    else:
        _check("target", float(target), -math.inf)
    _check_mapping("sensor_weights", sensor_weights)


def weighted_synthesis(
    ds: xr.Dataset,
    *,
    scl: xr.DataArray,
    period: Period = "dekad",
    window_days: float = 46.0,
    start: DateLike = None,
    end: DateLike = None,
    cloud_distance_max_m: float = 1000.0,
    cloud_weight_min: float = 0.1,
    temporal_weight_min: float = 0.5,
    sensor_weights: Mapping[str, float] | None = None,
    cloud_classes: Iterable[int] = (3, 8, 9, 10),
    nodata_classes: Iterable[int] = (0, 1),
    date_coord: str = "solar_day",
) -> xr.Dataset:
    """Weighted-average synthesis per period, after CNES/THEIA WASP Level-3A (Hagolle et al.).

    Each observation of a pixel gets weight w = w_cloud · w_time · w_sensor:

    - w_cloud = max(`cloud_weight_min`, min(1, d / `cloud_distance_max_m`)), d the distance in
      metres (pixel size from the x/y spacing) to the nearest `cloud_classes` pixel of the same
      scene (`scipy.ndimage.distance_transform_edt`); 1 in a scene without cloud;
    - w_time = 1 − (1 − `temporal_weight_min`) · |day − centre| / (window_days / 2), a float;
    - w_sensor = `sensor_weights[scene's sensor or platform coordinate]`, 1 when unlisted
      (WASP gives Landsat 8 0.33 against Sentinel-2's 1).

    Cloud/shadow and `nodata_classes` pixels, and pixels NaN in every variable, weigh 0.
    A pixel's `flag` (see `FLAGS`) is the class — land (any other SCL class), water (6) or
    snow (11) — with the largest summed weight, and only that class's observations are
    averaged, so a snowy date never blurs a land synthesis; 1 (cloud) when the window held
    only cloud/shadow observations, 0 when it held nothing usable at all.

    Returns per variable `<var>` = Σw·x / Σw (float32, NaN where Σw = 0), `<var>_weight`
    = Σw (float32) and `<var>_count` (int16, observations with w > 0); `weighted_date`
    (float32, weighted mean acquisition day in days since the period start, i.e. since
    `time`; NaN where nothing); `flag` (uint8).

    Dask: scenes are processed one at a time; the distance transform runs per spatial chunk
    with an overlap of `cloud_distance_max_m` (exact, since w_cloud saturates there); chunks
    smaller than that overlap are rechunked to whole scenes. Results equal the numpy ones.
    """
    check_weighted(
        window_days=window_days,
        cloud_distance_max_m=cloud_distance_max_m,
        cloud_weight_min=cloud_weight_min,
        temporal_weight_min=temporal_weight_min,
        sensor_weights=sensor_weights,
    )
    kernel = functools.partial(
        _wasp_kernel,
        half=window_days / 2,
        t_min=float(temporal_weight_min),
        d_max=float(cloud_distance_max_m),
        c_min=float(cloud_weight_min),
    )

    return _synthesise(
        ds,
        scl,
        period=period,
        window_days=window_days,
        start=start,
        end=end,
        date_coord=date_coord,
        cloud_classes=cloud_classes,
        nodata_classes=nodata_classes,
        cap_m=float(cloud_distance_max_m),
        target=lambda d0, d1: (d0 + d1) / 2,
        kernel=kernel,
        sensor=(sensor_weights, "sensor_weights"),
        suffixes=("", "_weight", "_count"),
        extra=[("weighted_date", "float32"), ("flag", "uint8")],
        method="weighted mean (WASP)",
    )


# --------------------------------------------------------------------------- BAP


def _bap_kernel(cls, dist, *vals, offset, base, w_cloud, d_req):
    s_cloud = 1.0 / (1.0 + np.exp(-10.0 / d_req * (dist - d_req / 2)))
    ok = ((cls == _LAND) | (cls == _WATER)) & np.logical_and.reduce([np.isfinite(v) for v in vals])
    score = np.where(ok, base[:, None, None] + w_cloud * s_cloud, -np.inf)
    count = ok.sum(0)
    if cls.shape[0] == 0:
        nan = np.full(cls.shape[1:], np.nan)
        return np.stack([*(nan for _ in vals), nan, nan, count])
    pick = score.argmax(0)[None]  # ties go to the earlier scene
    none = count == 0

    def chosen(a: np.ndarray) -> np.ndarray:
        return np.where(none, np.nan, np.take_along_axis(a, pick, 0)[0])

    date = np.broadcast_to(offset[:, None, None], cls.shape)
    return np.stack([*(chosen(v) for v in vals), chosen(date), chosen(score), count])


def best_available_pixel(
    ds: xr.Dataset,
    *,
    scl: xr.DataArray,
    period: Period = "dekad",
    target: Literal["centre", "start", "end"] | float = "centre",
    window_days: float = 46.0,
    doy_sigma_days: float = 10.0,
    cloud_distance_req_m: float = 3000.0,
    w_doy: float = 1.0,
    w_cloud: float = 0.4,
    w_sensor: float = 1.0,
    sensor_weights: Mapping[str, float] | None = None,
    start: DateLike = None,
    end: DateLike = None,
    cloud_classes: Iterable[int] = (3, 8, 9, 10),
    nodata_classes: Iterable[int] = (0, 1),
    date_coord: str = "solar_day",
) -> xr.Dataset:
    """Best available pixel per period, after FORCE Level-3 BAP (Griffiths et al. 2013).

    Candidates: land or water observations (SCL other than `cloud_classes`, `nodata_classes`
    and snow; FORCE screens snow by default) finite in every variable, on scenes within
    ± window_days / 2 of the target day. Each gets the score

        w_doy · exp(−½ (Δ / doy_sigma_days)²) + w_cloud · 1 / (1 + exp(−10 / D · (d − D / 2)))
        + w_sensor · sensor_weights[scene's sensor or platform coordinate] (1 when unlisted)

    with Δ the days from the target, D = `cloud_distance_req_m` (FORCE's DREQ, where the cloud
    score approaches 1) and d the metres to the nearest cloud/shadow pixel of the scene, capped
    at D (a scene without cloud has d = D). The highest score wins; ties go to the earlier
    scene. `target` is the period's middle day ("centre"), first ("start") or last ("end")
    day, or a float number of days after the period start; the window is centred on it.

    Returns `<var>` (all variables from the same chosen observation, float32), `bap_date`
    (float32, the chosen scene's day in days since the period start, i.e. since `time`),
    `bap_score` (float32) and `bap_count` (int16, candidates); NaN / 0 where none.
    Dask as in `weighted_synthesis`, with the overlap `cloud_distance_req_m`.
    """
    check_bap(
        window_days=window_days,
        target=target,
        doy_sigma_days=doy_sigma_days,
        cloud_distance_req_m=cloud_distance_req_m,
        w_doy=w_doy,
        w_cloud=w_cloud,
        w_sensor=w_sensor,
        sensor_weights=sensor_weights,
    )
    targets: dict[str, Callable[[int, int], float]] = {
        "centre": lambda d0, d1: (d0 + d1) / 2,
        "start": lambda d0, d1: float(d0),
        "end": lambda d0, d1: float(d1),
    }
    if isinstance(target, str):
        at = targets[target]
    else:
        shift = float(target)

        def at(d0: int, d1: int) -> float:
            return d0 + shift

    def kernel(*a: Any, delta: np.ndarray, sensor: np.ndarray, **k: Any) -> np.ndarray:
        base = w_doy * np.exp(-0.5 * (delta / doy_sigma_days) ** 2) + w_sensor * sensor
        return _bap_kernel(*a, base=base, w_cloud=w_cloud, d_req=cloud_distance_req_m, **k)

    return _synthesise(
        ds,
        scl,
        period=period,
        window_days=window_days,
        start=start,
        end=end,
        date_coord=date_coord,
        cloud_classes=cloud_classes,
        nodata_classes=nodata_classes,
        cap_m=float(cloud_distance_req_m),
        target=at,
        kernel=kernel,
        sensor=(sensor_weights, "sensor_weights"),
        suffixes=("",),
        extra=[("bap_date", "float32"), ("bap_score", "float32"), ("bap_count", "int16")],
        method="best available pixel (BAP)",
    )
