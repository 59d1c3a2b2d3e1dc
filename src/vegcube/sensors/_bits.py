"""Bit-field helpers shared by the QA decoders (lazy: plain xarray arithmetic, dask-friendly)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping

import xarray as xr

from ..errors import InputError

__all__ = ["bit", "decode", "field", "integer"]


def integer(qa: xr.DataArray) -> xr.DataArray:
    """QA as unsigned integers (a float QA band, e.g. after concatenation, is cast back)."""
    if qa.dtype.kind in "ui":
        return qa
    return qa.fillna(0).astype("uint32")


def bit(qa: xr.DataArray, n: int) -> xr.DataArray:
    """True where bit `n` of `qa` is set."""
    return (qa & (1 << n)) != 0


def field(qa: xr.DataArray, first: int, width: int) -> xr.DataArray:
    """The unsigned value of bits `first` .. `first + width - 1` of `qa`."""
    return (qa >> first) & ((1 << width) - 1)


def decode(
    q: xr.DataArray,
    tests: Mapping[str, Callable[[], xr.DataArray]],
    flags: Iterable[Hashable],
    *,
    cloud_flags: Collection[Hashable],
    product: str,
    fill_value: int = 65535,
) -> tuple[xr.DataArray, xr.DataArray]:
    """(bad, cloud_like): the OR of the `tests` named by `flags`, cloud flags apart.

    A QA equal to `fill_value` (every bit set) is fill only: no other test fires on it, so
    it is never taken, and grown, as cloud. Unknown flag names raise `ValueError`.
    """
    filled = q == fill_value
    bad = xr.zeros_like(q, dtype=bool)
    cloud = xr.zeros_like(q, dtype=bool)
    for name in map(str, flags):
        if name not in tests:
            raise InputError(f"unknown {product} QA flag {name!r}; accepted: {', '.join(tests)}")
        hit = tests[name]() if name == "fill" else tests[name]() & ~filled
        if name in cloud_flags:
            cloud = cloud | hit
        else:
            bad = bad | hit
    return bad, cloud
