"""Scenes → periods (dekad, month): a registry of reducers, each with its own parameters.

A reducer is one `Reducer` record in `REDUCERS`: the statistical composites (median, mean,
max, min: `statistics`) and the syntheses (weighted, bap: `synthesis`), which weigh each
observation by its distance to clouds (so they read the scene classification) and by its
distance in time within a window that reaches beyond the period. The recipe's
`composite` section names a reducer and gives its parameters; `Reducer.check` refuses a
parameter the reducer does not take or a value out of its range before any work starts.
Adding a reducer is a function and one line in `REDUCERS`.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import xarray as xr

from ..errors import InputError
from . import synthesis
from .periods import PERIODS_PER_YEAR, Period, period_index, periods, provisional, to_monthly
from .statistics import STATISTICS, Statistic, composite

__all__ = [
    "PARAMETERS",
    "PERIODS_PER_YEAR",
    "REDUCERS",
    "STATISTICS",
    "Period",
    "Reducer",
    "Statistic",
    "composite",
    "get",
    "period_index",
    "periods",
    "provisional",
    "to_monthly",
]

#: arguments every reducer receives from the chain, never from the recipe
_PLUMBING = {"ds", "scl", "period", "start", "end", "date_coord", "reducer"}


@dataclass(frozen=True)
class Reducer:
    """One way of reducing a period's scenes to one image per pixel.

    `fn(indices, *, period, start, end, [scl,] **params)` → composites with `<index>` and
    `<index>_count`; `needs_qa`: it reads the scene classification (`scl=`); `reach_param`:
    the parameter holding its window in days (centred on the period: it reaches half of it
    beyond each end); `halo_param`: the parameter holding how far (m) a pixel's result
    depends on its neighbours; `check`: raises `ValueError` for a parameter out of range.
    """

    name: str
    summary: str
    fn: Callable[..., xr.Dataset]
    needs_qa: bool = False
    reach_param: str | None = None
    halo_param: str | None = None
    check: Callable[..., None] | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)
    #: the function whose keyword parameters `fn` passes on (when `fn` wraps one)
    wraps: Callable[..., Any] | None = None

    def parameters(self) -> dict[str, Any]:
        """The parameters a recipe may give, with their defaults."""
        sig = inspect.signature(self.wraps or self.fn)
        return {
            k: p.default
            for k, p in sig.parameters.items()
            if p.kind is p.KEYWORD_ONLY and k not in _PLUMBING | self.exclude
        }

    def types(self) -> dict[str, Any]:
        """The type of each parameter (from the function's annotations)."""
        hints = typing.get_type_hints(self.wraps or self.fn)
        return {k: hints[k] for k in self.parameters()}

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`params` checked (names, types, ranges) and converted; `ValueError` naming the
        first parameter that is wrong and what is accepted."""
        from pydantic import TypeAdapter, ValidationError

        accepted = self.parameters()
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise InputError(
                f"{', '.join(unknown)}: not a parameter of reducer {self.name!r}; accepted: "
                f"{', '.join(sorted(accepted)) or 'none'}"
            )
        types, out = self.types(), {}
        for name, value in params.items():
            try:
                out[name] = TypeAdapter(types[name]).validate_python(value, strict=True)
            except ValidationError as exc:
                first = exc.errors()[0]["msg"]
                raise InputError(
                    f"{name}: {value!r} is not accepted ({first}); default {accepted[name]!r}"
                ) from None
        if self.check is not None:
            self.check(**out)
        return out

    def reach_days(self, params: Mapping[str, Any]) -> float:
        """How far (days) the scenes of a period's result lie beyond each end of it."""
        if self.reach_param is None:
            return 0.0
        return float(params.get(self.reach_param, self.parameters()[self.reach_param])) / 2

    def halo_m(self, params: Mapping[str, Any]) -> float:
        """How far (m) a pixel's result depends on other pixels of its scenes."""
        if self.halo_param is None:
            return 0.0
        return float(params.get(self.halo_param, self.parameters()[self.halo_param]))

    def __call__(
        self,
        indices: xr.Dataset,
        *,
        scl: xr.DataArray | None = None,
        period: Period,
        start: Any,
        end: Any,
        **params: Any,
    ) -> xr.Dataset:
        """Composites of `indices` per period (`scl`: the scenes' classification, for the
        reducers that need it)."""
        if self.needs_qa:
            if scl is None:
                raise InputError(f"reducer {self.name!r} needs the scene classification (scl)")
            return self.fn(indices, scl=scl, period=period, start=start, end=end, **params)
        return self.fn(indices, period=period, start=start, end=end, **params)


def _statistic(name: str) -> Callable[..., xr.Dataset]:
    def fn(ds: xr.Dataset, *, period: Period, start: Any, end: Any) -> xr.Dataset:
        return composite(ds, period=period, reducer=name, start=start, end=end)  # type: ignore[arg-type]

    fn.__name__ = name
    return fn


def _bap(ds: xr.Dataset, **kwargs: Any) -> xr.Dataset:
    out = synthesis.best_available_pixel(ds, **kwargs)
    # every composite carries `<index>_count`: for BAP, the candidates it chose from
    return out.assign({f"{v}_count": out["bap_count"] for v in ds.data_vars})


REDUCERS: dict[str, Reducer] = {
    **{
        s: Reducer(s, f"the {s} of the period's valid observations", _statistic(s))
        for s in STATISTICS
    },
    "weighted": Reducer(
        "weighted",
        "WASP-like weighted synthesis: weight = distance to cloud × distance in time × sensor",
        synthesis.weighted_synthesis,
        needs_qa=True,
        reach_param="window_days",
        halo_param="cloud_distance_max_m",
        check=synthesis.check_weighted,
        exclude=frozenset({"cloud_classes", "nodata_classes"}),
    ),
    "bap": Reducer(
        "bap",
        "FORCE-like best available pixel: score for the target day, distance to cloud, sensor",
        _bap,
        needs_qa=True,
        reach_param="window_days",
        halo_param="cloud_distance_req_m",
        check=synthesis.check_bap,
        exclude=frozenset({"cloud_classes", "nodata_classes"}),
        wraps=synthesis.best_available_pixel,
    ),
}


#: what each reducer parameter means (the recipe template and README list them)
PARAMETERS: dict[str, str] = {
    "window_days": "window centred on each period, in days (scenes from beyond the period)",
    "sensor_weights": "weight (bap: score) per platform, e.g. {sentinel-2b: 0.5}; 1 if unlisted",
    "cloud_distance_max_m": "distance to cloud (m) from which an observation weighs fully",
    "cloud_weight_min": "weight of an observation next to a cloud (0–1)",
    "temporal_weight_min": "weight of an observation at the window's edge (0–1)",
    "target": "day the score favours: centre, start, end or days after the period start",
    "doy_sigma_days": "width (days) of the score's preference for the target day",
    "cloud_distance_req_m": "distance to cloud (m) from which the cloud score is full",
    "w_doy": "weight of the target-day score",
    "w_cloud": "weight of the cloud-distance score",
    "w_sensor": "weight of the sensor score",
}


def get(name: str) -> Reducer:
    """The reducer called `name`; `ValueError` listing the known ones."""
    try:
        return REDUCERS[name]
    except KeyError:
        raise InputError(f"reducer must be one of {list(REDUCERS)}; got {name!r}") from None
