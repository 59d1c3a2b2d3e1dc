"""Recipe sections for the series: `composite` (period, reducer and the reducer's own
parameters) and `gapfill` (method and its parameters), both checked against their registries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from ._base import _Section

__all__ = ["CompositeSpec", "GapfillSpec"]


class CompositeSpec(_Section):
    """Temporal compositing."""

    # the reducer's own parameters (window_days, sensor_weights, …) sit beside `reducer`
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    period: Literal["dekad", "month"] = Field("dekad", description="dekad (10 days) or month")
    reducer: Literal["median", "mean", "max", "min", "weighted", "bap"] = Field(
        "median",
        description="median, mean, max, min; weighted (WASP-like synthesis), bap (best pixel)",
    )
    monthly: bool = Field(
        False,
        description="dekad only: also write OUT/monthly/ (months from the dekads: composites, "
        "reference, indicators)",
    )

    @model_validator(mode="before")
    @classmethod
    def _stored_defaults(cls, data: Any) -> Any:
        """Recipes stored by earlier versions hold `window_days: 46` and `sensor_weights:
        null` whatever the reducer: those defaults are dropped where the reducer takes none."""
        if not isinstance(data, dict):
            return data
        from .. import composite

        reducer = data.get("reducer", "median")
        taken = composite.REDUCERS[reducer].parameters() if reducer in composite.REDUCERS else {}
        legacy = {"window_days": 46, "sensor_weights": None}
        return {
            k: v for k, v in data.items() if not (k in legacy and k not in taken and v == legacy[k])
        }

    @model_validator(mode="after")
    def _monthly_from_dekads(self) -> CompositeSpec:
        if self.monthly and self.period != "dekad":
            raise ValueError("monthly: true aggregates dekads; it needs period: dekad")
        return self

    @model_validator(mode="after")
    def _parameters_of_the_reducer(self) -> CompositeSpec:
        """A parameter the reducer does not take, or a value out of its range, is an error
        naming it, never silently ignored."""
        from .. import composite

        composite.get(self.reducer).validate(self.model_extra or {})
        return self

    @property
    def params(self) -> dict[str, Any]:
        """The reducer's parameters given in the recipe, validated."""
        from .. import composite

        return composite.get(self.reducer).validate(self.model_extra or {})


class GapfillSpec(_Section):
    """Gap filling of the composites; indicators then use the filled series."""

    model_config = ConfigDict(extra="allow", frozen=True)

    method: Literal["harmonic", "hants", "whittaker", "linear", "spatiotemporal"] = Field(
        "spatiotemporal",
        description="harmonic (robust cascade 10/5/1; erases droughts), hants, whittaker, "
        "linear, spatiotemporal (harmonic background + neighbourhood anomaly; keeps droughts)",
    )

    @model_validator(mode="after")
    def _known_parameters(self) -> GapfillSpec:
        from ..gapfill import parameters

        accepted = set(parameters(self.method)) - {"weights"}
        unknown = sorted(set(self.model_extra or {}) - accepted)
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a parameter of method {self.method!r}; "
                f"accepted: {', '.join(sorted(accepted)) or 'none'}"
            )
        defaults = parameters(self.method)
        for name, value in (self.model_extra or {}).items():
            wanted = _kind_of(defaults[name], name)
            if not _is_kind(value, wanted):
                raise ValueError(f"{name}: {value!r} is not {wanted} (default {defaults[name]!r})")
        from ..errors import RecipeError
        from ..gapfill import validate

        try:  # the method's own ranges (sigma > 0, …), before any work starts
            validate(self.method, dict(self.model_extra or {}))
        except RecipeError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def params(self) -> dict[str, Any]:
        """The method's parameters given in the recipe."""
        return dict(self.model_extra or {})


def _kind_of(default: Any, name: str) -> str:
    """What a gap-filling parameter takes, from its default (None: a number or null)."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, str):
        return "a text"
    if isinstance(default, tuple):
        return "a list of whole numbers"
    return "a finite number" + (" or null" if default is None else "")


def _is_kind(value: Any, kind: str) -> bool:
    import math

    if kind == "true or false":
        return isinstance(value, bool)
    if kind == "a text":
        return isinstance(value, str)
    if kind == "a list of whole numbers":
        return isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
    if value is None:
        return kind.endswith("or null")
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
