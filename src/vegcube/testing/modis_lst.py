"""A deterministic MODIS 8-day 1 km land-surface-temperature archive (MOD11A2 or MOD21A2).

The demo's world (`testing.world`) is aggregated into 1 km pixels (1200 per tile) of the
MODIS sinusoidal grid, on a window of the real tile holding the demo's centre. Temperature
follows the Landsat generator's surface temperature: day LST = 303 K − 8 K × vegetation
fraction (its 1 km mean), so the drought's lost canopy shows as warmer land; night LST has a
weaker vegetation signal. Items follow Planetary Computer's ``modis-11A2-061`` /
``modis-21A2-061`` shape (`tests/data/items/planetary-computer`): one COG per layer, asset
keys, titles and ``raster:bands`` as published (scales, no nodata, no offsets), ``datetime``
null with the composite's ``start_datetime``/``end_datetime`` (8 days from days 1, 9, …, 361
of each year), ``proj:wkt2`` without EPSG code; the ``hdf``/``metadata``/tile-service assets
are left out (nothing reads them).

Pixels outside the modelled land are fill (LST 0; MOD11 QC "not produced", MOD21 QC 0). Per
composite, and for day and night apart, a smooth patch of pixels is cloudy (LST 0, QC "not
produced due to cloud"), and a few others carry a high LST error (MOD11 error class > 2 K,
MOD21 accuracy "poor") with a temperature 6 K too cold, which only the QC reveals.
Emissivity is stored with its +0.49 offset, view angles with their −65.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pystac
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.transform import Affine

from ..sensors.modis import SINUSOIDAL_PROJ4, SINUSOIDAL_WKT, TILE_SIZE_M, tile_of
from .world import CENTRE, DROUGHT, EPSG, Model, build_model, smooth
from .writing import iso, join_catalog, reusable, write_cog

__all__ = ["ModisLstArchive", "generate_modis_lst_archive", "mod11_qc", "mod21_qc"]

_FORMAT = 1
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"
_PIXEL = TILE_SIZE_M / 1200
_R = 6371007.181
_X0, _Y0 = -math.pi * _R, math.pi * _R / 2
_EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
_RB = {"spatial_resolution": 1000}
_LST_RB = {"unit": "Kelvin", "scale": 0.02, "data_type": "uint16", **_RB}
_QC_RB = {"data_type": "uint8", **_RB}
_EMIS_RB = {"scale": 0.002, "data_type": "uint8", **_RB}
_ANGLE_RB = {"unit": "Degree", "data_type": "uint8", **_RB}
_TIME_RB = {"unit": "Hours", "scale": 0.1, "data_type": "uint8", **_RB}
# layer → (asset key, title) per product, in the published order
_PRODUCTS: dict[str, dict[str, tuple[str, str]]] = {
    "MOD11A2": {
        "qc_day": ("QC_Day", "Quality control for daytime LST and emissivity"),
        "emis_31": ("Emis_31", "Band 31 emissivity"),
        "emis_32": ("Emis_32", "Band 32 emissivity"),
        "qc_night": ("QC_Night", "Quality control for nighttime LST and emissivity"),
        "lst_day": ("LST_Day_1km", "8-day daytime 1km grid Landsurface Temperature"),
        "view_angle_day": (
            "Day_view_angl",
            "Average view zenith angle of daytime Land-surface Temperature",
        ),
        "view_time_day": (
            "Day_view_time",
            "Average time of daytime Landsurface Temperature observation",
        ),
        "lst_night": ("LST_Night_1km", "8-day nighttime 1km grid Landsurface Temperature"),
        "clear_sky_days": (
            "Clear_sky_days",
            "the days in clear-sky conditions and with validate LSTs",
        ),
        "view_angle_night": (
            "Night_view_angl",
            "View zenith angle of nighttime Land-surface Temperature ",
        ),
        "view_time_night": (
            "Night_view_time",
            "Average view zenith angle of nighttime Land-surface Temperature",
        ),
        "clear_sky_nights": (
            "Clear_sky_nights",
            "the nights in clear-sky conditions and with validate LSTs",
        ),
    },
    "MOD21A2": {
        "qc_day": ("QC_Day", "Day Quality Control"),
        "emis_29": ("Emis_29", "Average Day/Night Band 29 emissivity"),
        "emis_31": ("Emis_31", "Average Day/Night Band 31 emissivity"),
        "emis_32": ("Emis_32", "Average Day/Night Band 32 emissivity"),
        "qc_night": ("QC_Night", "Night Quality Control"),
        "lst_day": ("LST_Day_1KM", "Day Land Surface Temperature"),
        "lst_night": ("LST_Night_1KM", "Night Land Surface Temperature"),
        "view_time_day": ("View_Time_Day", "Day Time of Observation"),
        "view_angle_day": ("View_Angle_Day", "Day view zenith angle"),
        "view_time_night": ("View_Time_Night", "Night Time of Observation"),
        "view_angle_night": ("View_Angle_Night", "Night view zenith angle"),
    },
}


def _layer(product: str, layer: str) -> tuple[list[str], dict[str, Any], int | None]:
    """Roles, ``raster:bands`` entry (as published) and file nodata of a layer."""
    kind = layer.split("_")[0] if not layer.startswith("view") else "_".join(layer.split("_")[:2])
    rb, nodata = {
        "lst": (_LST_RB, 0),
        "emis": (_EMIS_RB, 0),
        "view_angle": (_ANGLE_RB, 255),
        "view_time": (_TIME_RB, 255),
        "clear": (_QC_RB, 0),
        "qc": (_QC_RB, None if product == "MOD11A2" else 0),  # MOD21A2 QC _FillValue 0
    }[kind]
    roles = ["data", "temperature"] if kind == "lst" and product == "MOD11A2" else ["data"]
    return roles, dict(rb), nodata


_COLLECTIONS = {"MOD11A2": "modis-11A2-061", "MOD21A2": "modis-21A2-061"}


def mod11_qc(
    *, mandatory: int = 0, quality: int = 0, emis_error: int = 0, lst_error: int = 0
) -> int:
    """A MOD11A2 QC byte from its fields (bits 0–1, 2–3, 4–5, 6–7; error classes 0 = best)."""
    return int(mandatory | quality << 2 | emis_error << 4 | lst_error << 6)


def mod21_qc(
    *, modland: int = 0, quality: int = 0, emis_accuracy: int = 2, lst_accuracy: int = 3
) -> int:
    """A MOD21A2 QC byte from its fields (bits 0–1, 2–3, 4–5, 6–7; accuracy classes 3 = best)."""
    return int(modland | quality << 2 | emis_accuracy << 4 | lst_accuracy << 6)


#: QC of (good, high LST error, cloud, fill) pixels per product
_QC = {
    "MOD11A2": (mod11_qc(), mod11_qc(mandatory=1, lst_error=2), 2, 3),
    "MOD21A2": (mod21_qc(), mod21_qc(modland=1, lst_accuracy=0), 2, 0),
}


@dataclass(frozen=True, kw_only=True)
class ModisLstArchive:
    """A generated MODIS LST archive and the facts tests need about it."""

    path: Path
    catalog: Path
    collection: str
    tile: tuple[int, int]
    transform: tuple[float, ...]
    shape: tuple[int, int]
    bbox: tuple[float, float, float, float]
    start: str
    end: str
    n_items: int
    seed: int
    #: the world's land cover at 10 m (`testing.truth` reads it with the next fields)
    landcover: Path
    drought_bbox: tuple[float, float, float, float]
    epsg: int = EPSG
    drought_start: str = DROUGHT[0].isoformat()
    drought_end: str = DROUGHT[1].isoformat()
    params: dict[str, Any] = field(default_factory=dict, compare=False)


def _composites(
    start: date, end: date, months: tuple[int, int] = (1, 12)
) -> list[tuple[date, date]]:
    """(first, last day) of the 8-day composites overlapping, starting in `months` (first,
    last); the year's last one is short."""
    out = []
    for year in range(start.year, end.year + 1):
        for k in range(46):
            d0 = date(year, 1, 1) + timedelta(days=8 * k)
            d1 = min(d0 + timedelta(days=7), date(year, 12, 31))
            if d0 <= end and d1 >= start and months[0] <= d0.month <= months[1]:
                out.append((d0, d1))
    return out


def _grid(size: int) -> tuple[tuple[int, int], Affine]:
    h, v = tile_of(*CENTRE)
    xc, yc = Transformer.from_crs(4326, SINUSOIDAL_PROJ4, always_xy=True).transform(*CENTRE)
    tx, ty = _X0 + h * TILE_SIZE_M, _Y0 - v * TILE_SIZE_M
    col0 = math.floor((xc - tx) / _PIXEL) - size // 2
    row0 = math.floor((ty - yc) / _PIXEL) - size // 2
    return (h, v), Affine(_PIXEL, 0.0, tx + col0 * _PIXEL, 0.0, -_PIXEL, ty - row0 * _PIXEL)


def _binning(model: Model, transform: Affine, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat 1 km pixel index of every 10 m model pixel (-1 outside), and each pixel's share
    of land modelled."""
    n = model.size
    cols, rows = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5)
    sx, sy = Transformer.from_crs(EPSG, SINUSOIDAL_PROJ4, always_xy=True).transform(
        *(model.transform * (cols, rows))
    )
    c, r = (np.floor(a).astype(int) for a in ~transform * (sx, sy))
    inside = (c >= 0) & (c < size) & (r >= 0) & (r < size)
    idx = np.where(inside, r * size + c, -1).ravel()
    count = np.bincount(idx[idx >= 0], minlength=size * size)
    return idx, count / (_PIXEL / 10.0) ** 2


def _byte(a: np.ndarray, gone: np.ndarray, nodata: int) -> np.ndarray:
    return np.where(gone, nodata, np.clip(np.rint(a), 0, 254)).astype(np.uint8)


def _render(
    model: Model,
    product: str,
    span: tuple[date, date],
    idx: np.ndarray,
    cover: np.ndarray,
    size: int,
) -> dict[str, np.ndarray]:
    """DN arrays of every layer of one composite."""
    d0, d1 = span
    rng = np.random.default_rng([model.seed, 31, d0.toordinal(), len(product)])
    mid = datetime(d0.year, d0.month, d0.day, 11, tzinfo=timezone.utc) + (d1 - d0) / 2
    ok = idx >= 0
    s = np.bincount(idx[ok], weights=model.fv(mid).ravel()[ok], minlength=size * size)
    fv = (s / np.maximum(cover * (_PIXEL / 10.0) ** 2, 1)).reshape(size, size)
    fill = cover.reshape(size, size) < 0.8
    # Landsat's surface-temperature model (8-day means); night: a weaker vegetation signal
    temps = {"day": 303.0 - 8.0 * fv, "night": 291.0 - 2.0 * fv}
    good, bad, cloudy, filled = _QC[product]
    out: dict[str, np.ndarray] = {}
    for t, kelvin in temps.items():  # day and night see their own clouds
        f = smooth(rng, (size, size), size / 6)
        cloud = (f > np.quantile(f, 1 - rng.uniform(0.0, 0.3))) & ~fill
        error = (rng.random((size, size)) < 0.06) & ~cloud & ~fill
        kelvin = kelvin + rng.normal(0, 0.15, fv.shape) - 6.0 * error  # residual cloud: cold
        gone = fill | cloud
        qc = np.where(fill, filled, np.where(cloud, cloudy, np.where(error, bad, good)))
        out[f"qc_{t}"] = qc.astype(np.uint8)
        dn = np.clip(np.rint(kelvin / 0.02), 7500, 65535)
        out[f"lst_{t}"] = np.where(gone, 0, dn).astype(np.uint16)
        angle, hour = rng.uniform(0, 60, fv.shape), 105 if t == "day" else 225
        out[f"view_angle_{t}"] = _byte(angle + 65, gone, 255)
        out[f"view_time_{t}"] = _byte(hour + rng.integers(-5, 6, fv.shape), gone, 255)
        out[f"clear_sky_{t}s"] = _byte(rng.integers(1, 256, fv.shape), gone, 0)
    emis = 0.955 + 0.03 * fv
    for b, shift in ((29, -0.02), (31, 0.0), (32, 0.004)):
        out[f"emis_{b}"] = _byte((emis + shift - 0.49) / 0.002, fill, 0)
    return {k: v for k, v in out.items() if k in _PRODUCTS[product]}


def _item(
    product: str, span: tuple[date, date], tile: tuple[int, int], transform: Affine, size: int,
    geometry: dict[str, Any],
) -> pystac.Item:  # fmt: skip
    (h, v), (d0, d1) = tile, span
    made = datetime.combine(d1 + timedelta(days=2), datetime.min.time(), timezone.utc)
    made += timedelta(hours=3, minutes=49, seconds=29)
    item_id = f"{product}.A{d0:%Y%j}.h{h:02d}v{v:02d}.061.{made:%Y%j%H%M%S}"
    t0 = datetime.combine(d0, datetime.min.time(), timezone.utc)
    t1 = datetime.combine(d1, datetime.max.time().replace(microsecond=0), timezone.utc)
    lons, lats = zip(*geometry["coordinates"][0], strict=True)
    x0, y0 = transform.c, transform.f
    x1, y1 = x0 + size * _PIXEL, y0 - size * _PIXEL
    props = {
        "created": made.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated": iso(made + timedelta(days=1, hours=9, minutes=21)),
        "datetime": None,
        "platform": "",
        "proj:epsg": None,
        "proj:wkt2": SINUSOIDAL_WKT,
        "proj:shape": [size, size],
        "instruments": [],
        "end_datetime": t1.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "modis:tile-id": f"51{h:03d}{v:03d}",
        "proj:geometry": {
            "type": "Polygon",
            "coordinates": [[[x1, y1], [x1, y0], [x0, y0], [x0, y1], [x1, y1]]],
        },
        "proj:transform": list(transform)[:6],
        "start_datetime": t0.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "modis:vertical-tile": v,
        "modis:horizontal-tile": h,
    }
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    item = pystac.Item(
        item_id, geometry, bbox, None, props, stac_extensions=list(_EXTENSIONS),
        collection=_COLLECTIONS[product],
    )  # fmt: skip
    for layer, (key, title) in _PRODUCTS[product].items():
        roles, rb, _ = _layer(product, layer)
        extra = {"raster:bands": [rb]}
        href = f"./{item_id}_{key}.tif"
        item.add_asset(
            key, pystac.Asset(href, title, media_type=_COG, roles=roles, extra_fields=extra)
        )
    return item


def generate_modis_lst_archive(
    path: str | os.PathLike[str],
    *,
    product: str = "MOD11A2",
    seed: int = 42,
    start: str = "2022-01-01",
    end: str = "2022-03-31",
    size: int = 10,
    model_size: int = 800,
    months: tuple[int, int] = (1, 12),
) -> ModisLstArchive:
    """Generate (or reuse) a MOD11A2 or MOD21A2 archive under `path` (joining its catalog):
    `size` × `size` 1 km sinusoidal pixels around the demo's centre, land modelled on
    `model_size` 10 m pixels (the world of `seed`; the rest fill); only the composites
    starting in `months` (first, last) of each year (a season: fewer files for tests)."""
    if product not in _PRODUCTS:
        raise ValueError(f"product must be one of {', '.join(_PRODUCTS)}, got {product!r}")
    d0, d1 = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    if size < 4 or model_size < 100 or model_size % 2:
        raise ValueError("size must be >= 4 and model_size an even number >= 100")
    coll_id = _COLLECTIONS[product]
    params = {
        "format": _FORMAT, "product": product, "seed": int(seed), "start": d0.isoformat(),
        "end": d1.isoformat(), "size": int(size), "model_size": int(model_size),
        "months": [int(m) for m in months],
    }  # fmt: skip
    spans = _composites(d0, d1, (int(months[0]), int(months[1])))
    if not spans:
        raise ValueError(f"no 8-day composite between {start} and {end}")
    root = Path(path).absolute()
    tile, transform = _grid(int(size))
    to_ll = Transformer.from_crs(SINUSOIDAL_PROJ4, 4326, always_xy=True)
    side = size * _PIXEL
    xs = [transform.c, transform.c, transform.c + side, transform.c + side, transform.c]
    ys = [transform.f, transform.f - side, transform.f - side, transform.f, transform.f]
    lon, lat = to_ll.transform(xs, ys)
    geometry = {
        "type": "Polygon",
        "coordinates": [[[round(a, 4), round(b, 4)] for a, b in zip(lon, lat, strict=True)]],
    }
    model = build_model(int(seed), int(model_size))
    archive = ModisLstArchive(
        path=root, catalog=root / "catalog.json", collection=coll_id, tile=tile,
        transform=tuple(transform)[:6], shape=(size, size), bbox=model.bbox,
        start=d0.isoformat(), end=d1.isoformat(), n_items=len(spans), seed=int(seed),
        landcover=root / "landcover.tif", drought_bbox=model.drought_bbox, params=params,
    )  # fmt: skip
    manifest = root / f"{coll_id}-archive.json"
    if reusable(root, manifest, params, coll_id):
        return archive

    write_cog(archive.landcover, model.landcover, model.transform, crs=f"EPSG:{EPSG}", nodata=0)
    idx, cover = _binning(model, transform, int(size))
    crs = CRS.from_wkt(SINUSOIDAL_WKT).to_wkt()
    items = []
    for span in spans:
        item = _item(product, span, tile, transform, int(size), geometry)
        folder = root / coll_id / item.id
        folder.mkdir(parents=True, exist_ok=True)
        for layer, arr in _render(model, product, span, idx, cover, int(size)).items():
            key, nodata = _PRODUCTS[product][layer][0], _layer(product, layer)[2]
            write_cog(folder / f"{item.id}_{key}.tif", arr, transform, crs=crs, nodata=nodata)
        items.append(item)
    coll = pystac.Collection(
        coll_id,
        f"Synthetic {product} v061 8-day 1 km land surface temperature (vegcube test archive).",
        pystac.Extent(
            pystac.SpatialExtent([list(map(float, items[0].bbox or []))]),
            pystac.TemporalExtent(
                [[datetime.combine(spans[0][0], datetime.min.time(), timezone.utc), None]]
            ),
        ),
        title=f"{product} LST 8-day 1 km (vegcube test archive)",
        license="proprietary",
    )
    coll.add_items(items)
    join_catalog(root, coll, title="vegcube test archive: synthetic MODIS LST.")
    manifest.write_text(
        json.dumps(
            {"generator": "vegcube.testing.modis_lst", "params": params, "items": len(items)}
        )
    )
    return archive
