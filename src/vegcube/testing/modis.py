"""A deterministic MODIS MOD13Q1 v061 archive over the demo's land (static STAC, sinusoidal).

The Sentinel-2 demo's land-cover/phenology/drought model (`testing.world`) is built at 10 m
and aggregated (red and NIR area means) into 250 m pixels of the MODIS sinusoidal grid: a
window of the real tile (h, v) holding the demo's centre, aligned to the tile's pixels. Items
follow Planetary Computer's ``modis-13Q1-061`` shape: one COG per layer (``250m_16_days_NDVI``,
``…_EVI``, ``…_VI_Quality``, ``…_pixel_reliability``, ``…_red_reflectance``,
``…_NIR_reflectance``, ``…_composite_day_of_the_year``), ``proj:wkt2`` without an EPSG code,
``raster:bands`` with scales and no nodata, ``start_datetime``/``end_datetime`` of the 16-day
composite and ``datetime`` null, as Planetary Computer publishes them.

Pixels outside the modelled land are fill (NDVI −3000, VI Quality 65535, reliability −1);
a few cloudy pixels per composite have MODLAND QA 10, lowest usefulness, mixed clouds and a
low NDVI; a few more carry the possible-shadow bit.
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
from .world import CENTRE, EPSG, Model, build_model, smooth
from .writing import iso, reusable, write_cog

__all__ = ["ModisArchive", "generate_modis_archive", "vi_quality_value"]

_FORMAT = 4
_COLLECTION = "modis-13Q1-061"
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"
_PIXEL = TILE_SIZE_M / 4800
_R = 6371007.181
_X0, _Y0 = -math.pi * _R, math.pi * _R / 2
_P = "250m_16_days_"
# layer, data type, nodata, scale (None: none), title
_LAYERS = [
    ("NDVI", "int16", -3000, 1e-4, "16 day NDVI"),
    ("EVI", "int16", -3000, 1e-4, "16 day EVI"),
    ("VI_Quality", "uint16", 65535, None, "VI quality indicators"),
    ("pixel_reliability", "int8", -1, None, "Quality reliability of VI pixel"),
    ("red_reflectance", "int16", -1000, 1e-4, "Surface Reflectance Band 1"),
    ("NIR_reflectance", "int16", -1000, 1e-4, "Surface Reflectance Band 2"),
    ("composite_day_of_the_year", "int16", -1, None, "Day of year VI pixel"),
]


def vi_quality_value(
    *,
    modland: int = 0,
    usefulness: int = 1,
    adjacent_cloud: bool = False,
    mixed_clouds: bool = False,
    snow: bool = False,
    shadow: bool = False,
    land_water: int = 1,
    aerosol: int = 1,
) -> int:
    """A MOD13Q1 VI Quality value from its fields (bits 0–1, 2–5, 6–7, 8, 10, 11–13, 14, 15)."""
    return int(
        modland
        | usefulness << 2
        | aerosol << 6
        | adjacent_cloud << 8
        | mixed_clouds << 10
        | land_water << 11
        | snow << 14
        | shadow << 15
    )


@dataclass(frozen=True, kw_only=True)
class ModisArchive:
    """A generated MOD13Q1 archive and the facts tests need about it."""

    path: Path
    catalog: Path
    tile: tuple[int, int]
    transform: tuple[float, ...]
    shape: tuple[int, int]
    bbox: tuple[float, float, float, float]
    start: str
    end: str
    n_items: int
    seed: int
    collection: str = _COLLECTION
    params: dict[str, Any] = field(default_factory=dict, compare=False)


def _composites(start: date, end: date) -> list[date]:
    """Start days of the 16-day composites (days 1, 17, 33, … of each year) overlapping."""
    out = []
    for year in range(start.year, end.year + 1):
        for k in range(23):
            d = date(year, 1, 1) + timedelta(days=16 * k)
            if d.year == year and d <= end and d + timedelta(days=15) >= start:
                out.append(d)
    return out


def _grid(size: int) -> tuple[tuple[int, int], Affine]:
    h, v = tile_of(*CENTRE)
    to_sin = Transformer.from_crs(4326, SINUSOIDAL_PROJ4, always_xy=True)
    xc, yc = to_sin.transform(*CENTRE)
    tx, ty = _X0 + h * TILE_SIZE_M, _Y0 - v * TILE_SIZE_M
    col0 = math.floor((xc - tx) / _PIXEL) - size // 2
    row0 = math.floor((ty - yc) / _PIXEL) - size // 2
    return (h, v), Affine(_PIXEL, 0.0, tx + col0 * _PIXEL, 0.0, -_PIXEL, ty - row0 * _PIXEL)


def _binning(model: Model, transform: Affine, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat MODIS pixel index of every 10 m model pixel (-1 outside), and per-pixel coverage."""
    n = model.size
    cols, rows = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5)
    x, y = model.transform * (cols, rows)
    to_sin = Transformer.from_crs(EPSG, SINUSOIDAL_PROJ4, always_xy=True)
    sx, sy = to_sin.transform(x, y)
    c, r = ~transform * (sx, sy)
    c, r = np.floor(c).astype(int), np.floor(r).astype(int)
    inside = (c >= 0) & (c < size) & (r >= 0) & (r < size)
    idx = np.where(inside, r * size + c, -1).ravel()
    count = np.bincount(idx[idx >= 0], minlength=size * size)
    return idx, count / (_PIXEL / 10.0) ** 2


def _render(
    model: Model, start: date, idx: np.ndarray, cover: np.ndarray, size: int
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([model.seed, 21, start.toordinal()])
    mid = datetime(start.year, start.month, start.day, 11, tzinfo=timezone.utc) + timedelta(days=8)
    r10, _, _ = model.surface(mid)
    ok = idx >= 0

    def mean(a: np.ndarray) -> np.ndarray:
        s = np.bincount(idx[ok], weights=a.ravel()[ok], minlength=size * size)
        return (s / np.maximum(cover * (_PIXEL / 10.0) ** 2, 1)).reshape(size, size)

    blue, red, nir = mean(r10[0]), mean(r10[2]), mean(r10[3])
    red = red + rng.normal(0, 0.003, red.shape)
    nir = nir + rng.normal(0, 0.003, nir.shape)
    fill = cover.reshape(size, size) < 0.8
    f = smooth(rng, (size, size), size / 8)
    cloudy = (f > np.quantile(f, 1 - rng.uniform(0.03, 0.15))) & ~fill
    shadow = (np.roll(cloudy, (1, 2), axis=(0, 1)) & ~cloudy) & ~fill
    red = np.where(cloudy, 0.3, np.where(shadow, red * 0.5, red))
    nir = np.where(cloudy, 0.32, np.where(shadow, nir * 0.5, nir))
    ndvi = (nir - red) / (nir + red)
    evi = 2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)

    good = vi_quality_value()
    qa = np.full((size, size), good, np.uint16)
    qa[shadow] = vi_quality_value(modland=1, usefulness=4, shadow=True)
    qa[cloudy] = vi_quality_value(modland=2, usefulness=12, mixed_clouds=True)
    qa[fill] = 65535
    rel = np.where(cloudy, 3, np.where(shadow, 1, 0)).astype(np.int8)
    rel[fill] = -1
    doy = (start.timetuple().tm_yday + rng.integers(0, 16, (size, size))).astype(np.int16)
    doy[fill] = -1

    def dn(a: np.ndarray, nodata: int) -> np.ndarray:
        out = np.clip(np.rint(a * 10000), -2000, 10000).astype(np.int16)
        out[fill] = nodata
        return out

    return {
        "NDVI": dn(ndvi, -3000),
        "EVI": dn(evi, -3000),
        "VI_Quality": qa,
        "pixel_reliability": rel,
        "red_reflectance": dn(red, -1000),
        "NIR_reflectance": dn(nir, -1000),
        "composite_day_of_the_year": doy,
    }


def _item(
    start: date, tile: tuple[int, int], transform: Affine, size: int, geometry: dict[str, Any]
) -> pystac.Item:
    h, v = tile
    made = datetime.combine(start + timedelta(days=19), datetime.min.time(), timezone.utc)
    item_id = f"MOD13Q1.A{start:%Y%j}.h{h:02d}v{v:02d}.061.{made:%Y%j}031526"
    t0 = datetime.combine(start, datetime.min.time(), timezone.utc)
    t1 = t0 + timedelta(days=15, hours=23, minutes=59, seconds=59)
    lons = [p[0] for p in geometry["coordinates"][0]]
    lats = [p[1] for p in geometry["coordinates"][0]]
    props = {
        "start_datetime": iso(t0)[:-5] + "Z",
        "end_datetime": iso(t1)[:-5] + "Z",
        "modis:horizontal-tile": h,
        "modis:vertical-tile": v,
        "modis:tile-id": f"51{h:03d}{v:03d}",
        "instruments": ["modis"],
        "platform": "terra",
        "created": iso(made),
        "updated": iso(made),
        "proj:epsg": None,
        "proj:wkt2": SINUSOIDAL_WKT,
        "proj:shape": [size, size],
        "proj:transform": list(transform)[:6],
    }
    item = pystac.Item(
        item_id,
        geometry,
        [min(lons), min(lats), max(lons), max(lats)],
        None,  # as Planetary Computer: the composite's span only
        props,
        stac_extensions=[
            "https://stac-extensions.github.io/raster/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
        ],
        collection=_COLLECTION,
    )
    for name, dtype, _nodata, scale, title in _LAYERS:
        rb: dict[str, Any] = {"data_type": dtype, "spatial_resolution": 250}
        if scale is not None:
            rb["scale"] = scale
        item.add_asset(
            f"{_P}{name}",
            pystac.Asset(
                f"./{_P}{name}.tif",
                title,
                media_type=_COG,
                roles=["data"],
                extra_fields={"raster:bands": [rb]},
            ),
        )
    return item


def generate_modis_archive(
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
    start: str = "2022-01-01",
    end: str = "2022-03-31",
    size: int = 24,
    model_size: int = 360,
) -> ModisArchive:
    """Generate (or reuse) a MOD13Q1 archive under `path`: `size` × `size` 250 m sinusoidal
    pixels around the demo's centre; land modelled on `model_size` 10 m pixels (the rest fill).
    """
    d0, d1 = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    if size < 8 or model_size < 40 or model_size % 2:
        raise ValueError("size must be >= 8 and model_size an even number >= 40")
    params = {
        "format": _FORMAT,
        "seed": int(seed),
        "start": d0.isoformat(),
        "end": d1.isoformat(),
        "size": int(size),
        "model_size": int(model_size),
    }
    starts = _composites(d0, d1)
    if not starts:
        raise ValueError(f"no 16-day composite between {start} and {end}")
    root = Path(path).absolute()
    tile, transform = _grid(int(size))
    to_ll = Transformer.from_crs(SINUSOIDAL_PROJ4, 4326, always_xy=True)
    side = size * _PIXEL
    xs = [transform.c, transform.c + side, transform.c + side, transform.c, transform.c]
    ys = [transform.f, transform.f, transform.f - side, transform.f - side, transform.f]
    lon, lat = to_ll.transform(xs, ys)
    geometry = {
        "type": "Polygon",
        "coordinates": [[(round(a, 7), round(b, 7)) for a, b in zip(lon, lat, strict=True)]],
    }
    model = build_model(int(seed), int(model_size))
    archive = ModisArchive(
        path=root,
        catalog=root / "catalog.json",
        tile=tile,
        transform=tuple(transform)[:6],
        shape=(size, size),
        bbox=model.bbox,
        start=d0.isoformat(),
        end=d1.isoformat(),
        n_items=len(starts),
        seed=int(seed),
        params=params,
    )
    manifest = root / "modis-archive.json"
    if reusable(root, manifest, params, _COLLECTION):
        return archive

    idx, cover = _binning(model, transform, size)
    crs = CRS.from_wkt(SINUSOIDAL_WKT).to_wkt()
    items = []
    for s in starts:
        item = _item(s, tile, transform, size, geometry)
        folder = root / _COLLECTION / item.id
        folder.mkdir(parents=True, exist_ok=True)
        for name, arr in _render(model, s, idx, cover, size).items():
            nodata = next(n for layer, _, n, *_ in _LAYERS if layer == name)
            write_cog(folder / f"{_P}{name}.tif", arr, transform, crs=crs, nodata=nodata)
        items.append(item)
    coll = pystac.Collection(
        _COLLECTION,
        "Synthetic MODIS/Terra Vegetation Indices 16-Day L3 250 m SIN grid (vegcube test).",
        pystac.Extent(
            pystac.SpatialExtent([list(map(float, items[0].bbox or []))]),
            pystac.TemporalExtent(
                [[datetime.combine(starts[0], datetime.min.time(), timezone.utc), None]]
            ),
        ),
        title="MODIS Vegetation Indices 16-Day (250m) (vegcube test archive)",
        license="proprietary",
    )
    coll.add_items(items)
    cat = pystac.Catalog("vegcube-modis", "vegcube test archive: synthetic MOD13Q1.")
    cat.add_child(coll)
    cat.normalize_hrefs(str(root))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    manifest.write_text(
        json.dumps(
            {"generator": "vegcube.testing.modis", "params": params, "items": len(items)}, indent=1
        )
    )
    return archive
