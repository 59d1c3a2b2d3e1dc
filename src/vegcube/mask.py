"""Validity masks: each sensor's QA decoded (Sentinel-2 SCL, Landsat QA_PIXEL, MODIS VI/state
QA), nodata, dilation of clouds/shadows in metres, and s2cloudless cloud probability from
Sentinel-2 L1C (the `s2cloudless` extra)."""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import dask.array as darr
import numpy as np
import xarray as xr
from scipy import ndimage

from . import sensors as _sensors
from .errors import BandError, InputError, VegcubeError
from .sensors import _bits

__all__ = [
    "CLOUD_PROBABILITY_BANDS",
    "apply",
    "cloud_probability",
    "cloud_probability_model",
    "dilate",
    "disk",
    "probable_clouds",
    "scl_invalid",
    "valid",
]

#: L1C bands s2cloudless reads, in its order (B01, B02, B04, B05, B08, B8A, B09, B10, B11, B12)
CLOUD_PROBABILITY_BANDS = _sensors.SENTINEL2_L1C.cloud_bands


def scl_invalid(scl: xr.DataArray, classes: Iterable[int]) -> xr.DataArray:
    """True where the SCL class is one of `classes`."""
    return _bits.classes(scl, classes)


def disk(radius_px: float) -> np.ndarray:
    """Boolean disk structuring element of the given radius in pixels."""
    r = int(np.floor(radius_px))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (yy**2 + xx**2) <= radius_px**2


def dilate(flag: xr.DataArray, *, metres: float, resolution: float | None = None) -> xr.DataArray:
    """Grow True regions of a (…, y, x) boolean array by `metres` (a disk), scene by scene.

    Works lazily on dask arrays (chunks overlap by the radius) and eagerly on numpy. The
    pixel size is `resolution` (m), else the grid's on the ground (`aoi.ground_resolution`:
    degrees of a geographic grid in metres).
    """
    from .aoi import ground_resolution

    res = resolution or float(np.mean(ground_resolution(flag)))
    radius = metres / res
    if radius < 1:
        return flag
    kernel = disk(radius)
    full = np.zeros((1,) * (flag.ndim - 2) + kernel.shape, bool)
    full[(0,) * (flag.ndim - 2)] = kernel

    def grow(block: np.ndarray) -> np.ndarray:
        return ndimage.binary_dilation(block, structure=full)

    data = flag.data
    if isinstance(data, darr.Array):
        depth = {
            flag.get_axis_num("y"): kernel.shape[0] // 2,
            flag.get_axis_num("x"): kernel.shape[1] // 2,
        }
        out = data.map_overlap(grow, depth=depth, boundary=False, dtype=bool)
    else:
        out = grow(np.asarray(data))
    return flag.copy(data=out)


def valid(
    cube: xr.Dataset,
    *,
    scl_classes: Iterable[Hashable] = _sensors.SENTINEL2.default_flags,
    dilate_m: float = 0,
    qa_band: str | None = None,
    bands: Iterable[str] | None = None,
    qa_flags: Mapping[str, Iterable[Hashable]] | None = None,
) -> xr.DataArray:
    """Boolean (time, y, x): True where a pixel is usable.

    Each scene's QA band is decoded by its sensor (the `sensor` coordinate; a cube without one
    is Sentinel-2): `qa_flags` maps a sensor name (`landsat`, `modis13q1`, …) to the flags it
    masks (its `default_flags` if absent); Sentinel-2 masks the SCL `scl_classes` unless
    `qa_flags` names `sentinel2`. Cloud and shadow flags are grown by `dilate_m` metres, the
    others (no data, fill, snow…) are not. NaN in any of the sensor's bands is invalid too.
    """
    plan = _scene_sensors(cube)
    chosen = {_sensors.SENTINEL2.name: scl_classes, **(qa_flags or {})}
    parts = []
    for sensor, positions in plan:
        sub = cube if positions is None else cube.isel(time=positions)
        flags = chosen.get(sensor.name, sensor.default_flags)
        if qa_band or sensor.qa_band:
            qa_name = qa_band or _qa_name(sub, sensor)
            bad, cloudy = sensor.invalid(sub[qa_name], flags=flags)
            if dilate_m > 0:
                cloudy = dilate(cloudy, metres=dilate_m)
            bad = bad | cloudy
        else:  # no QA band (Sentinel-1 RTC): only missing values are invalid
            qa_name = ""
            first = sub[next(iter(sub.data_vars))]
            bad = xr.zeros_like(first, dtype=bool)
        if bands is not None:
            names = list(bands)
        else:
            qas = _sensors.qa_bands() | {qa_name}
            own = len(plan) > 1  # several sensors: only this sensor's bands are its data
            names = [
                str(v)
                for v in sub.data_vars
                if v not in qas and (not own or v in sensor.asset_aliases)
            ]
        for name in names:
            bad = bad | sub[name].isnull()
        parts.append(~bad)
    if len(parts) == 1:
        out = parts[0]
    else:
        order = np.argsort(np.concatenate([p for _, p in plan if p is not None]))
        out = xr.concat(parts, dim="time", coords="minimal", compat="override").isel(time=order)
    out.name = "valid"
    return out


def _scene_sensors(cube: xr.Dataset) -> list[tuple[_sensors.Sensor, np.ndarray | None]]:
    """(sensor, time positions or None for all) per sensor present in the cube."""
    if "sensor" not in cube.coords:
        coll = str(cube.attrs.get("collection", "sentinel-2-l2a"))
        try:
            return [(_sensors.for_collection(coll), None)]
        except VegcubeError:
            return [(_sensors.SENTINEL2, None)]
    names = np.asarray(cube["sensor"].values).astype(str)
    unique = list(dict.fromkeys(names.tolist()))
    if len(unique) == 1:
        return [(_sensors.for_name(unique[0]), None)]
    return [(_sensors.for_name(u), np.flatnonzero(names == u)) for u in unique]


def _qa_name(cube: xr.Dataset, sensor: _sensors.Sensor) -> str:
    for name in (sensor.qa_band, *sensor.qa_fallbacks):
        if name and name in cube:
            return name
    raise BandError(
        f"mask: the {sensor.name} scenes need their QA band {sensor.qa_band!r}; the cube has "
        f"{', '.join(map(str, cube.data_vars))}"
    )


def apply(
    cube: xr.Dataset, ok: xr.DataArray, *, qa_band: str | Iterable[str] | None = None
) -> xr.Dataset:
    """Data bands with invalid pixels set to NaN; the QA bands dropped (all sensors' by default)."""
    if qa_band is None:
        drop = [v for v in cube.data_vars if v in _sensors.qa_bands()]
    else:
        drop = [qa_band] if isinstance(qa_band, str) else list(qa_band)
    return cube.drop_vars(drop, errors="ignore").where(ok)


# --------------------------------------------------------------------------- s2cloudless


def cloud_probability_model() -> Any:
    """s2cloudless's `S2PixelCloudDetector` (its shipped model; no post-processing), loaded
    once per process; `ModuleNotFoundError` telling how to install the extra if absent."""
    return _detector()


@functools.lru_cache(maxsize=1)
def _detector() -> Any:
    """s2cloudless's detector with the model its package ships (loaded once per process)."""
    try:
        from s2cloudless import S2PixelCloudDetector
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"cloud probability needs s2cloudless ({exc}); install it with "
            "pip install 'vegcube[s2cloudless]'"
        ) from exc
    return S2PixelCloudDetector(all_bands=False, average_over=None, dilation_size=None)


def _predict(block: np.ndarray) -> np.ndarray:
    """(t, y, x, 10) TOA reflectances → (t, y, x) probability; NaN where a band is NaN."""
    ok = np.isfinite(block).all(axis=-1)
    out = np.full(block.shape[:-1], np.nan, np.float32)
    if ok.any():
        pixels = block[ok].astype(np.float64)  # (n, 10): only the pixels with data
        proba = _detector().get_cloud_probability_maps(pixels[np.newaxis, :, np.newaxis, :])
        out[ok] = proba[0, :, 0]
    return out


def _neighbourhood(p: np.ndarray, *, average_over: int, dilation_size: int) -> np.ndarray:
    """s2cloudless's post-processing on a (t, y, x) probability: disk mean, then disk maximum
    (thresholding the result equals thresholding, then dilating). NaN is left out of means."""
    valid = np.isfinite(p)
    out = np.where(valid, p, 0).astype(np.float32)
    if average_over > 0:
        k = disk(average_over)[np.newaxis].astype(np.float32)
        num = ndimage.convolve(out, k, mode="constant")
        den = ndimage.convolve(valid.astype(np.float32), k, mode="constant")
        out = np.where(den > 0, num / np.maximum(den, 1e-6), 0).astype(np.float32)
    if dilation_size > 0:
        out = ndimage.grey_dilation(out, footprint=disk(dilation_size)[np.newaxis])
    return np.where(valid, out, np.nan).astype(np.float32)


def cloud_probability(
    l1c: xr.Dataset,
    *,
    average_over: int = 4,
    dilation_size: int = 2,
    bands: Sequence[str] = CLOUD_PROBABILITY_BANDS,
) -> xr.DataArray:
    """s2cloudless cloud probability (time, y, x) in [0, 1] of an L1C cube, lazily on dask.

    `l1c` holds the ten top-of-atmosphere reflectances s2cloudless reads (`bands`, common
    names, in its order: B01, B02, B04, B05, B08, B8A, B09, B10, B11, B12), as `cube.load`
    gives them for ``sentinel-2-l1c`` (DN / 10000, baseline offset applied). The model runs
    per time step and spatial chunk. As s2cloudless's `get_mask_from_prob`, the probability
    is then averaged over a disk of `average_over` pixels and grown by a disk of
    `dilation_size` pixels (0 skips either), so ``result > threshold`` is its cloud mask.
    NaN where a band is NaN. Needs the `s2cloudless` extra (`ModuleNotFoundError` otherwise).
    """
    _detector()  # fail now, not inside a dask task, when the extra is missing
    missing = [b for b in bands if b not in l1c]
    if missing:
        raise BandError(
            f"cloud probability: the L1C cube lacks band(s) {', '.join(missing)}; it needs "
            f"{', '.join(bands)}"
        )
    stack = xr.concat([l1c[b].astype("float32") for b in bands], dim="band", coords="minimal")
    stack = stack.transpose("time", "y", "x", "band")
    data = stack.data
    if isinstance(data, darr.Array):
        data = data.rechunk({3: -1})
        prob = data.map_blocks(_predict, drop_axis=3, dtype=np.float32)
        r = average_over + dilation_size
        if r > 0:
            prob = prob.map_overlap(
                _neighbourhood,
                depth={1: r, 2: r},
                boundary=np.nan,
                dtype=np.float32,
                average_over=average_over,
                dilation_size=dilation_size,
            )
    else:
        prob = _neighbourhood(
            _predict(np.asarray(data)), average_over=average_over, dilation_size=dilation_size
        )
    coords = {k: v for k, v in l1c.coords.items() if set(v.dims) <= {"time", "y", "x"}}
    out = xr.DataArray(prob, dims=("time", "y", "x"), coords=coords, name="cloud_probability")
    out.attrs = {"long_name": "s2cloudless cloud probability", "units": "1"}
    return out


def probable_clouds(
    scenes: xr.Dataset | xr.DataArray,
    probability: xr.DataArray,
    *,
    threshold: float = 0.4,
    dilate_m: float = 0,
) -> xr.DataArray:
    """Boolean (time, y, x) on the time steps of `scenes`: probability > `threshold`.

    Each Sentinel-2 scene takes the probability of its solar day (the `solar_day`
    coordinates, from `cube.load`); scenes of other sensors, and scenes without an L1C
    scene, get False (their own QA masks them). True regions grow by `dilate_m` metres.
    """
    if not 0 <= threshold <= 1:
        raise InputError(f"threshold must be within 0..1, got {threshold}")
    for dim in ("y", "x"):
        if not np.array_equal(scenes[dim].values, probability[dim].values):
            raise InputError(f"the probability's {dim} coordinates differ from the scenes' grid")

    def days(obj: xr.Dataset | xr.DataArray) -> np.ndarray:
        t = obj["solar_day"] if "solar_day" in obj.coords else obj["time"]
        return np.asarray(t.values).astype("datetime64[D]")

    prob = probability.drop_vars([c for c in probability.coords if c not in ("y", "x")])
    prob = prob.assign_coords(time=days(probability))
    aligned = prob.reindex(time=days(scenes))  # NaN for a scene without its L1C
    flag = (aligned > threshold).data
    out = xr.DataArray(
        flag,
        dims=("time", "y", "x"),
        coords={"time": scenes["time"], "y": scenes["y"], "x": scenes["x"]},
        name="probable_clouds",
    )
    if "sensor" in scenes.coords:
        masked = [s.name for s in _sensors.SENSORS if s.cloud_probability]
        s2 = np.isin(np.asarray(scenes["sensor"].values).astype(str), masked)
        out = out & xr.DataArray(s2, dims="time", coords={"time": scenes["time"]})
    if dilate_m > 0:
        out = dilate(out, metres=dilate_m)
    return out
