"""Arithmetic, comparisons and logic: element-wise on scalars, cubes and labelled arrays.

Scalars follow the openEO null semantics (``None`` in → ``None`` out, NaN and ±inf as IEEE
754); cubes are `xr.DataArray` (no-data = NaN), where the same expressions stay lazy.
Comparisons and logic give real booleans (``bool`` / ``bool`` arrays).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from ._types import ArrayView, ProcessGraphError
from .registry import process

__all__ = ["elementwise", "scalar"]

_ARRAYS = (xr.DataArray, ArrayView)


def scalar(value: Any) -> Any:
    """A numpy scalar as the Python value (ints stay ints when exact)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, ArrayView):
        return value.data
    return np.nan if value is None else value


def elementwise(fn: Callable[..., Any], *values: Any) -> Any:
    """`fn` applied to cubes (lazily) or to scalars (null in → null out)."""
    if any(isinstance(v, _ARRAYS) for v in values):
        views = [v for v in values if isinstance(v, ArrayView)]
        with np.errstate(all="ignore"):
            out = fn(*(_unwrap(v) for v in values))
        return ArrayView(out, views[0].dim) if views and isinstance(out, xr.DataArray) else out
    if any(v is None for v in values):
        return None
    for v in values:
        if isinstance(v, (str, bool, list, dict)):
            raise ProcessGraphError(
                f"expected a number; got {v!r:.60}", code="ProcessParameterInvalid"
            )
    with np.errstate(all="ignore"):
        return scalar(fn(*(np.float64(v) for v in values)))


def _register_unary(pid: str, fn: Callable[[Any], Any], arg: str = "x") -> None:
    def impl(**kw: Any) -> Any:
        return elementwise(fn, kw[arg])

    impl.__name__ = pid
    process(pid)(impl)


for _pid, _fn in {
    "absolute": np.abs,
    "sqrt": np.sqrt,
    "ln": np.log,
    "sgn": np.sign,
    "floor": np.floor,
    "ceil": np.ceil,
    "int": np.trunc,
    "cos": np.cos,
    "sin": np.sin,
    "tan": np.tan,
    "arccos": np.arccos,
    "arcsin": np.arcsin,
    "arctan": np.arctan,
    "cosh": np.cosh,
    "sinh": np.sinh,
    "tanh": np.tanh,
    "arcosh": np.arccosh,
    "arsinh": np.arcsinh,
    "artanh": np.arctanh,
}.items():
    _register_unary(_pid, _fn)
_register_unary("exp", np.exp, "p")


def _register_binary(pid: str, fn: Callable[[Any, Any], Any], a: str = "x", b: str = "y") -> None:
    def impl(**kw: Any) -> Any:
        return elementwise(fn, kw[a], kw[b])

    impl.__name__ = pid
    process(pid)(impl)


_register_binary("add", operator.add)
_register_binary("subtract", operator.sub)
_register_binary("multiply", operator.mul)
_register_binary("divide", operator.truediv)
_register_binary("power", operator.pow, "base", "p")
_register_binary("arctan2", lambda y, x: np.arctan2(y, x), "y", "x")


@process("log")
def log(x: Any, base: Any) -> Any:
    return elementwise(lambda v, b: np.log(v) / np.log(b), x, base)


@process("round")
def round_(x: Any, p: int = 0) -> Any:
    """Round half to even, to `p` decimals (negative: tens, hundreds…)."""
    return elementwise(lambda v: np.round(v, p), x)


@process("normalized_difference")
def normalized_difference(x: Any, y: Any) -> Any:
    return elementwise(lambda a, b: (a - b) / (a + b), x, y)


@process("clip")
def clip(x: Any, min: Any, max: Any) -> Any:
    if min > max:
        raise ProcessGraphError(
            f"min {min} is greater than max {max}", code="MinMaxSwapped", argument="min"
        )
    if isinstance(x, _ARRAYS):
        return elementwise(lambda v: v.clip(min, max), x)
    return elementwise(lambda v: np.clip(v, min, max), x)


@process("linear_scale_range")
def linear_scale_range(
    x: Any,
    inputMin: float,
    inputMax: float,
    outputMin: float = 0,
    outputMax: float = 1,
) -> Any:
    lo, hi = sorted((inputMin, inputMax))

    def scale(v: Any) -> Any:
        v = v.clip(lo, hi) if isinstance(v, xr.DataArray) else np.clip(v, lo, hi)
        return (v - inputMin) / (inputMax - inputMin) * (outputMax - outputMin) + outputMin

    return elementwise(scale, x)


@process("pi")
def pi() -> float:
    return float(np.pi)


@process("e")
def e() -> float:
    return float(np.exp(1.0))


@process("constant")
def constant(x: Any) -> Any:
    return x


# comparisons -------------------------------------------------------------------------------


def _number(v: Any) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))


def _compare(op: Callable[[Any, Any], Any], x: Any, y: Any, *, ordered: bool) -> Any:
    if isinstance(x, _ARRAYS) or isinstance(y, _ARRAYS):
        return elementwise(op, x, y)
    if x is None or y is None:
        return None
    if ordered:  # only numbers are ordered; anything else compares false
        return bool(op(x, y)) if _number(x) and _number(y) else False
    if isinstance(x, bool) != isinstance(y, bool) or isinstance(x, str) != isinstance(y, str):
        return False
    return bool(op(x, y))


def _equal(x: Any, y: Any, delta: float | None, case_sensitive: bool) -> Any:
    if isinstance(x, _ARRAYS) or isinstance(y, _ARRAYS):
        if delta is not None:
            return elementwise(lambda a, b: abs(a - b) <= delta, x, y)
        if not case_sensitive:
            return elementwise(lambda a, b: _casefold(a) == _casefold(b), x, y)
        return elementwise(operator.eq, x, y)
    if x is None or y is None:
        return None
    if delta is not None and _number(x) and _number(y):
        return bool(abs(x - y) <= delta)
    if not case_sensitive and isinstance(x, str) and isinstance(y, str):
        return x.casefold() == y.casefold()
    return _compare(operator.eq, x, y, ordered=False)


def _casefold(v: Any) -> Any:
    if isinstance(v, xr.DataArray) and v.dtype.kind in "UO":
        return xr.apply_ufunc(
            np.char.lower, v.astype(str), dask="parallelized", output_dtypes=[str]
        )
    return v.casefold() if isinstance(v, str) else v


@process("eq")
def eq(x: Any, y: Any, delta: float | None = None, case_sensitive: bool = True) -> Any:
    return _equal(x, y, delta, case_sensitive)


@process("neq")
def neq(x: Any, y: Any, delta: float | None = None, case_sensitive: bool = True) -> Any:
    same = _equal(x, y, delta, case_sensitive)
    return (
        None
        if same is None
        else elementwise(operator.invert, same)
        if isinstance(same, _ARRAYS)
        else not same
    )


for _pid, _op in {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}.items():

    def _ordered(x: Any, y: Any, _op: Callable[[Any, Any], Any] = _op) -> Any:
        return _compare(_op, x, y, ordered=True)

    _ordered.__name__ = _pid
    process(_pid)(_ordered)


@process("between")
def between(x: Any, min: Any, max: Any, exclude_max: bool = False) -> Any:
    if isinstance(x, _ARRAYS):
        upper = operator.lt if exclude_max else operator.le
        return elementwise(lambda v: (v >= min) & upper(v, max), x)
    if x is None:
        return None
    if not _number(x):
        return False
    return bool(min <= x and (x < max if exclude_max else x <= max))


# logic -------------------------------------------------------------------------------------


def _bool_array(v: Any) -> Any:
    v = _unwrap(v)
    if isinstance(v, xr.DataArray) and v.dtype != bool:
        return v != 0
    return v


def _logic(op: Callable[[Any, Any], Any], x: Any, y: Any, table: Callable[[Any, Any], Any]) -> Any:
    if isinstance(x, _ARRAYS) or isinstance(y, _ARRAYS):
        out = op(_bool_array(x), _bool_array(y))
        views = [v for v in (x, y) if isinstance(v, ArrayView)]
        return ArrayView(out, views[0].dim) if views else out
    return table(x, y)


def _and(x: Any, y: Any) -> Any:
    if x is False or y is False:
        return False
    return None if x is None or y is None else bool(x and y)


def _or(x: Any, y: Any) -> Any:
    if x is True or y is True:
        return True
    return None if x is None or y is None else bool(x or y)


@process("and")
def and_(x: Any, y: Any) -> Any:
    return _logic(operator.and_, x, y, _and)


@process("or")
def or_(x: Any, y: Any) -> Any:
    return _logic(operator.or_, x, y, _or)


@process("xor")
def xor(x: Any, y: Any) -> Any:
    return _logic(
        operator.xor, x, y, lambda a, b: None if a is None or b is None else bool(a) != bool(b)
    )


@process("not")
def not_(x: Any) -> Any:
    if isinstance(x, _ARRAYS):
        return elementwise(operator.invert, _bool_array(x))
    return None if x is None else not x


@process("if")
def if_(value: Any, accept: Any, reject: Any = None) -> Any:
    if isinstance(value, _ARRAYS):
        cond = _bool_array(value)
        return xr.where(cond, _unwrap(accept), _unwrap(reject))
    return accept if value is True else reject


@process("is_nan")
def is_nan(x: Any) -> Any:
    if isinstance(x, _ARRAYS):
        return elementwise(lambda v: v.isnull(), x)
    return _number(x) and bool(np.isnan(x))


@process("is_nodata")
def is_nodata(x: Any) -> Any:
    if isinstance(x, _ARRAYS):
        return elementwise(lambda v: v.isnull(), x)
    return x is None


@process("is_valid")
def is_valid(x: Any) -> Any:
    if isinstance(x, _ARRAYS):
        return elementwise(
            lambda v: v.notnull() & ~np.isinf(v) if v.dtype.kind == "f" else v.notnull(), x
        )
    if x is None:
        return False
    return not (_number(x) and not np.isfinite(x))
