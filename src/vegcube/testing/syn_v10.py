"""A deterministic Sentinel-3 SYNERGY V10 archive over the demo's land (static STAC, NetCDF).

One product per dekad (days 1–10, 11–20, 21–end of month, 00:00:00 to 23:59:59 UTC, as the
products since 2020 are), each a SAFE folder (``….SEN3``) holding the NetCDF files vegcube
reads, with the real variable names, dimensions (``latitude`` × ``longitude``, ``vertices``,
``crs``), coordinates and bounds, types, packing and flag attributes: ``NDVI.nc`` (``NDVI``,
uint8, × 0.004 − 0.08, fill 255), ``sm.nc`` (``SM``, the status map), ``B0.nc``, ``B2.nc``,
``B3.nc``, ``MIR.nc`` (int16 × 1e-4, fill −10000), ``tg.nc`` (``TG``, minutes since the
start) and a short ``xfdumanifest.xml``; the other seven annotation files of a real product
(``ag``, ``og``, ``wvg``, angles) are not written. Items follow Planetary Computer's
``sentinel-3-synergy-v10-l2-netcdf`` shape (stactools-sentinel3): ``datetime`` at the
synthesis' midpoint, ``start_datetime``/``end_datetime``, ``s3:*``/``sat:*`` properties,
the pixel centres' extent as geometry, no ``proj:*`` and no ``raster:bands``.

The grid is the product's (pixel centres on multiples of the step, latitudes descending) but
finer: the demo's tile is ~600 m wide, so the step is `step_deg` (1/1120°, ~100 m, by default)
instead of 1/112°. Each pixel holds the area means of the world's reflectances (`testing.world`)
on the dekad's middle day; NDVI = `ndvi_gain` × NDVI(red, NIR means) + `ndvi_offset`, packed
(rounded to 0.004): a known relation to the demo's truth. A few pixels per dekad are flagged
(cloud with a low NDVI, uncertain, ice/snow, bad B2 radiometry); water is not ``land``; pixels
the world does not cover are fill (``unfilled``).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pystac
from pyproj import Transformer

from ..sensors.syn_v10 import (
    COLLECTION,
    NDVI_FILL,
    NDVI_OFFSET,
    NDVI_SCALE,
    NDVI_VALID_MAX,
    REFLECTANCE_FILL,
    REFLECTANCE_SCALE,
    SM_FILL,
    SM_FLAGS,
    status_value,
)
from .world import Model, build_model, upsample
from .writing import join_catalog, reusable

__all__ = ["SynV10Archive", "dekads", "generate_syn_v10_archive", "write_product"]

_FORMAT = 1
_NC = "application/x-netcdf"
_REGION = "AUSTRALASIA"  # the region product holding New Caledonia
_CRS = "EPSG:https://www.opengis.net/def/crs/EPSG/0/4326"
_TG_FILL = 4294967295
_EXTENSIONS = [
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
]
#: asset key → (file, variable, description) as stactools-sentinel3 describes them
_FILES: dict[str, tuple[str, str, str]] = {
    "b0": ("B0.nc", "B0", "Surface Reflectance Data Set associated with VGT-B0 channel"),
    "b2": ("B2.nc", "B2", "Surface Reflectance Data Set associated with VGT-B2 channel"),
    "b3": ("B3.nc", "B3", "Surface Reflectance Data Set associated with VGT-B3 channel"),
    "mir": ("MIR.nc", "MIR", "Surface Reflectance Data Set associated with VGT-MIR channel"),
    "ndvi": ("NDVI.nc", "NDVI", "Normalised difference vegetation index"),
    "tg": ("tg.nc", "TG", "Synthesis time data"),
    "sm": ("sm.nc", "SM", "Status Map data"),
}
_EO = {
    "b0": ("B0", "OLCI channels Oa02, Oa03", 0.45, 0.02),
    "b2": ("B2", "OLCI channels Oa06, Oa07, Oa08, Oa09, Oa10", 0.645, 0.035),
    "b3": ("B3", "OLCI channels Oa16, Oa17, Oa18, Oa21", 0.835, 0.055),
    "mir": ("MIR", "SLSTR nadir and oblique channels S5, S6", 1.665, 0.085),
}
#: file titles (the ``title`` global attribute of the real files, after "SYN VGT-S Level 2
#: Product, ")
_TITLES = {
    "NDVI": "Normalized difference vegetation index",
    "SM": "status flags",
    "TG": "Synthesis time",
    **{b: f"Surface reflectance for {b} channel" for b in ("B0", "B2", "B3", "MIR")},
}


@dataclass(frozen=True, kw_only=True)
class SynV10Archive:
    """A generated SYN V10 archive and the facts tests need about it."""

    path: Path
    catalog: Path
    bbox: tuple[float, float, float, float]
    start: str
    end: str
    n_items: int
    seed: int
    step_deg: float
    ndvi_gain: float
    ndvi_offset: float
    collection: str = COLLECTION
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def recipe(self, out: str | os.PathLike[str], **grid: Any) -> dict[str, Any]:
        """A dekadal NDVI recipe on this archive (grid: the AOI's UTM zone at 30 m unless
        `grid` says otherwise), writing Zarr to `out`."""
        return {
            "name": "syn-v10",
            "aoi": {"bbox": list(self.bbox)},
            "time": {"start": self.start, "end": self.end},
            "source": {"catalog": str(self.catalog), "collection": self.collection},
            "grid": grid or {"resolution": 30},
            "indices": ["ndvi"],
            "composite": {"period": "dekad", "reducer": "median"},
            "output": {"dir": str(out), "formats": ["zarr"]},
        }


def dekads(start: date, end: date) -> list[tuple[date, date]]:
    """(first, last) days of the dekads overlapping `start` .. `end`."""
    out = []
    d = date(start.year, start.month, 1)
    while d <= end:
        last = calendar.monthrange(d.year, d.month)[1]
        for a, b in ((1, 10), (11, 20), (21, last)):
            first, final = d.replace(day=a), d.replace(day=b)
            if final >= start and first <= end:
                out.append((first, final))
        d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def _grid(model: Model, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre latitudes (descending) and longitudes, on multiples of `step`, covering the
    world's footprint with a pixel to spare."""
    lons = [p[0] for p in model.footprint]
    lats = [p[1] for p in model.footprint]
    i0, i1 = math.floor(min(lons) / step) - 1, math.ceil(max(lons) / step) + 1
    j0, j1 = math.floor(min(lats) / step) - 1, math.ceil(max(lats) / step) + 1
    return np.arange(j1, j0 - 1, -1) * step, np.arange(i0, i1 + 1) * step


def _binning(model: Model, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat pixel index of every 10 m world pixel (-1 outside), and each pixel's coverage."""
    n, step = model.size, float(lon[1] - lon[0])
    cols, rows = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5)
    x, y = model.transform * (cols, rows)
    glon, glat = Transformer.from_crs(model.site.epsg, 4326, always_xy=True).transform(x, y)
    c = np.rint((np.asarray(glon) - lon[0]) / step).astype(int)
    r = np.rint((lat[0] - np.asarray(glat)) / step).astype(int)
    inside = (c >= 0) & (c < lon.size) & (r >= 0) & (r < lat.size)
    idx = np.where(inside, r * lon.size + c, -1).ravel()
    count = np.bincount(idx[idx >= 0], minlength=lat.size * lon.size)
    cell = (step * 111_320 * math.cos(math.radians(float(lat.mean())))) * (step * 110_574)
    return idx, count / (cell / 100.0)


def _render(
    model: Model,
    first: date,
    final: date,
    idx: np.ndarray,
    cover: np.ndarray,
    shape: tuple[int, int],
    gain: float,
    offset: float,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The stored arrays of one dekad's product (NDVI, SM, B0, B2, B3, MIR, TG) and its
    ``eo:cloud_cover``, ``s3:snow_or_ice``, ``s3:land`` percentages."""
    rng = np.random.default_rng([model.seed, 53, first.toordinal()])
    middle = first + (final - first) / 2
    local = datetime(middle.year, middle.month, middle.day, 10)
    r10, r20, _ = model.surface(local)
    ok = idx >= 0
    size = shape[0] * shape[1]

    def mean(a: np.ndarray) -> np.ndarray:
        s = np.bincount(idx[ok], weights=a.ravel()[ok], minlength=size)
        n = np.bincount(idx[ok], minlength=size)
        return (s / np.maximum(n, 1)).reshape(shape)

    blue, red, nir = mean(r10[0]), mean(r10[2]), mean(r10[3])
    swir = mean(upsample(r20[0]))
    water = mean((model.landcover == 4).astype("float32")) > 0.5
    fill = cover.reshape(shape) < 0.8
    with np.errstate(invalid="ignore", divide="ignore"):  # fill pixels: no reflectance
        ndvi = np.where(fill, 0.0, gain * (nir - red) / (nir + red) + offset)
    land = ~fill & ~water
    u = rng.random(shape)
    share = rng.choice([0.0, 0.03, 0.1])  # residual clouds of a 10-day synthesis
    cloud = land & (u < share)
    uncertain = land & (u >= share) & (u < share + 0.02)
    snow = land & (u >= 0.97) & (u < 0.98)
    bad_red = land & (u >= 0.98) & (u < 0.99)
    ndvi = np.where(cloud, rng.uniform(0.0, 0.1, shape), ndvi)
    ndvi = np.where(uncertain, 0.8 * ndvi, ndvi)
    ndvi = np.where(snow, 0.02, np.where(bad_red, 0.95, ndvi))

    sm = np.full(shape, status_value(), np.uint16)
    sm[water] = status_value(land=False)
    sm[cloud] = status_value(cloud="cloud")
    sm[uncertain] = status_value(cloud="uncertain")
    sm[snow] = status_value(snow=True)
    sm[bad_red] = status_value(good=("B0", "B3", "MIR"))
    sm[fill] = SM_FILL

    def reflectance(a: np.ndarray) -> np.ndarray:
        out = np.clip(np.rint(a / REFLECTANCE_SCALE), 0, 10000).astype(np.int16)
        out[fill] = REFLECTANCE_FILL
        return out

    dn = np.clip(np.rint((ndvi - NDVI_OFFSET) / NDVI_SCALE), 0, NDVI_VALID_MAX).astype(np.uint8)
    dn[fill] = NDVI_FILL
    minutes = (final - first).days * 1440 + 1439
    tg = rng.integers(0, minutes, shape).astype(np.uint32)
    tg[fill] = _TG_FILL
    valid = max(int((~fill).sum()), 1)
    stats = {
        "eo:cloud_cover": round(100 * float(cloud.sum()) / valid, 6),
        "s3:snow_or_ice": round(100 * float(snow.sum()) / valid, 6),
        "s3:land": round(100 * float(((sm & SM_FLAGS["land"][0]) != 0).sum()) / sm.size, 6),
    }
    arrays: dict[str, np.ndarray] = {
        "NDVI": dn,
        "SM": sm,
        "B0": reflectance(blue),
        "B2": reflectance(red),
        "B3": reflectance(nir),
        "MIR": reflectance(swir),
        "TG": tg,
    }
    return arrays, stats


def _variable_attrs(name: str) -> tuple[str, Any, dict[str, Any]]:
    """(type, fill, attributes) of a data variable, as the product declares them."""
    f32 = np.float32
    if name == "NDVI":
        return (
            "u1",
            NDVI_FILL,
            {
                "standard_name": "normalized_difference_vegetation_index",
                "long_name": "Normalized difference vegetation index",
                "valid_min": np.uint8(0),
                "valid_max": np.uint8(NDVI_VALID_MAX),
                "scale_factor": f32(NDVI_SCALE),
                "add_offset": f32(NDVI_OFFSET),
            },
        )
    if name == "SM":
        names = list(SM_FLAGS)
        return (
            "u2",
            SM_FILL,
            {
                "standard_name": "status_flag",
                "long_name": "Status flag",
                "flag_masks": np.array([SM_FLAGS[k][0] for k in names], np.uint16),
                "flag_values": np.array([SM_FLAGS[k][1] for k in names], np.uint16),
                "flag_meanings": " ".join(names),
            },
        )
    if name == "TG":
        return (
            "u4",
            _TG_FILL,
            {
                "standard_name": "time",
                "long_name": "Synthesis time",
                "units": "minutes since start_time",
            },
        )
    band = name.lower()
    wavelength, width = {
        "B0": (450.0, 20.0),
        "B2": (645.0, 35.0),
        "B3": (835.0, 55.0),
        "MIR": (1665.0, 85.0),
    }[name]
    return (
        "i2",
        REFLECTANCE_FILL,
        {
            "standard_name": f"surface_reflectance_for_{band}_channel",
            "long_name": f"Surface reflectance for VGT {name} channel",
            "valid_min": np.int16(0),
            "valid_max": np.int16(10000),
            "wavelength": f32(wavelength),
            "bandwidth": f32(width),
            "scale_factor": f32(REFLECTANCE_SCALE),
        },
    )


def write_product(
    folder: Path,
    *,
    lat: np.ndarray,
    lon: np.ndarray,
    arrays: dict[str, np.ndarray],
    start: datetime,
    stop: datetime,
    resolution_m: float = 1000.0,
) -> dict[str, Path]:
    """Write an SY_2_V10 SAFE folder: one NetCDF file per variable of `arrays` (stored values,
    latitude × longitude), on pixel centres `lat` (descending) and `lon`; returns asset key →
    file (with ``safe-manifest``)."""
    folder.mkdir(parents=True, exist_ok=True)
    step = float(lon[1] - lon[0])
    made = stop + timedelta(days=7, hours=12, minutes=14, seconds=53)
    attrs = {
        "comment": " ",
        "contact": "eosupport@copernicus.esa.int",
        "creation_time": f"{made:%Y-%m-%dT%H:%M:%SZ}",
        "history": f"  {made:%Y-%m-%dT%H:%M:%SZ}: PUGCoreProcessor JobOrder.xml",
        "institution": "LN2",
        "netCDF_version": "4.2 of Mar 13 2018 10:14:33 $",
        "product_name": folder.name,
        "references": "S3IPF PDS 006 - i1r13 - Product Data Format Specification - SYNERGY, "
        "S3IPF DPM 010 - i1r7 - Detailed Processing Model - SYN VGT-S",
        "resolution": f"[ {resolution_m:g} {resolution_m:g} ]",
        "source": "IPF-SY-2-VGS 06.09",
        "start_time": f"{start:%Y-%m-%dT%H:%M:%S.%fZ}",
        "stop_time": f"{stop:%Y-%m-%dT%H:%M:%S.%fZ}",
    }
    files: dict[str, Path] = {}
    for key, (name, variable, _) in _FILES.items():
        if variable not in arrays:
            continue
        path = files[key] = folder / name
        with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
            nc.setncatts({**attrs, "title": f"SYN VGT-S Level 2 Product, {_TITLES[variable]}"})
            nc.createDimension("crs", 1)
            nc.createDimension("latitude", lat.size)
            nc.createDimension("longitude", lon.size)
            nc.createDimension("vertices", 2)
            crs = nc.createVariable("crs", str, ("crs",))
            crs[0] = _CRS
            for axis, values, (lo, hi), units in (
                ("latitude", lat, (-56.0, 75.0), "degrees_north"),
                ("longitude", lon, (-180.0, 180.0), "degrees_east"),
            ):
                v = nc.createVariable(axis, "f8", (axis,))
                v.setncatts(
                    {
                        "standard_name": axis,
                        "long_name": axis,
                        "units": units,
                        "bounds": f"{axis[:3]}_bnds",
                        "valid_min": lo,
                        "valid_max": hi,
                    }
                )
                v[:] = values
                b = nc.createVariable(f"{axis[:3]}_bnds", "f8", (axis, "vertices"))
                b.setncatts(
                    {
                        "standard_name": f"{axis}_cell_boundaries",
                        "long_name": f"{axis} cell boundaries",
                    }
                )
                half = step / 2 if axis == "longitude" else -step / 2
                b[:] = np.column_stack([values - half, values + half])
            dtype, fill, var_attrs = _variable_attrs(variable)
            v = nc.createVariable(
                variable, dtype, ("latitude", "longitude"), zlib=True, fill_value=fill
            )
            v.set_auto_maskandscale(False)
            v.setncatts(var_attrs)
            v[:] = arrays[variable].astype(dtype)
    manifest = files["safe-manifest"] = folder / "xfdumanifest.xml"
    manifest.write_text(
        _MANIFEST.format(
            name=folder.name,
            start=attrs["start_time"],
            stop=attrs["stop_time"],
            rows=lat.size,
            cols=lon.size,
        )
    )
    return files


def _item(
    item_id: str,
    files: dict[str, Path],
    *,
    lat: np.ndarray,
    lon: np.ndarray,
    start: datetime,
    stop: datetime,
    stats: dict[str, float],
    resolution_m: float,
) -> pystac.Item:
    """A Planetary-Computer-shaped item of the SAFE folder `files` (hrefs relative to it)."""
    w, e = round(float(lon[0]), 4), round(float(lon[-1]), 4)
    s, n = round(float(lat[-1]), 4), round(float(lat[0]), 4)
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    props: dict[str, Any] = {
        "sat:platform_international_designator": "2016-011A",
        "sat:orbit_state": "descending",
        "sat:absolute_orbit": 28848,
        "sat:relative_orbit": 145,
        "eo:cloud_cover": stats["eo:cloud_cover"],
        "start_datetime": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "end_datetime": f"{stop:%Y-%m-%dT%H:%M:%SZ}",
        "instruments": ["OLCI", "SLSTR"],
        "s3:product_type": "SY_2_V10___",
        "s3:gsd": {"OLCI": 300, "SLSTR": {"S1-S6": 500, "S7-S9 and F1-F2": 1000}},
        "s3:snow_or_ice": stats["s3:snow_or_ice"],
        "s3:land": stats["s3:land"],
        "platform": "Sentinel-3A",
        "constellation": "Sentinel-3",
        "s3:processing_timeliness": "NT",
        "s3:product_name": "synergy-v10",
    }
    item = pystac.Item(
        item_id,
        {"type": "Polygon", "coordinates": [ring]},
        [w, s, e, n],
        start + (stop - start) / 2,  # Planetary Computer: the synthesis' midpoint
        props,
        stac_extensions=list(_EXTENSIONS),
        collection=COLLECTION,
    )
    for key, path in files.items():
        extra: dict[str, Any] = {}
        if key == "safe-manifest":
            text, media, roles = "SAFE product manifest", "application/xml", ["metadata"]
        else:
            text, media, roles = _FILES[key][2], _NC, ["data"]
            extra = {
                "s3:shape": [lat.size, lon.size],
                "s3:spatial_resolution": [resolution_m, resolution_m],
            }
            if key in _EO:
                extra["eo:bands"] = [_eo_band(key)]
            elif key == "ndvi":
                extra["eo:bands"] = [_eo_band("b2"), _eo_band("b3")]
        extra["file:checksum"] = hashlib.md5(path.read_bytes()).hexdigest()
        extra["file:size"] = path.stat().st_size
        item.add_asset(
            key,
            pystac.Asset(
                f"./{path.parent.name}/{path.name}",
                description=text,
                media_type=media,
                roles=roles,
                extra_fields=extra,
            ),
        )
    return item


def _eo_band(key: str) -> dict[str, Any]:
    name, text, centre, width = _EO[key]
    return {
        "name": name,
        "description": text,
        "center_wavelength": centre,
        "full_width_half_max": width,
    }


def generate_syn_v10_archive(
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
    start: str = "2021-01-01",
    end: str = "2021-06-30",
    size: int = 60,
    step_deg: float = 1 / 1120,
    ndvi_gain: float = 1.0,
    ndvi_offset: float = 0.0,
) -> SynV10Archive:
    """Generate (or reuse) a SYN V10 archive under `path` (joining its catalog.json): one
    Sentinel-3A product per dekad from `start` to `end` over the land of the demo archive of
    `seed` and `size`, pixels `step_deg` apart; NDVI = `ndvi_gain` × the world's NDVI +
    `ndvi_offset` (a known relation, for sensor continuity)."""
    d0, d1 = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    if d1 < d0:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    if not 0 < step_deg <= 1 / 112:
        raise ValueError("step_deg must be in (0, 1/112]")
    params = {
        "format": _FORMAT,
        "seed": int(seed),
        "start": d0.isoformat(),
        "end": d1.isoformat(),
        "size": int(size),
        "step_deg": float(step_deg),
        "ndvi_gain": float(ndvi_gain),
        "ndvi_offset": float(ndvi_offset),
    }
    root = Path(path).absolute()
    manifest = root / "syn-v10-archive.json"
    model = build_model(int(seed), int(size))
    periods = dekads(d0, d1)

    def archive() -> SynV10Archive:
        return SynV10Archive(
            path=root,
            catalog=root / "catalog.json",
            bbox=model.bbox,
            start=d0.isoformat(),
            end=d1.isoformat(),
            n_items=len(periods),
            seed=int(seed),
            step_deg=float(step_deg),
            ndvi_gain=float(ndvi_gain),
            ndvi_offset=float(ndvi_offset),
            params=params,
        )

    if reusable(root, manifest, params, COLLECTION):
        return archive()
    lat, lon = _grid(model, float(step_deg))
    idx, cover = _binning(model, lat, lon)
    res_m = round(float(step_deg) * 112_000)  # 1/112° is the product's "1000 m"
    items = []
    for first, final in periods:
        t0 = datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
        t1 = datetime(final.year, final.month, final.day, 23, 59, 59, tzinfo=timezone.utc)
        arrays, stats = _render(
            model, first, final, idx, cover, (lat.size, lon.size), ndvi_gain, ndvi_offset
        )
        item_id = f"S3A_SY_2_V10_{t0:%Y%m%dT%H%M%S}_{t1:%Y%m%dT%H%M%S}_{_REGION}"
        made = t1 + timedelta(days=7, hours=12, minutes=14, seconds=53)
        safe = (
            f"S3A_SY_2_V10____{t0:%Y%m%dT%H%M%S}_{t1:%Y%m%dT%H%M%S}_{made:%Y%m%dT%H%M%S}_"
            f"{_REGION:_<17}_LN2_O_NT_002.SEN3"
        )
        files = write_product(
            root / COLLECTION / item_id / safe,
            lat=lat,
            lon=lon,
            arrays=arrays,
            start=t0,
            stop=t1,
            resolution_m=res_m,
        )
        items.append(
            _item(
                item_id, files, lat=lat, lon=lon, start=t0, stop=t1, stats=stats, resolution_m=res_m
            )
        )
    coll = pystac.Collection(
        COLLECTION,
        "Synthetic Sentinel-3 SYNERGY V10 10-day NDVI syntheses (vegcube test archive).",
        pystac.Extent(
            pystac.SpatialExtent([[float(lon[0]), float(lat[-1]), float(lon[-1]), float(lat[0])]]),
            pystac.TemporalExtent([[items[0].datetime, items[-1].datetime]]),
        ),
        title="Sentinel-3 10-Day Surface Reflectance and NDVI (vegcube test archive)",
        license="proprietary",
        summaries=pystac.Summaries(
            {
                "platform": ["Sentinel-3A"],
                "instruments": ["OLCI", "SLSTR"],
                "s3:product_type": ["SY_2_V10___"],
            }
        ),
    )
    coll.add_items(items)
    join_catalog(root, coll, title="vegcube test archive: synthetic Sentinel-3 SYN V10.")
    manifest.write_text(
        json.dumps(
            {"generator": "vegcube.testing.syn_v10", "params": params, "items": len(items)},
            indent=1,
        )
    )
    return archive()


_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:sentinel3="http://www.esa.int/safe/sentinel/sentinel-3/1.0" xmlns:sentinel-safe="http://www.esa.int/safe/sentinel/1.1">
  <sentinel3:productName>{name}</sentinel3:productName>
  <sentinel3:productType>SY_2_V10___</sentinel3:productType>
  <sentinel-safe:acquisitionPeriod><sentinel-safe:startTime>{start}</sentinel-safe:startTime><sentinel-safe:stopTime>{stop}</sentinel-safe:stopTime></sentinel-safe:acquisitionPeriod>
  <sentinel3:imageSize><sentinel3:rows>{rows}</sentinel3:rows><sentinel3:columns>{cols}</sentinel3:columns></sentinel3:imageSize>
</xfdu:XFDU>
"""  # noqa: E501
