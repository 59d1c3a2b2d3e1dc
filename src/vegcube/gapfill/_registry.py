"""The shape every gap-filling method shares (`Method`) and the parameter checks they use."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RecipeError

__all__ = [
    "Method",
    "ParameterError",
    "cascade",
    "check",
    "count",
    "days_of",
    "halo_of",
    "number",
    "positive",
]


class ParameterError(RecipeError, TypeError):
    """An unknown keyword for the chosen method (a TypeError, like Python's own)."""


@dataclass(frozen=True)
class Method:
    """One gap-filling method.

    `fn` fills a block: for a temporal method ``fn(y, days, **params)`` with `y` (pixels, time)
    float64, NaN at gaps; for a `spatial` one ``fn(y, days, **params)`` with `y` (time, rows,
    cols). It returns ``(filled float32, quality int8)`` of `y`'s shape. `defaults` are the
    parameters a recipe or a caller may give; `check` validates them (raising `RecipeError`
    naming the parameter) and returns them normalised. `halo` (spatial methods): how many
    pixels of neighbours a pixel's result depends on, from the checked parameters. `batch`:
    pixels per call of a temporal `fn`.
    """

    name: str
    summary: str
    fn: Callable[..., tuple[np.ndarray, np.ndarray]]
    defaults: Mapping[str, Any]
    check: Callable[[dict[str, Any]], dict[str, Any]]
    spatial: bool = False
    halo: Callable[[dict[str, Any]], int] | None = None
    batch: int = 512


def check(name: str, ok: bool, what: str, value: Any) -> None:
    """Raise `RecipeError` naming parameter `name` unless `ok`."""
    if not ok:
        raise RecipeError(f"gapfill parameter {name!r} must be {what}; got {value!r}")


def number(value: Any) -> bool:
    """A finite real number (not a bool)."""
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def positive(o: dict[str, Any], *names: str, zero: bool = False) -> None:
    """Each of `names` is a finite number > 0 (≥ 0 with `zero`)."""
    for n in names:
        v = o[n]
        check(n, number(v) and bool(v >= 0 if zero else v > 0), "≥ 0" if zero else "> 0", v)


def count(o: dict[str, Any], *names: str, least: int = 0) -> None:
    """Each of `names` is a whole number ≥ `least`."""
    for n in names:
        v = o[n]
        good = isinstance(v, (int, np.integer)) and not isinstance(v, bool) and bool(v >= least)
        check(n, good, f"an int ≥ {least}", v)


def cascade(value: Any) -> tuple[int, ...]:
    """`harmonics`: one positive int or a sequence of them → sorted, largest first."""
    ks = (value,) if isinstance(value, int) else tuple(value)
    good = len(ks) > 0 and all(isinstance(k, int) and k > 0 for k in ks)
    check("harmonics", good, "a positive int or a sequence of them", value)
    return tuple(sorted(set(ks), reverse=True))


def days_of(time: np.ndarray) -> np.ndarray:
    """Days since the first `time` value (datetime64, increasing)."""
    t = np.asarray(time)
    if not np.issubdtype(t.dtype, np.datetime64):
        raise RecipeError(f"gapfill needs datetime64 `time` values; got dtype {t.dtype}")
    days = (t - t[0]).astype("timedelta64[ns]").astype("float64") / 86400e9
    if np.any(np.diff(days) < 0):
        raise RecipeError("gapfill needs `time` in increasing order; use da.sortby('time')")
    return days


def halo_of(sigma: float) -> int:
    """Pixels a Gaussian of `sigma` px reaches (truncated at 3 σ)."""
    return math.ceil(3 * sigma)
