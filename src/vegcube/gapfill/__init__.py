"""Periods with holes → filled series + quality band: a registry of gap-filling methods.

>>> ds = fill(ndvi, method="spatiotemporal")
>>> ds["filled"], ds["quality"]       # float32 / int8, same dims and coordinates as `ndvi`

Methods (one module each; `parameters(method)` gives a method's parameters and defaults):

- ``spatiotemporal``: robust harmonic background + the neighbourhood's anomaly at the same
  date + the pixel's own smoothed departure. Keeps droughts, rejects one-date cloud residue,
  the most accurate here (≈ 0.6 × linear's error on real Sentinel-2 gaps). Spatial: on dask
  it needs a halo of ceil(3·sigma) pixels.
- ``harmonic``: the robust harmonic cascade (10/5/1) with a smoothness ridge: smooth, complete
  series (≈ 0.7 × linear), but a global fit cannot keep a one-year departure such as a drought.
- ``hants``: HANTS; rejects every low value, a drought included.
- ``whittaker``: Whittaker smoother on the index of the periods.
- ``linear``: interpolation in time; no extrapolation.

Quality codes: −1 observation kept as is; −2 observation rejected as one-date cloud residue
and replaced by the fit (`spatiotemporal`); n > 0 filled, n = the harmonics of the fit
(`harmonic`, `hants`, `spatiotemporal`) or 1 (`whittaker`, `linear`); 0 left unfilled (NaN
remains). NaN (any non-finite value) in the input is a gap. Every method is vectorised over
pixels; on dask arrays it runs per spatial chunk with `time` in one chunk. Adding a method is
one module with a `METHOD` record and one line in `_REGISTRY`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..errors import RecipeError
from . import hants, harmonic, linear, spatiotemporal, whittaker
from ._registry import Method, ParameterError, days_of

__all__ = ["METHODS", "fill", "parameters", "validate"]

_REGISTRY: dict[str, Method] = {
    m.name: m
    for m in (
        harmonic.METHOD,
        hants.METHOD,
        whittaker.METHOD,
        linear.METHOD,
        spatiotemporal.METHOD,
    )
}
#: the method names `fill` accepts
METHODS: tuple[str, ...] = tuple(_REGISTRY)
_FLAGS = (
    "-1 observed, -2 observation replaced (one-date residue), "
    "n>0 filled (harmonics used, or 1), 0 unfilled"
)


def _method(name: str) -> Method:
    if name not in _REGISTRY:
        raise RecipeError(f"gapfill method must be one of {list(METHODS)}; got {name!r}")
    return _REGISTRY[name]


def parameters(method: str) -> dict[str, Any]:
    """The parameters `method` accepts, with their defaults."""
    return dict(_method(method).defaults)


def validate(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` of `method` checked (unknown: `ParameterError`; bad value: `RecipeError`,
    each naming the parameter) and completed with the defaults."""
    m = _method(method)
    unknown = sorted(set(params) - set(m.defaults))
    if unknown:
        raise ParameterError(
            f"gapfill method {method!r} got unknown parameter(s) {unknown}; "
            f"accepted: {sorted(m.defaults) or 'none'}"
        )
    return m.check({**m.defaults, **params})


def fill(da: xr.DataArray, *, method: str = "harmonic", **params: Any) -> xr.Dataset:
    """Fill the gaps (NaN) of a (time, y, x) series; return `filled` (float32) and `quality` (int8).

    `method` is one of `METHODS` (the recipe's default is `spatiotemporal`, the one that
    keeps droughts; this function's stays `harmonic`, as it always was); `params` are its
    parameters (`parameters(method)` lists them with their defaults; the method's module
    documents them). An unknown parameter is a
    `TypeError`, a bad value a `RecipeError` (a `ValueError`), each naming the parameter.
    """
    m = _method(method)
    opts = validate(method, params)
    if "time" not in da.dims:
        raise RecipeError(f"gapfill needs a 'time' dimension; `da` has dims {da.dims}")
    days = days_of(da["time"].values)
    data = da if np.issubdtype(da.dtype, np.floating) else da.astype("float32")
    if m.spatial:
        filled, quality = _spatial(m, data, days, opts)
    else:
        filled, quality = _temporal(m, data, days, opts)
    attrs = {"gapfill_method": method}
    return xr.Dataset(
        {
            "filled": filled.transpose(*da.dims).assign_attrs({**da.attrs, **attrs}),
            "quality": quality.transpose(*da.dims).assign_attrs(attrs, flag_meanings=_FLAGS),
        }
    )


def _temporal(
    m: Method, data: xr.DataArray, days: np.ndarray, opts: dict[str, Any]
) -> tuple[xr.DataArray, xr.DataArray]:
    """A method on each pixel's series alone: `apply_ufunc` over blocks of pixels."""
    weights = opts.pop("weights", None)
    args = [data]
    if weights is not None:
        w = (
            weights
            if isinstance(weights, xr.DataArray)
            else data.copy(data=np.broadcast_to(np.asarray(weights, dtype="float64"), data.shape))
        )
        args.append(xr.broadcast(w.astype("float64"), data)[0])
    if data.chunks is not None:
        args = [a.chunk({"time": -1}) for a in args]

    def core(y: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        shape = y.shape
        y2 = y.reshape(-1, shape[-1])
        w2 = None if w is None else w.reshape(-1, shape[-1])
        f = np.empty(y2.shape, np.float32)
        q = np.empty(y2.shape, np.int8)
        for s in range(0, y2.shape[0], m.batch):
            b = slice(s, s + m.batch)
            extra: dict[str, Any] = {} if w2 is None else {"w": w2[b]}
            f[b], q[b] = m.fn(y2[b].astype("float64"), days, **opts, **extra)
        return f.reshape(shape), q.reshape(shape)

    filled, quality = xr.apply_ufunc(
        core,
        *args,
        input_core_dims=[["time"]] * len(args),
        output_core_dims=[["time"], ["time"]],
        dask="parallelized",
        output_dtypes=[np.float32, np.int8],
    )
    return filled, quality


def _spatial(
    m: Method, data: xr.DataArray, days: np.ndarray, opts: dict[str, Any]
) -> tuple[xr.DataArray, xr.DataArray]:
    """A method that reads the neighbours: on (time, row, col) blocks, with a halo on dask."""
    space = [d for d in data.dims if d != "time"]
    if len(space) != 2:
        raise RecipeError(
            f"gapfill method {m.name!r} needs dims (time, y, x); `da` has dims {data.dims}",
            hint="select or stack the other dims first",
        )
    cube = data.transpose("time", *space)

    def block(y: np.ndarray) -> np.ndarray:
        f, q = m.fn(y, days, **opts)
        return np.stack([f, q.astype(np.float32)])

    if cube.chunks is None:
        f, q = m.fn(cube.values, days, **opts)
    else:
        import dask.array as dsa

        arr = cube.data.rechunk({0: -1})
        h = m.halo(opts) if m.halo else 0
        # no halo along an axis in one chunk; never more than the axis (dask needs both)
        depth = {0: 0, **{i: min(h, arr.shape[i]) * (arr.numblocks[i] > 1) for i in (1, 2)}}
        grown = dsa.overlap.overlap(arr, depth=depth, boundary="none")
        both = grown.map_blocks(block, new_axis=0, chunks=((2,), *grown.chunks), dtype=np.float32)
        both = dsa.overlap.trim_internal(
            both, {0: 0, 1: 0, 2: depth[1], 3: depth[2]}, boundary={i: "none" for i in range(4)}
        )
        if both.chunks[1:] != arr.chunks:  # `overlap` grew chunks smaller than the halo
            both = both.rechunk(((2,), *arr.chunks))
        f, q = both[0], both[1].astype(np.int8)

    def wrap(a: Any) -> xr.DataArray:
        return xr.DataArray(a, dims=cube.dims, coords=cube.coords)

    return wrap(f), wrap(q)
