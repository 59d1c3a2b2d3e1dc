"""Validity masks: Sentinel-2 SCL classes, nodata, and dilation of clouds/shadows in metres."""

from __future__ import annotations

from collections.abc import Iterable

import dask.array as darr
import numpy as np
import xarray as xr
from scipy import ndimage

__all__ = ["apply", "dilate", "disk", "scl_invalid", "valid"]

#: SCL classes that are "no data" rather than cloud: never dilated
_NODATA_CLASSES = frozenset({0, 1})


def scl_invalid(scl: xr.DataArray, classes: Iterable[int]) -> xr.DataArray:
    """True where the SCL class is one of `classes`."""
    return scl.isin(list(classes))


def disk(radius_px: float) -> np.ndarray:
    """Boolean disk structuring element of the given radius in pixels."""
    r = int(np.floor(radius_px))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (yy**2 + xx**2) <= radius_px**2


def dilate(flag: xr.DataArray, *, metres: float, resolution: float | None = None) -> xr.DataArray:
    """Grow True regions of a (…, y, x) boolean array by `metres` (a disk), scene by scene.

    Works lazily on dask arrays (chunks overlap by the radius) and eagerly on numpy.
    """
    res = resolution or abs(float(flag.x[1] - flag.x[0]))
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
    scl_classes: Iterable[int] = (0, 1, 3, 8, 9, 10),
    dilate_m: float = 0,
    qa_band: str = "scl",
    bands: Iterable[str] | None = None,
) -> xr.DataArray:
    """Boolean (time, y, x): True where a pixel is usable.

    Invalid: the SCL `scl_classes` (clouds, shadows, … grown by `dilate_m` metres; the
    no-data classes 0 and 1 are not grown), and NaN in any reflectance band.
    """
    classes = set(scl_classes)
    scl = cube[qa_band]
    if dilate_m > 0:
        cloudy = dilate(scl_invalid(scl, classes - _NODATA_CLASSES), metres=dilate_m)
        bad = cloudy | scl_invalid(scl, classes & _NODATA_CLASSES)
    else:
        bad = scl_invalid(scl, classes)
    names = list(bands) if bands is not None else [v for v in cube.data_vars if v != qa_band]
    for name in names:
        bad = bad | cube[name].isnull()
    out = ~bad
    out.name = "valid"
    return out


def apply(cube: xr.Dataset, ok: xr.DataArray, *, qa_band: str = "scl") -> xr.Dataset:
    """Reflectance bands with invalid pixels set to NaN; the QA band dropped."""
    return cube.drop_vars(qa_band, errors="ignore").where(ok)
