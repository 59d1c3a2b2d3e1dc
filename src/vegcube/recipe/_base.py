"""What every recipe section shares: unknown keys refused, numbers finite and never booleans,
dates within the archives' span."""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class _Section(BaseModel):
    # numbers are finite: `.inf`/`.nan` (YAML) and `inf`/`nan` (TOML) are refused by name
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """`true`/`false` where a number goes is refused (pydantic would read it as 1 or 0:
        `resolution: true` would silently mean 1 metre)."""
        name = info.field_name
        if name is None or not _numeric(cls.model_fields[name].annotation):
            return v
        items = v if isinstance(v, (list, tuple)) else [v]
        for i, x in enumerate(items):
            if isinstance(x, bool):
                at = f"item {i}: " if isinstance(v, (list, tuple)) else ""
                raise ValueError(f"{at}a number, not {str(x).lower()}")
        return v


def _numeric(annotation: Any) -> bool:
    """True if `annotation` is a number, or an optional or a list or tuple of numbers."""
    if annotation in (int, float):
        return True
    args = [a for a in typing.get_args(annotation) if a is not type(None) and a is not Ellipsis]
    return bool(args) and all(_numeric(a) for a in args)


#: the dates a recipe may name: no archive vegcube reads has scenes before Landsat 1 (1972)
_EARLIEST = dt.date(1972, 1, 1)


def _check_date(v: dt.date) -> dt.date:
    latest = dt.date(dt.date.today().year + 1, 12, 31)
    if v < _EARLIEST:
        raise ValueError(
            f"{v} is before {_EARLIEST}: no archive vegcube reads has scenes that early "
            "(Landsat 1, 1972, is the first); give a date from 1972 on"
        )
    if v > latest:
        raise ValueError(
            f"{v} is after {latest} (the end of next year): give a date up to then; a routine "
            "service moves time.end forward with each update"
        )
    return v


def _check_order(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
