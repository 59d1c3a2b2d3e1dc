"""2-D correlation of the last two axes with openEO's border modes, numpy or dask (overlapping
chunks: `map_overlap`, never the full extent in memory)."""

from __future__ import annotations

from typing import Any

import dask.array as darr
import numpy as np
from scipy import ndimage

__all__ = ["correlate"]

#: openEO border → numpy/dask pad mode
_PAD = {"replicate": "edge", "reflect": "symmetric", "reflect_pixel": "reflect", "wrap": "wrap"}


def _block(block: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    k = kernel.reshape((1,) * (block.ndim - 2) + kernel.shape)
    return ndimage.correlate(block, k, mode="constant", cval=0.0)


def correlate(data: Any, kernel: np.ndarray, *, border: Any = 0) -> Any:
    """`data` (…, y, x) correlated with `kernel` (ky, kx); outside the array per `border`."""
    hy, hx = kernel.shape[0] // 2, kernel.shape[1] // 2
    pad = [(0, 0)] * (data.ndim - 2) + [(hy, hy), (hx, hx)]
    if isinstance(border, str):
        mode = _PAD[border]
        if mode == "reflect" and min(data.shape[-2:]) < 2:
            mode = "edge"
        kwargs: dict[str, Any] = {"mode": mode}
    else:
        kwargs = {"mode": "constant", "constant_values": float(border)}
    crop = (Ellipsis, slice(hy, hy + data.shape[-2]), slice(hx, hx + data.shape[-1]))
    if isinstance(data, darr.Array):
        padded = darr.pad(data, pad, **kwargs)
        depth = {data.ndim - 2: hy, data.ndim - 1: hx}
        out = padded.map_overlap(
            _block, depth=depth, boundary="none", kernel=kernel, dtype=data.dtype
        )
        return out[crop]
    return _block(np.pad(data, pad, **kwargs), kernel)[crop]
