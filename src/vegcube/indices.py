"""Spectral indices: `ndvi`, `ndwi` (Gao, NIR/SWIR1) and any spyndex index by name.

Radar backscatter indices (`vv`, `vh`, `vv_db`, `vh_db`, `vh_vv`, `rvi`) are computed from
γ⁰ in linear power, scene by scene, and composited in linear power; the ``_db`` ones become
decibels (10·log10) only once composited (`finish`): a period's value is the dB of its mean
power, not a mean of dB."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import xarray as xr

from . import sensors
from .errors import BandError, InputError

__all__ = [
    "IndexSpec",
    "bands_for",
    "compute",
    "finish",
    "normalized_difference",
    "per_scene",
    "resolve",
]

#: spyndex band symbols → common band names (Sentinel-2 / Landsat naming of STAC `eo:bands`)
SPYNDEX_BANDS = {
    "A": "coastal",
    "B": "blue",
    "G": "green",
    "R": "red",
    "RE1": "rededge1",
    "RE2": "rededge2",
    "RE3": "rededge3",
    "N": "nir",
    "N2": "nir08",
    "WV": "nir09",
    "S1": "swir16",
    "S2": "swir22",
    # radar polarisations (Sentinel-1 RTC γ⁰, linear power)
    "VV": "vv",
    "VH": "vh",
    "HH": "hh",
    "HV": "hv",
}

_BUILTIN = {
    "ndvi": ("nir", "red", "Normalized Difference Vegetation Index"),
    "ndwi": ("nir", "swir16", "Normalized Difference Water Index (Gao 1996), NIR/SWIR1"),
}


#: radar indices: name → (bands, long name, spyndex name or None for the band itself,
#: decibels once composited)
_RADAR: dict[str, tuple[tuple[str, ...], str, str | None, bool]] = {
    "vv": (("vv",), "gamma naught VV (linear power)", None, False),
    "vh": (("vh",), "gamma naught VH (linear power)", None, False),
    "vv_db": (("vv",), "gamma naught VV (dB of the linear composite)", None, True),
    "vh_db": (("vh",), "gamma naught VH (dB of the linear composite)", None, True),
    "vh_vv": (("vh", "vv"), "VH/VV cross-polarisation ratio (linear)", "VHVVR", False),
    "rvi": (("vh", "vv"), "dual-pol radar vegetation index 4·VH/(VV+VH)", "DpRVIVV", False),
}


@dataclass(frozen=True)
class IndexSpec:
    """A resolved index: its output name, the common bands it needs, how to compute it."""

    name: str
    bands: tuple[str, ...]
    long_name: str
    spyndex_name: str | None = None
    #: turned into decibels once composited (radar ``_db`` indices)
    decibels: bool = False


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, object]:
    import spyndex

    return dict(spyndex.indices)


def resolve(name: str) -> IndexSpec:
    """Resolve an index name: `ndvi`, `ndwi`, or a spyndex name (exact, else case-insensitive).

    Raises `ValueError` saying what is accepted.
    """
    if name in _BUILTIN:
        a, b, long = _BUILTIN[name]
        return IndexSpec(name, (a, b), long)
    if name in _RADAR:
        bands, long, key, db = _RADAR[name]
        return IndexSpec(name, bands, long, key, decibels=db)
    cat = _catalogue()
    key = name if name in cat else next((k for k in cat if k.lower() == name.lower()), None)
    ready = _ready_made(name) if key is None else None
    if ready is not None:
        return ready
    if key is None:
        close = sorted(k for k in cat if k.lower().startswith(name[:2].lower()))[:8]
        raise InputError(
            f"unknown index {name!r}; use ndvi, ndwi or a spyndex index name"
            + (f" (similar: {', '.join(close)})" if close else "")
        )
    idx = cat[key]
    consts = _constants()
    unsupported = [b for b in idx.bands if b not in SPYNDEX_BANDS and b not in consts]  # type: ignore[attr-defined]
    if unsupported:
        raise InputError(
            f"index {key!r} needs {unsupported}, which optical reflectance cubes do not have"
        )
    bands = tuple(SPYNDEX_BANDS[b] for b in idx.bands if b in SPYNDEX_BANDS)  # type: ignore[attr-defined]
    return IndexSpec(name, bands, idx.long_name, key)  # type: ignore[attr-defined]


def _ready_made(name: str) -> IndexSpec | None:
    """An index only a product delivers (SMAP ``sm_rootzone``; not a spyndex name): read
    from its band, never computed; None if no sensor delivers `name` ready-made."""
    for sensor in sensors.SENSORS:
        band = sensor.index_bands.get(name)
        if band is not None:
            long = sensor.band_attrs.get(band, {}).get("long_name", band)
            return IndexSpec(name, (band,), f"{long} ({sensor.name} product)")
    return None


@lru_cache(maxsize=1)
def _constants() -> frozenset[str]:
    import spyndex

    return frozenset(spyndex.constants)


def normalized_difference(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """(a − b) / (a + b), NaN where a + b = 0."""
    return xr.apply_ufunc(
        _normalized_difference, a, b, join="inner", dask="parallelized",
        output_dtypes=[np.float32],
    )  # fmt: skip


def _normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The same numbers in place: two new arrays, where xarray's expression makes six."""
    out = np.subtract(a, b)
    total = np.add(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(out, total, out=out)
    np.putmask(out, total == 0, np.nan)
    return out.astype("float32", copy=False)


def compute(ds: xr.Dataset, indices: Sequence[str]) -> xr.Dataset:
    """Compute `indices` from the reflectance bands of `ds` (common band names).

    Returns a Dataset with one float32 variable per index, named as requested.
    """
    out = {}
    for name in indices:
        spec = resolve(name)
        missing = [b for b in spec.bands if b not in ds]
        if missing:
            raise BandError(
                f"index {name!r} needs bands {list(spec.bands)}; missing {missing} "
                f"(the cube has {', '.join(map(str, ds.data_vars))})"
            )
        if len(spec.bands) == 1:  # a product's own band (`_ready_made`)
            da = ds[spec.bands[0]].astype("float32")
        elif spec.spyndex_name is None:
            da = normalized_difference(ds[spec.bands[0]], ds[spec.bands[1]])
        else:
            da = _spyndex(ds, spec)
        da.attrs = {"long_name": spec.long_name, "units": "1"}
        out[name] = da.rename(name)
    return xr.Dataset(out, coords=ds.coords)


def _spyndex(ds: xr.Dataset, spec: IndexSpec) -> xr.DataArray:
    import spyndex

    params: dict[str, object] = {}
    inv = {v: k for k, v in SPYNDEX_BANDS.items()}
    for band in spec.bands:
        params[inv[band]] = ds[band]
    idx = spyndex.indices[spec.spyndex_name]
    for sym in idx.bands:
        if sym not in params and sym in spyndex.constants:
            default = spyndex.constants[sym].default
            if default is None:
                raise InputError(f"index {spec.name!r} needs constant {sym!r} with no default")
            params[sym] = default
    da = spyndex.computeIndex(index=spec.spyndex_name, params=params)
    da = da.where(np.isfinite(da))
    return da.astype("float32")


def finish(composites: xr.Dataset, names: Sequence[str]) -> xr.Dataset:
    """Composites of `names` as delivered: the radar ``_db`` indices, composited in linear
    power, in decibels (10·log10; NaN where the power is not positive); others unchanged."""
    out = composites.copy()
    for name in names:
        spec = resolve(name)
        if spec.decibels and name in out:
            power = out[name]
            positive = power.where(power > 0)
            db = positive.copy(data=10 * np.log10(positive.data))
            out[name] = db.astype("float32").assign_attrs(
                {**power.attrs, "long_name": spec.long_name, "units": "dB"}
            )
    return out


def per_scene(ds: xr.Dataset, names: Sequence[str]) -> xr.Dataset:
    """Indices per scene: read from the product band where the scene's sensor delivers the
    index ready-made (MOD13Q1 `ndvi`, `evi`), else computed from the reflectances.

    A cube without a `sensor` coordinate is computed from reflectances only.
    """
    scene_sensors = (
        ds["sensor"].values if "sensor" in ds.coords else np.array([""] * ds.sizes["time"])
    )
    out = {}
    for name in names:
        ready = {s.name for s in sensors.SENSORS if name in s.index_bands}
        direct = np.isin(scene_sensors, sorted(ready))
        if direct.all():
            sensor = sensors.for_name(str(scene_sensors[0]))
            band = sensor.index_bands[name]
            if band not in ds:
                raise BandError(f"index {name!r}: band {band!r} is not in the cube")
            da = ds[band].rename(name)
            units = sensor.band_attrs.get(band, {}).get("units", "1")  # SMAP: m3 m-3, %
            da.attrs = {"long_name": resolve(name).long_name, "units": units}
        else:
            subset = ds[[b for b in resolve(name).bands if b in ds]]
            da = compute(subset, [name])[name]
            if direct.any():
                bands = {sensors.for_name(str(s)).index_bands[name] for s in scene_sensors[direct]}
                taken = ds[bands.pop()]
                use = xr.DataArray(direct, dims="time", coords={"time": ds.time})
                da = xr.where(use, taken, da, keep_attrs=True).astype("float32")
        out[name] = da
    attrs = {k: v for k, v in ds.attrs.items() if k != "qa_bands"}
    return xr.Dataset(out, coords=ds.coords, attrs=attrs)


def bands_for(collection: str, indices: Sequence[str]) -> list[str]:
    """Common bands to load from `collection` for `indices`, its QA band last (if it has one).

    An index the sensor delivers ready-made (`Sensor.index_bands`) is read, not computed.
    """
    sensor = sensors.for_collection(collection)
    out: list[str] = []
    for name in indices:
        needed = (sensor.index_bands[name],) if name in sensor.index_bands else resolve(name).bands
        out += [b for b in needed if b not in out]
    return [*out, sensor.qa_band] if sensor.qa_band else out
