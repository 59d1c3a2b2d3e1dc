"""Speckle filters for radar backscatter in linear power: Lee (1980) and refined Lee (1981).

Speckle is multiplicative: an intensity ``z = x·v`` where ``v`` has mean 1 and variance
``1/L`` for ``L`` equivalent looks (ENL). Lee's minimum-mean-square estimate in a window of
mean ``m`` and variance ``s²`` is ``m + b·(z − m)`` with ``b = var(x)/s²`` and
``var(x) = (s² − m²/L)/(1 + 1/L)`` (clipped to [0, 1]): on homogeneous ground ``b`` ≈ 0 (the
window mean), on edges and point targets ``b`` ≈ 1 (the pixel kept). The refined Lee filter
takes its statistics in the half of the window on the pixel's side of the strongest edge
(the edge found from the means of nine 3 × 3 sub-blocks, four orientations × two sides), so
that edges stay sharp while homogeneous ground is smoothed.

Each filter works scene by scene on (…, y, x) arrays, numpy or dask (chunks overlap by
`halo` pixels), NaN-aware (statistics over valid pixels only, NaN stays NaN), all in
vectorised `scipy.ndimage` correlations. Filter the linear power, never dB (the model is
multiplicative). Neither Planetary Computer's RTC nor Earth Engine's collection filters
speckle; the chain applies a filter to each tile read with a halo of `halo(size)` pixels
(recipe ``mask.speckle``) so that tiles join seamlessly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import dask.array as darr
import numpy as np
import xarray as xr
from scipy import ndimage

from .errors import InputError

__all__ = ["FILTERS", "apply", "estimate_looks", "halo", "lee", "refined_lee"]

_Kernel = Callable[..., np.ndarray]


def halo(size: int) -> int:
    """Pixels a filter of window `size` reads beyond each side of a tile."""
    return size // 2


def _check(size: int, looks: float | None) -> None:
    if size < 3 or size % 2 == 0:
        raise InputError(f"speckle size: {size} is not an odd window of 3 pixels or more")
    if looks is not None and not looks > 0:
        raise InputError(f"speckle looks: {looks} is not a positive number of looks")


def _stats(z: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware local mean and variance of each 2-D plane of `z` with kernel `weights`."""
    ok = np.isfinite(z)
    zz = np.where(ok, z, 0.0).astype("float64")
    w = np.zeros((1,) * (z.ndim - 2) + weights.shape)
    w[(0,) * (z.ndim - 2)] = weights
    kw = dict(mode="constant", cval=0.0)
    n = ndimage.correlate(ok.astype("float64"), w, **kw)
    s1 = ndimage.correlate(zz, w, **kw)
    s2 = ndimage.correlate(zz * zz, w, **kw)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = np.maximum(s2 / n - mean * mean, 0.0)
    return mean, var


def _lee_weight(z: np.ndarray, mean: np.ndarray, var: np.ndarray, looks: float) -> np.ndarray:
    """Lee's estimate ``m + b·(z − m)`` (NaN where `z` is)."""
    cu2 = 1.0 / looks
    with np.errstate(invalid="ignore", divide="ignore"):
        var_x = (var - mean * mean * cu2) / (1.0 + cu2)
        b = np.clip(np.where(var > 0, var_x / var, 0.0), 0.0, 1.0)
    out = mean + b * (z - mean)
    return np.where(np.isfinite(z), out, np.nan)


def _lee(z: np.ndarray, size: int, looks: float) -> np.ndarray:
    mean, var = _stats(z, np.ones((size, size)))
    return _lee_weight(z, mean, var, looks).astype(z.dtype, copy=False)


def _half_windows(size: int) -> list[np.ndarray]:
    """The eight edge-aligned half windows (line through the centre included), in the order
    vertical edge (left, right), horizontal (top, bottom), diagonal ↘ (lower-left,
    upper-right side), diagonal ↗ (upper-left, lower-right)."""
    r = size // 2
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    halves = [dx <= 0, dx >= 0, dy <= 0, dy >= 0, dy >= dx, dy <= dx, dx + dy <= 0, dx + dy >= 0]
    return [h.astype("float64") for h in halves]


def _refined_lee(z: np.ndarray, size: int, looks: float) -> np.ndarray:
    lead = (slice(None),) * (z.ndim - 2)
    sub, _ = _stats(z, np.ones((3, 3)))  # 3 × 3 block means, then the 9 blocks around a pixel
    k = max((size - 3) // 2, 1)
    pad = [(0, 0)] * (z.ndim - 2) + [(k, k), (k, k)]
    padded = np.pad(sub, pad, mode="edge")
    ny, nx = z.shape[-2:]

    def block(i: int, j: int) -> np.ndarray:  # sub-block mean at row offset i, col offset j
        return padded[(*lead, slice(k + i * k, k + i * k + ny), slice(k + j * k, k + j * k + nx))]

    m = {(i, j): block(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    centre = m[0, 0]
    # the two sides of each orientation: mean of the three sub-blocks on either side
    sides = [
        (m[-1, -1] + m[0, -1] + m[1, -1], m[-1, 1] + m[0, 1] + m[1, 1]),  # vertical edge
        (m[-1, -1] + m[-1, 0] + m[-1, 1], m[1, -1] + m[1, 0] + m[1, 1]),  # horizontal edge
        (m[0, -1] + m[1, -1] + m[1, 0], m[-1, 0] + m[-1, 1] + m[0, 1]),  # diagonal ↘
        (m[-1, -1] + m[-1, 0] + m[0, -1], m[0, 1] + m[1, 0] + m[1, 1]),  # diagonal ↗
    ]
    grad = np.stack([np.abs(a - b) for a, b in sides])
    orient = np.nanargmax(np.where(np.isfinite(grad), grad, -1.0), axis=0)
    # the pixel lies on the side whose mean is closer to its own block's
    second = np.stack([np.abs(b / 3 - centre) < np.abs(a / 3 - centre) for a, b in sides])
    side = np.take_along_axis(second, orient[None], axis=0)[0]
    choice = 2 * orient + side.astype(int)
    out = np.full(z.shape, np.nan, dtype="float64")
    for n, window in enumerate(_half_windows(size)):
        where = choice == n
        if not where.any():
            continue
        mean, var = _stats(z, window)
        out = np.where(where, _lee_weight(z, mean, var, looks), out)
    return np.where(np.isfinite(z), out, np.nan).astype(z.dtype, copy=False)


#: filter name → kernel (name used by the recipe's ``mask.speckle.filter``)
FILTERS: dict[str, _Kernel] = {"lee": _lee, "refined_lee": _refined_lee}


def estimate_looks(da: xr.DataArray, *, size: int = 7) -> float:
    """Equivalent number of looks of a speckled intensity image: the mode of the local
    ``mean²/variance`` over `size` windows (homogeneous ground gives the speckle's ENL;
    textured ground gives less, in the histogram's lower tail)."""
    z = np.asarray(da.values, dtype="float64")
    mean, var = _stats(z, np.ones((size, size)))
    with np.errstate(invalid="ignore", divide="ignore"):
        enl = np.log(mean * mean / var)
    enl = enl[np.isfinite(enl)]
    if enl.size == 0:
        raise InputError("speckle looks: no valid pixels to estimate the number of looks from")
    counts, edges = np.histogram(enl, bins=60)
    peak = int(np.argmax(counts))
    return float(np.exp((edges[peak] + edges[peak + 1]) / 2))


def _run(da: xr.DataArray, kernel: _Kernel, size: int, looks: float) -> xr.DataArray:
    data = da.data
    if isinstance(data, darr.Array):
        depth = {da.get_axis_num("y"): halo(size), da.get_axis_num("x"): halo(size)}
        out = data.map_overlap(
            functools.partial(kernel, size=size, looks=looks),
            depth=depth, boundary="none", dtype=da.dtype, trim=True,
        )  # fmt: skip
    else:
        out = kernel(np.asarray(data), size=size, looks=looks)
    return da.copy(data=out)


def _filtered(da: xr.DataArray, name: str, size: int, looks: float | None) -> xr.DataArray:
    if name not in FILTERS:
        raise InputError(f"speckle filter: {name!r} is not known; use {' or '.join(FILTERS)}")
    _check(size, looks)
    if da.dims[-2:] != ("y", "x"):
        da = da.transpose(..., "y", "x")
    if looks is None:
        looks = estimate_looks(da, size=size)
    return _run(da, FILTERS[name], size, looks)


def lee(da: xr.DataArray, *, size: int = 7, looks: float | None = None) -> xr.DataArray:
    """Lee-filtered linear power, scene by scene (`looks` None: `estimate_looks`)."""
    return _filtered(da, "lee", size, looks)


def refined_lee(da: xr.DataArray, *, size: int = 7, looks: float | None = None) -> xr.DataArray:
    """Refined-Lee-filtered linear power (edge-aligned half windows), scene by scene."""
    return _filtered(da, "refined_lee", size, looks)


def apply(
    ds: xr.Dataset,
    *,
    bands: Sequence[str],
    method: str = "refined_lee",
    size: int = 7,
    looks: float | None = None,
) -> xr.Dataset:
    """`ds` with each of `bands` present filtered by `method` (a name of `FILTERS`)."""
    out = ds.copy()
    for band in bands:
        if band in ds:
            out[band] = _filtered(ds[band], method, size, looks).assign_attrs(
                {**ds[band].attrs, "speckle_filter": f"{method} {size}x{size}"}
            )
    return out
