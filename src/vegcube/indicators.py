"""Period + reference → VCI, z-score, anomaly, percent of normal, drought class."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import xarray as xr
from scipy.special import ndtr

from . import reference, significance
from .errors import InputError

__all__ = [
    "DROUGHT_CLASSES",
    "INDICATORS",
    "compute",
    "drought_class",
    "era_noises",
    "plain",
    "tci",
    "vhi",
]

INDICATORS = (
    "vci", "zscore", "anomaly", "pct_normal", "percentile", "drought_class", "tci", "vhi",
)  # fmt: skip

#: the indicators of a value and its period's reference alone (no significance, no temperature)
PLAIN = ("vci", "zscore", "anomaly", "pct_normal", "percentile")
#: class code → (name, VCI upper bound); VCI at or above the last bound is "none" (0)
DROUGHT_CLASSES: Mapping[str, float] = {"extreme": 10, "severe": 20, "moderate": 30, "mild": 40}
_CODES = {"none": 0, "mild": 1, "moderate": 2, "severe": 3, "extreme": 4}
FILL = -1
#: the class of a pixel whose reference spread is within its noise (and no significant drop)
NOT_MONITORABLE = -2


def drought_class(
    vci: xr.DataArray,
    thresholds: Mapping[str, float | None] = DROUGHT_CLASSES,
    *,
    zscore: xr.DataArray | None = None,
    significant: xr.DataArray | None = None,
    monitorable: xr.DataArray | None = None,
    known: xr.DataArray | None = None,
) -> xr.DataArray:
    """int8 classes from VCI: 4 extreme, 3 severe, 2 moderate, 1 mild, 0 none, −1 no data,
    −2 not monitorable.

    With `thresholds["zscore_max"]` set and a `zscore`, a class other than none also needs
    zscore ≤ zscore_max (a low VCI confirmed by a departure from the mean). With
    `significant`, it also needs a significant (and persistent) departure. With
    `monitorable`, a pixel without a class where it is False gets −2. `known` (default: VCI
    not NaN) marks the values that have a reference at all; elsewhere −1.
    """
    cls = xr.full_like(vci, 0, dtype="int8")
    for name in ("mild", "moderate", "severe", "extreme"):  # most severe last wins
        cls = xr.where(vci < float(thresholds[name]), np.int8(_CODES[name]), cls)  # type: ignore[arg-type]
    zmax = thresholds.get("zscore_max")
    if zmax is not None:
        if zscore is None:
            raise InputError("drought classes with zscore_max need the z-score")
        cls = xr.where(zscore <= zmax, cls, np.int8(0))
    rule = ", ".join(f"{k} < {v:g}" for k, v in thresholds.items() if k in _CODES)
    if zmax is not None:
        rule += f"; only where z-score <= {zmax:g}"
    if significant is not None:
        cls = xr.where(significant, cls, np.int8(0))
        rule += "; only for a significant departure" + _significance_rule(thresholds)
    if monitorable is not None:
        cls = xr.where(monitorable | (cls > 0), cls, np.int8(NOT_MONITORABLE))
    cls = xr.where(vci.notnull() if known is None else known, cls, np.int8(FILL)).astype("int8")
    cls.attrs = {
        "long_name": "drought class from VCI",
        "flag_values": [NOT_MONITORABLE, 0, 1, 2, 3, 4],
        "flag_meanings": "not_monitorable none mild moderate severe extreme",
        "thresholds_vci": rule,
    }
    cls.encoding["_FillValue"] = FILL
    return cls


def _significance_rule(t: Mapping[str, float | None]) -> str:
    return (
        f" (confidence >= {t.get('min_confidence') or 0:g}, anomaly <= "
        f"-{t.get('min_anomaly') or 0:g}, for {int(t.get('persistence') or 1)} period(s))"
    )


def compute(
    comp: xr.Dataset,
    ref: xr.Dataset,
    *,
    variables: Sequence[str],
    indicators: Sequence[str] = ("vci", "zscore", "anomaly"),
    min_years: int = 3,
    thresholds: Mapping[str, float | None] = DROUGHT_CLASSES,
    lst: str | None = None,
    alpha: float = 0.5,
) -> xr.Dataset:
    """Indicators of each variable in `comp` (time, y, x) against `ref` (period_of_year, y, x).

    VCI = 100·(x − min)/(max − min) clipped to [0, 100]; zscore = (x − mean)/std;
    anomaly = x − mean; pct_normal = 100·x/mean (where mean > 0); percentile = 100·Φ(zscore),
    the value's place in the normal fitted to the reference. Every indicator is NaN
    where the reference has fewer than `min_years` years or is degenerate (max = min, std = 0),
    never ±inf. `<var>_ref_years` holds the number of reference years behind each value.

    Drought classes come from VCI (`drought_class`). With `thresholds["min_confidence"]`
    set, a class also needs a significant departure (`significance`): confidence ≥
    min_confidence, anomaly ≤ −`min_anomaly`, for `persistence` consecutive periods of `comp`
    (counted from its first period); `<var>_confidence` is written beside the class, and a
    pixel whose reference spread is within its noise (`<var>_noise` of `ref`) is "not
    monitorable" (−2) unless its departure is significant. A continuity series (a `sensor` or
    `<lst>_sensor` coordinate) is judged with each period's sensor era's noise where `ref` has
    `<var>_era_noise` (`significance.era_noise`).

    With `lst` (the name of a land-surface-temperature variable in `comp` and `ref`), "tci"
    gives `<lst>_tci` = 100·(max − T)/(max − min) and "vhi" gives `<var>_vhi` =
    alpha·VCI + (1 − alpha)·TCI for each variable (Kogan's vegetation health index).
    """
    unknown = [i for i in indicators if i not in INDICATORS]
    if unknown:
        raise InputError(f"unknown indicators {unknown}; choose from {list(INDICATORS)}")
    poy = xr.DataArray(np.asarray(comp["period_of_year"].values), dims="time")
    out: dict[str, xr.DataArray] = {}  # the variables, in order (one merge at the end)
    # each period's reference, looked up once for all variables
    if np.array_equal(ref["period_of_year"].values, poy.values):  # a block of one year: no copy
        r = ref.drop_vars("period_of_year").rename({"period_of_year": "time"})
    else:
        r = ref.sel(period_of_year=poy).drop_vars("period_of_year")
    heat = hot = None
    if {"tci", "vhi"} & set(indicators):
        if lst is None or lst not in comp:
            raise InputError("tci and vhi need a land-surface temperature variable (lst=...)")
        heat = tci(comp[lst], r, name=lst).where(r[f"{lst}_count"] >= min_years)
        if "drought_class" in indicators:  # the heat's significance, for the TCI and VHI classes
            hot = _hot(comp[lst], r, lst, thresholds, min_years, _noise(comp, r, lst, lst))
        if "tci" in indicators:
            out[f"{lst}_tci"] = heat
        if "tci" in indicators and "drought_class" in indicators:
            tci_cls = drought_class(heat, thresholds, **(hot or {}))
            tci_cls.attrs["long_name"] = f"drought class from TCI of {lst} (heat stress)"
            out[f"{lst}_tci_drought_class"] = tci_cls
    for name in variables:
        x = comp[name]
        count = r[f"{name}_count"]
        enough = count >= min_years
        value = _formulas(x, r, name, enough)  # computes only those asked for (and needed)
        vci = value("vci")
        judged = None  # the index's significance (drought_class), reused by the VHI class
        for ind in indicators:
            if ind == "drought_class":
                judged = _judged(value("anomaly"), r, name, thresholds, _noise(comp, r, name, lst))
                out[f"{name}_drought_class"] = drought_class(
                    vci,
                    thresholds,
                    zscore=value("zscore"),
                    **({} if judged is None else judged[0]),
                    **({} if judged is None else {"known": x.notnull() & enough}),
                )
                if judged is not None:
                    out[f"{name}_confidence"] = judged[1]
                continue
            if ind == "tci":
                continue
            if ind == "vhi":
                assert heat is not None
                out[f"{name}_vhi"] = vhi(vci, heat, alpha=alpha)
                continue
            da = value(ind).astype("float32", copy=False)
            # an anomaly is in the index's own unit (dB for radar backscatter)
            unit = x.attrs.get("units", "1") if ind == "anomaly" else _UNITS[ind]
            da.attrs = {"long_name": f"{_LONG[ind]} of {name}", "units": unit}
            out[f"{name}_{ind}"] = da
        if heat is not None and lst and "drought_class" in indicators and "vhi" in indicators:
            gate = {} if judged is None or hot is None else {
                "significant": judged[0]["significant"] | hot["significant"],
                "monitorable": judged[0]["monitorable"] | hot["monitorable"],
            }  # fmt: skip
            vhi_cls = drought_class(out[f"{name}_vhi"], thresholds, **gate)
            vhi_cls.attrs["long_name"] = (
                f"drought class from VHI of {name} and {lst}: a significant departure of either"
            )
            out[f"{name}_vhi_drought_class"] = vhi_cls
        years = count.astype("int16", copy=False)
        years.attrs = {"long_name": f"reference years behind the indicators of {name}"}
        out[f"{name}_ref_years"] = years
    ds = _dataset(out, comp)
    ds.attrs = {"min_reference_years": min_years, **ref.attrs}
    return ds


def plain(
    x: np.ndarray,
    ref: Mapping[str, np.ndarray],
    *,
    name: str,
    indicators: Sequence[str],
    min_years: int = 3,
) -> dict[str, np.ndarray] | None:
    """`compute`'s values of `indicators` (all in `PLAIN`) of `name` and its
    `<name>_ref_years`, from numpy arrays: `x` (time, y, x) and `ref[stat]` (`reference.STATS`,
    each time step's period's reference, of `x`'s shape), without building Datasets (the
    same operations as `compute` on numpy blocks, hence the same values); None where
    `compute` would take another way (other indicators, types or shapes)."""
    arrays = [x, *(ref[s] for s in ("mean", "std", "min", "max"))]
    if not set(indicators) <= set(PLAIN) or ref["count"].shape != x.shape:
        return None
    if any(type(a) is not np.ndarray or a.dtype.kind != "f" or a.shape != x.shape for a in arrays):
        return None
    count = ref["count"]
    kernels = _kernels(x, ref["mean"], ref["std"], ref["min"], ref["max"], count >= min_years)
    values: dict[str, np.ndarray] = {}

    def value(ind: str) -> np.ndarray:
        if ind not in values:
            if ind == "percentile":  # `_percentile`'s
                values[ind] = (100 * ndtr(value("zscore"))).astype("float32")
            else:
                values[ind] = kernels[ind]()
        return values[ind]

    out = {f"{name}_{ind}": value(ind).astype("float32", copy=False) for ind in indicators}
    out[f"{name}_ref_years"] = count.astype("int16", copy=False)
    return out


def _dataset(out: dict[str, xr.DataArray], comp: xr.Dataset) -> xr.Dataset:
    """The variables `out` in a Dataset of `comp`'s coordinates (its spatial_ref last), as
    assigning them one by one gives; their variables are taken as they are where their
    coordinates are among `comp`'s and their indexes equal (nothing to align or add)."""
    coords = {k: v for k, v in comp.coords.items() if k != "spatial_ref"}
    known = set(comp.coords)
    if all(
        set(da.coords) <= known
        and all(k in comp.xindexes and i.equals(comp.xindexes[k]) for k, i in da.xindexes.items())
        for da in out.values()
    ):
        ds = xr.Dataset({k: da.variable for k, da in out.items()}, coords=coords)
    else:
        ds = xr.Dataset(coords=coords).assign(out)
    if "spatial_ref" in comp.coords:
        ds = ds.assign_coords(spatial_ref=comp.spatial_ref)
    return ds


def _formulas(
    x: xr.DataArray, r: xr.Dataset, name: str, enough: xr.DataArray
) -> Callable[[str], xr.DataArray]:
    """Indicator name → its value of `x` against the reference `r`, each computed once."""
    mean, std = r[f"{name}_mean"], r[f"{name}_std"]
    lo, hi = r[f"{name}_min"], r[f"{name}_max"]
    formulas: dict[str, Callable[[], xr.DataArray]] = {
        "vci": lambda: (100 * (x - lo) / (hi - lo).where(hi > lo)).clip(0, 100).where(enough),
        "zscore": lambda: ((x - mean) / std.where(std > 0)).where(enough),
        "anomaly": lambda: (x - mean).where(enough),
        "pct_normal": lambda: (100 * x / mean.where(mean > 0)).where(enough),
        "percentile": lambda: _percentile(value("zscore")),
    }
    template = _aligned(x, mean, std, lo, hi, enough)
    if template is not None:  # numpy arrays of one layout: the same formulas, in numpy
        kernels = _kernels(*(np.asarray(v.data) for v in (x, mean, std, lo, hi, enough)))

        def wrapped(kernel: Callable[[], np.ndarray]) -> Callable[[], xr.DataArray]:
            return lambda: template.copy(deep=False, data=kernel())

        formulas.update({ind: wrapped(kernel) for ind, kernel in kernels.items()})
    values: dict[str, xr.DataArray] = {}

    def value(ind: str) -> xr.DataArray:
        if ind not in values:
            values[ind] = formulas[ind]()
        return values[ind]

    return value


def _aligned(x: xr.DataArray, *refs: xr.DataArray) -> xr.DataArray | None:
    """An empty-attributes copy of `x` with the coordinates an xarray operation between `x`
    and `refs` gives, when they are numpy arrays of the same dimensions, shape and indexes
    and no coordinate of theirs conflicts (what `_kernels` needs to give the same values);
    None otherwise."""
    arrays = (x, *refs)
    if not all(type(a.data) is np.ndarray and a.dims == x.dims for a in arrays):
        return None
    if any(a.shape != x.shape for a in refs) or x.dtype.kind != "f":
        return None
    if any(a.dtype.kind != "f" for a in refs[:-1]) or refs[-1].dtype != bool:
        return None
    have = dict(x.coords.variables)
    extra: dict[str, xr.Variable] = {}
    for a in refs:
        for k, c in a.coords.variables.items():
            if k not in have:
                have[k] = extra[k] = c
                continue
            h = have[k]
            if c is h:
                continue
            if k in a.xindexes and k in x.xindexes:
                if not a.xindexes[k].equals(x.xindexes[k]):
                    return None
            elif c.size > 64 or not c.equals(h):
                return None
    template = x.copy(deep=False)
    template.attrs, template.encoding, template.name = {}, {}, None
    return template.assign_coords(extra) if extra else template


def _kernels(
    x: np.ndarray, mean: np.ndarray, std: np.ndarray, lo: np.ndarray, hi: np.ndarray,
    enough: np.ndarray,
) -> dict[str, Callable[[], np.ndarray]]:  # fmt: skip
    """`_formulas`' indicators on numpy arrays of one shape: the same operations in the same
    order (hence the same values), in place on one fresh array each, NaN set once."""

    def vci() -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = x - lo
            out *= 100
            out /= hi - lo
        np.clip(out, 0, 100, out=out)
        out[~((hi > lo) & enough)] = np.nan
        return out

    def zscore() -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = x - mean
            out /= std
        out[~((std > 0) & enough)] = np.nan
        return out

    def anomaly() -> np.ndarray:
        out = x - mean
        out[~enough] = np.nan
        return out

    def pct_normal() -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 100 * x
            out /= mean
        out[~((mean > 0) & enough)] = np.nan
        return out

    return {"vci": vci, "zscore": zscore, "anomaly": anomaly, "pct_normal": pct_normal}


def _sensor_coord(name: str, lst: str | None) -> str:
    """The coordinate naming each period's sensor in a continuity series: ``<lst>_sensor``
    for the land-surface temperature, ``sensor`` for the indices."""
    return f"{lst}_sensor" if name == lst else "sensor"


def era_noises(
    series: xr.Dataset, variables: Sequence[str], *, lst: str | None = None
) -> xr.Dataset:
    """``<var>_era_noise`` (`significance.era_noise`) of each variable of a continuity series
    that has its sensor coordinate (none otherwise), to go beside the reference: the values
    observed, not gap-filled (``<var>_quality`` −1, else ``<var>_count`` > 0), count."""
    out = xr.Dataset()
    for name in variables:
        coord = _sensor_coord(name, lst)
        if name not in series or coord not in series.coords:
            continue
        mark = reference.observed_name(series, name)
        observed = None if mark is None else reference.observed(series[mark], mark)
        noise = significance.era_noise(
            series[name], series[coord].values, name=name, observed=observed
        )
        out[noise.name] = noise.drop_vars(
            [c for c in noise.coords if c not in (*noise.dims, "spatial_ref")]
        )
    return out


def _noise(comp: xr.Dataset, r: xr.Dataset, name: str, lst: str | None) -> xr.DataArray | None:
    """The noise `name`'s periods are judged with: the reference's, or in a continuity series
    each period's sensor era's (`<name>_era_noise` of the reference, `era_noises`)."""
    coord = _sensor_coord(name, lst)
    sensors = comp[coord].values if coord in comp.coords else None
    return significance.period_noise(r.get(f"{name}_noise"), r.get(f"{name}_era_noise"), sensors)


def _judged(
    anomaly: xr.DataArray,
    r: xr.Dataset,
    name: str,
    t: Mapping[str, float | None],
    noise: xr.DataArray | None = None,
) -> tuple[dict[str, xr.DataArray], xr.DataArray] | None:
    """The significance gate and monitorability of `name`'s departures (judged with `noise`,
    default the reference's), and the confidence; None when `t` asks for no significance
    (min_confidence unset)."""
    if t.get("min_confidence") is None:
        return None
    noise = r.get(f"{name}_noise") if noise is None else noise
    std, count = r[f"{name}_std"], r[f"{name}_count"]
    conf = significance.confidence(anomaly, std, count, noise)
    sig = significance.significant(
        anomaly,
        conf,
        min_confidence=float(t["min_confidence"]),  # type: ignore[arg-type]
        min_anomaly=float(t.get("min_anomaly") or 0.0),
    )
    persistence = int(t.get("persistence") or 1)
    if persistence > 1:
        sig = significance.runs(sig) >= persistence
    conf.attrs["long_name"] = f"{conf.attrs['long_name']} ({name})"
    gate = {"significant": sig, "monitorable": significance.monitorable(std, noise)}
    return gate, conf


def _hot(
    t: xr.DataArray,
    r: xr.Dataset,
    name: str,
    th: Mapping[str, float | None],
    min_years: int,
    noise: xr.DataArray | None = None,
) -> dict[str, xr.DataArray] | None:
    """The significance gate of a temperature's departure above its reference mean (heat
    stress): sure enough (`min_confidence`) and at least `min_heat` K; None without
    significance. The cooler-than-normal side is the vegetation side's "below": the same
    test on mean − T."""
    judged = _judged(
        (r[f"{name}_mean"] - t).where(r[f"{name}_count"] >= min_years), r, name,
        {**th, "min_anomaly": th.get("min_heat") or 0.0}, noise,
    )  # fmt: skip
    return None if judged is None else judged[0]


def tci(t: xr.DataArray, ref: xr.Dataset, *, name: str = "lst") -> xr.DataArray:
    """Temperature condition index: 100·(max − T)/(max − min) of the reference, in [0, 100].

    `ref` holds `<name>_min` and `<name>_max` aligned with `t` (already looked up per period).
    """
    lo, hi = ref[f"{name}_min"], ref[f"{name}_max"]
    out = (100 * (hi - t) / (hi - lo).where(hi > lo)).clip(0, 100).astype("float32")
    out.attrs = {"long_name": f"temperature condition index of {name}", "units": "percent"}
    return out


def vhi(vci: xr.DataArray, tci: xr.DataArray, *, alpha: float = 0.5) -> xr.DataArray:
    """Vegetation health index: alpha·VCI + (1 − alpha)·TCI (Kogan), in [0, 100]."""
    if not 0 <= alpha <= 1:
        raise InputError(f"alpha must be in [0, 1]; got {alpha}")
    out = (alpha * vci + (1 - alpha) * tci).astype("float32")
    out.attrs = {"long_name": f"vegetation health index (alpha {alpha:g})", "units": "percent"}
    return out


_LONG = {
    "vci": "vegetation condition index",
    "zscore": "standardised anomaly (z-score)",
    "anomaly": "anomaly",
    "pct_normal": "percent of normal",
    "percentile": "percentile in the reference (normal fitted to its mean and std)",
}


def _percentile(z: xr.DataArray) -> xr.DataArray:
    """100·Φ(z): where the value falls in the normal distribution of the reference period
    (a parametric percentile: a few reference years give too few values for an empirical
    one, whose steps would be 100/years wide; SPI-like indices make the same choice)."""
    from scipy.special import ndtr

    return xr.apply_ufunc(lambda a: (100 * ndtr(a)).astype("float32"), z, dask="parallelized",
                          output_dtypes=["float32"])  # fmt: skip


_UNITS = {
    "vci": "percent", "zscore": "1", "anomaly": "1", "pct_normal": "percent",
    "percentile": "percent",
}  # fmt: skip
