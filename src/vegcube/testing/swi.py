"""A Copernicus SWI test archive: global 0.1° NetCDF files over the demo's site.

Files have the product's layout as far as the sources show it
(``tests/data/items/EVIDENCE-swi.md``): names ``c_gls_SWI_<YYYYMMDD>1200_GLOBE_ASCAT_V3.2.1.nc``
(daily) or ``c_gls_SWI10_…`` (10-daily, dated the 1st, 11th and 21st); dimensions ``time`` (1),
``lat`` (1800, cell centres 89.95 … −89.95) and ``lon`` (3600, −179.95 … 179.95); for each T in
1, 5, 10, 15, 20, 40, 60, 100 a ``SWI_<TTT>`` and a ``QFLAG_<TTT>`` uint8 variable (time, lat,
lon), DN × 0.5 = %, ``_FillValue`` 255, chunked so only the modelled window is stored; ``SSF``
(daily files); ``time_coverage_start``/``_end`` global attributes.

The modelled `size` × `size` cells around the site's cell have a seasonal cycle (wettest
mid-February), a per-cell level, year-to-year and daily noise, smoother and slower for longer
T, a sea of always-missing cells, rare missing cells and rare DN above 200 (a flag value),
QFLAG mostly high with some cells of few observations, and a dry spell in the `dry` cells at
the world's drought time (`world.DROUGHT`, 2023-02..04). Deterministic from `seed`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..sensors.swi import FILL, SWI_COLLECTIONS, SWI_SHAPE, SWI_TRANSFORM, T_VALUES
from .world import CENTRE, drought_weight

__all__ = ["SwiArchive", "generate_swi_archive", "write_url_list"]

_SEA = ((-3, -3), (-3, -2), (-2, -3))  # cells from the centre that are always missing


@dataclass(frozen=True)
class SwiArchive:
    """Generated SWI files and what the tests need to know of them."""

    path: Path  #: the folder of the files
    collection: str  #: copernicus-swi or copernicus-swi10
    files: tuple[Path, ...]
    dates: tuple[date, ...]
    window: tuple[int, int, int]  #: (row, col, size) of the modelled cells on the global grid
    site: tuple[int, int]  #: (row, col) of the site's cell
    bbox: tuple[float, float, float, float]  #: lon/lat AOI: inside the central `aoi` cells
    dry: np.ndarray  #: (size, size) True where the dry spell is
    sea: np.ndarray  #: (size, size) True where every file is missing


def site_cell(lon: float = CENTRE[0], lat: float = CENTRE[1]) -> tuple[int, int]:
    """(row, col) of the 0.1° cell holding (`lon`, `lat`)."""
    col, row = ~SWI_TRANSFORM * (lon, lat)
    return math.floor(row), math.floor(col)


def _dates(product: str, start: date, end: date, months: Sequence[int] | None, step: int
           ) -> list[date]:  # fmt: skip
    out, d = [], start
    while d <= end:
        if (months is None or d.month in months) and (product == "SWI" or d.day in (1, 11, 21)):
            out.append(d)
        d += timedelta(days=step if product == "SWI" else 1)
    return out


def generate_swi_archive(
    path: str | os.PathLike[str],
    *,
    collection: str = "copernicus-swi",
    seed: int = 11,
    start: str = "2023-01-01",
    end: str = "2023-01-31",
    months: Sequence[int] | None = None,
    step: int = 1,
    size: int = 10,
    aoi: int = 6,
    version: str = "3.2.1",
) -> SwiArchive:
    """Write the files of `collection` for `start`..`end` (daily: every `step` days; 10-daily:
    each dekad; only `months` if given) over `size` × `size` cells around the site's cell;
    the AOI is the central `aoi` cells."""
    if collection not in SWI_COLLECTIONS:
        raise ValueError(f"collection: {collection!r} is not one of {', '.join(SWI_COLLECTIONS)}")
    product = SWI_COLLECTIONS[collection]
    d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    level = 55 + 10 * np.sin(xx / 3.0) * np.cos(yy / 4.0) + rng.normal(0, 2, (size, size))
    years = {y: rng.normal(0, 2.0, (size, size)) for y in range(d0.year, d1.year + 1)}
    c = size // 2
    dry = np.zeros((size, size), bool)
    dry[c - 1 : c + 1, c - 1 : c + 1] = True  # a 2 × 2 block inside the AOI
    sea = np.zeros((size, size), bool)
    for r, k in _SEA:
        sea[c + r, c + k] = True
    row, col = site_cell()
    window = (row - c, col - c, size)
    root = Path(path).absolute()
    root.mkdir(parents=True, exist_ok=True)
    files, dates = [], []
    for day in _dates(product, d0, d1, months, step):
        doy = day.timetuple().tm_yday
        daily = rng.normal(0, 3.0, (size, size))
        missing = sea | (rng.random((size, size)) < 0.02)
        flagged = ~missing & (rng.random((size, size)) < 0.01)  # a DN above 200
        few = rng.random((size, size)) < 0.12  # few observations behind the value
        layers: dict[str, np.ndarray] = {}
        for t in T_VALUES:
            damp = 1.0 / (1.0 + math.log10(t))  # longer T: smoother, slower
            season = 20 * math.cos(2 * math.pi * (doy - 45 - 0.3 * t) / 365.25)
            pct = level + years[day.year] + season + damp * daily
            pct = pct - 30 * drought_weight(day) * dry
            dn = np.clip(np.round(2 * pct), 0, 200).astype(np.uint8)
            dn[flagged] = 252
            dn[missing] = FILL
            qf = np.clip(np.round(2 * (92 - 8 / t + rng.normal(0, 4, (size, size)))), 0, 200)
            qf = np.where(few, np.round(2 * rng.uniform(2, 22, (size, size))), qf).astype(np.uint8)
            qf[missing] = FILL
            layers[f"SWI_{t:03d}"], layers[f"QFLAG_{t:03d}"] = dn, qf
        if product == "SWI":
            layers["SSF"] = np.where(missing, FILL, 1).astype(np.uint8)
        name = f"c_gls_{product}_{day:%Y%m%d}1200_GLOBE_ASCAT_V{version}.nc"
        _write(root / name, layers, window, product=product, day=day)
        files.append(root / name)
        dates.append(day)
    a0, a1 = c - aoi // 2, c + aoi // 2
    pad = 0.015
    west, north = SWI_TRANSFORM * (window[1] + a0, window[0] + a0)
    east, south = SWI_TRANSFORM * (window[1] + a1, window[0] + a1)
    return SwiArchive(
        path=root,
        collection=collection,
        files=tuple(files),
        dates=tuple(dates),
        window=window,
        site=(row, col),
        bbox=(west + pad, south + pad, east - pad, north - pad),
        dry=dry,
        sea=sea,
    )


def _write(path: Path, layers: dict[str, np.ndarray], window: tuple[int, int, int], *,
           product: str, day: date) -> None:  # fmt: skip
    """One global file, only the window's chunks stored; written to a temporary name."""
    import netCDF4

    r0, c0, size = window
    rows, cols = SWI_SHAPE
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
    first = noon - timedelta(days=1 if product == "SWI" else 10)
    tmp = path.with_name(path.name + ".part")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        nc.setncatts(_global_attrs(product, noon, first))
        nc.createDimension("time", 1)
        nc.createDimension("lat", rows)
        nc.createDimension("lon", cols)
        t = nc.createVariable("time", "f8", ("time",))
        t.setncatts({"standard_name": "time", "units": "days since 1970-01-01 00:00:00",
                     "calendar": "gregorian", "axis": "T"})  # fmt: skip
        t[:] = [(noon - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds() / 86400]
        lat = nc.createVariable("lat", "f8", ("lat",))
        lat.setncatts({"standard_name": "latitude", "units": "degrees_north", "axis": "Y"})
        lat[:] = 89.95 - 0.1 * np.arange(rows)
        lon = nc.createVariable("lon", "f8", ("lon",))
        lon.setncatts({"standard_name": "longitude", "units": "degrees_east", "axis": "X"})
        lon[:] = -179.95 + 0.1 * np.arange(cols)
        crs = nc.createVariable("crs", "i4")
        crs.setncatts({"grid_mapping_name": "latitude_longitude", "semi_major_axis": 6378137.0,
                       "inverse_flattening": 298.257223563})  # fmt: skip
        for name, dn in layers.items():
            v = nc.createVariable(name, "u1", ("time", "lat", "lon"), zlib=True, complevel=4,
                                  chunksizes=(1, 90, 90), fill_value=FILL)  # fmt: skip
            v.setncatts(_var_attrs(name))
            v.set_auto_maskandscale(False)
            v[0, r0 : r0 + size, c0 : c0 + size] = dn
    os.replace(tmp, path)


def _global_attrs(product: str, noon: datetime, first: datetime) -> dict[str, Any]:
    what = "10-daily" if product == "SWI10" else "daily"
    return {
        "Conventions": "CF-1.6",
        "title": f"{what} Soil Water Index (vegcube test file)",
        "identifier": f"urn:cgls:global:swi_v3_0.1degree:{product}_{noon:%Y%m%d%H%M}_GLOBE_ASCAT",
        "platform": "Metop",
        "sensor": "ASCAT",
        "time_coverage_start": f"{first:%Y-%m-%dT%H:%M:%SZ}",
        "time_coverage_end": f"{noon:%Y-%m-%dT%H:%M:%SZ}",
    }


def _var_attrs(name: str) -> dict[str, Any]:
    if name == "SSF":
        return {"long_name": "Surface State Flag", "grid_mapping": "crs"}
    kind, t = name.split("_")
    long = "Soil Water Index" if kind == "SWI" else "Quality Flag"
    return {"long_name": f"{long} with T={int(t)}", "units": "%", "scale_factor": 0.5,
            "add_offset": 0.0, "grid_mapping": "crs"}  # fmt: skip


def write_url_list(archive: SwiArchive, base_url: str, path: str | os.PathLike[str]) -> Path:
    """A text file listing the archive's files at `base_url` (one URL a line)."""
    out = Path(path)
    lines = ["# Copernicus SWI files (vegcube test)"]
    lines += [f"{base_url.rstrip('/')}/{f.name}" for f in archive.files]
    out.write_text("\n".join(lines) + "\n")
    return out
