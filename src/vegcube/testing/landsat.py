"""A deterministic Landsat 7/8/9 Collection 2 Level-2 archive over the demo's land (static STAC).

Reuses the Sentinel-2 demo's land-cover, phenology and drought model (`testing.world`) on the
same tile, so scenes of both archives see the same surface on the same day. Items follow Earth
Search v1's ``landsat-c2-l2`` shape: ``landsat:wrs_path/row``, ``platform`` landsat-7/8/9,
30 m UTM COGs in the northern-hemisphere zone with negative northings as USGS delivers them,
``raster:bands`` scale 2.75e-5 / offset −0.2 (surface temperature 0.00341802 / +149 K), a
``qa_pixel`` band with fill, dilated-cloud, cirrus, cloud, shadow, clear and water bits and
confidence pairs, and Landsat 7 SLC-off stripes as fill.

Reflectances are altered so that, on the ground, ``NDVI_landsat = ndvi_gain × NDVI_s2 +
ndvi_offset`` (sum of red and NIR kept): a known relation for cross-sensor calibration.
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
from rasterio.transform import Affine
from scipy import ndimage

from .world import ANCHOR, CENTRE, DRY, EPSG, VEG, Model, build_model, drought_weight, smooth
from .writing import iso, join_catalog, reusable, stac_item, write_cog

__all__ = ["LandsatArchive", "generate_landsat_archive", "qa_value"]

_FORMAT = 3
_COLLECTION = "landsat-c2-l2"
_NORTH_EPSG = EPSG - 100  # UTM 58N: USGS grids the southern hemisphere with negative northings
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"
_WRS = (81, 75)
_SCALE, _OFFSET = 2.75e-5, -0.2
_ST_SCALE, _ST_OFFSET = 0.00341802, 149.0
_NOISE = 0.004
_EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "https://stac-extensions.github.io/classification/v1.1.0/schema.json",
    "https://landsat.usgs.gov/stac/landsat-extension/v1.1.1/schema.json",
]
# asset, common name, centre wavelength (um), band name on Landsat 8/9, on Landsat 7
_BANDS = [
    ("blue", "blue", 0.48, "SR_B2", "SR_B1"),
    ("green", "green", 0.56, "SR_B3", "SR_B2"),
    ("red", "red", 0.65, "SR_B4", "SR_B3"),
    ("nir08", "nir08", 0.86, "SR_B5", "SR_B4"),
    ("swir16", "swir16", 1.6, "SR_B6", "SR_B5"),
    ("swir22", "swir22", 2.2, "SR_B7", "SR_B7"),
]
# (platform, days after the Sentinel-2 anchor of the first pass, first day in service)
_SCHEDULE = [
    ("landsat-8", 0, date(2013, 4, 11)),
    ("landsat-9", 8, date(2021, 10, 31)),
    ("landsat-7", 4, date(1999, 5, 28)),
]
_SLC_OFF = date(2003, 5, 31)
_L7_END = date(2024, 1, 19)
_SHADOW_SHIFT = (-1, -2)  # 30 m pixels: ~70 m west-north-west of the cloud


def qa_value(
    *,
    fill: bool = False,
    dilated_cloud: bool = False,
    cirrus: bool = False,
    cloud: bool = False,
    shadow: bool = False,
    snow: bool = False,
    water: bool = False,
    oli: bool = True,
) -> int:
    """The QA_PIXEL value USGS writes for a pixel with these flags (confidences included)."""
    if fill:
        return 1
    v = (1 << 1) * dilated_cloud + (1 << 3) * cloud + (1 << 4) * shadow + (1 << 5) * snow
    v += (1 << 6) * (not (cloud or dilated_cloud)) + (1 << 7) * water
    v += (3 if cloud else 1) << 8  # cloud confidence
    v += (3 if shadow else 1) << 10  # cloud-shadow confidence
    v += (3 if snow else 1) << 12  # snow/ice confidence
    if oli:  # cirrus bit and confidence: Landsat 8/9 only
        v += (1 << 2) * cirrus + ((3 if cirrus else 1) << 14)
    return int(v)


@dataclass(frozen=True, kw_only=True)
class LandsatArchive:
    """A generated Landsat archive and the facts tests need about it."""

    path: Path
    catalog: Path
    epsg: int
    bbox: tuple[float, float, float, float]
    start: str
    end: str
    n_items: int
    seed: int
    ndvi_gain: float
    ndvi_offset: float
    collection: str = _COLLECTION
    resolution: int = 30
    params: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class _Scene:
    when: datetime
    platform: str

    @property
    def oli(self) -> bool:
        return self.platform != "landsat-7"

    @property
    def id(self) -> str:
        sat = {"landsat-7": "LE07", "landsat-8": "LC08", "landsat-9": "LC09"}[self.platform]
        return f"{sat}_L2SP_{_WRS[0]:03d}{_WRS[1]:03d}_{self.when:%Y%m%d}_02_T1"


def _plan(seed: int, start: date, end: date) -> list[_Scene]:
    scenes = []
    for platform, offset, first_day in _SCHEDULE:
        anchor = ANCHOR + timedelta(days=offset)
        d = start + timedelta(days=(anchor - start).days % 16)
        while d <= end:
            alive = d >= first_day and (platform != "landsat-7" or d <= _L7_END)
            if alive:
                rng = np.random.default_rng([seed, 12, d.toordinal()])
                when = datetime(d.year, d.month, d.day, 22, 51, tzinfo=timezone.utc)
                when += timedelta(seconds=int(rng.integers(0, 300)))
                scenes.append(_Scene(when, platform))
            d += timedelta(days=16)
    return sorted(scenes, key=lambda s: s.when)


def _surface(model: Model, when: datetime, gain: float, offset: float) -> np.ndarray:
    """Noise-free (6, n/3, n/3) reflectance at 30 m with the NDVI relation applied."""
    fv = model.fv(when)
    dry = drought_weight(when.date()) * model.drought
    refl = model.spectra * (1 - fv) + VEG[:, None, None] * fv + DRY[:, None, None] * dry
    r30 = _to30(refl, model)
    red, nir = r30[2], r30[3]
    total = red + nir
    ndvi = np.clip(gain * (nir - red) / total + offset, -1, 1)
    r30[3], r30[2] = total * (1 + ndvi) / 2, total * (1 - ndvi) / 2
    return r30.astype(np.float32)


def _render(model: Model, scene: _Scene, gain: float, offset: float) -> dict[str, np.ndarray]:
    """DN arrays of every asset (uint16) for one scene."""
    rng = np.random.default_rng([model.seed, 13, scene.when.toordinal(), len(scene.platform)])
    local = scene.when + timedelta(hours=CENTRE[0] / 15)
    refl = _surface(model, local, gain, offset)
    m = refl.shape[-1]
    refl += rng.normal(0, _NOISE, refl.shape).astype(np.float32)
    fv = _to30(model.fv(local), model)
    temp = 303.0 - 8.0 * fv + rng.normal(0, 0.3, fv.shape)

    u = rng.random()
    cover = 0.0 if u < 0.45 else (rng.uniform(0.85, 1.0) if u > 0.85 else rng.uniform(0.05, 0.5))
    cloud = np.zeros((m, m), bool)
    if cover > 0:
        f = smooth(rng, (m, m), m / 6)
        cloud = f > np.quantile(f, 1 - cover)
    dilated = ndimage.binary_dilation(cloud, np.ones((3, 3), bool)) & ~cloud
    dy, dx = _SHADOW_SHIFT
    shadow = np.zeros((m, m), bool)
    shadow[: m + dy, : m + dx] = cloud[-dy:, -dx:]
    shadow &= ~cloud & ~dilated
    cirrus = np.zeros((m, m), bool)
    if scene.oli and 0 < cover < 0.85 and rng.random() < 0.5:
        f = smooth(rng, (m, m), m / 5)
        cirrus = (f > np.quantile(f, 1 - rng.uniform(0.05, 0.2))) & ~cloud
    fill = np.zeros((m, m), bool)
    if scene.platform == "landsat-7" and scene.when.date() >= _SLC_OFF:
        rows, cols = np.mgrid[0:m, 0:m]
        phase = rng.uniform(0, 11)
        fill = ((rows + 0.18 * cols + phase) % 11) < 2.2  # scan-line gaps, slightly tilted

    refl = np.where(cirrus, refl * 0.85 + 0.08, refl)
    refl = np.where(dilated, refl * 0.8 + 0.1, refl)  # bright, unflagged by `cloud`: edge haze
    refl = np.where(shadow, refl * 0.35, refl)
    refl = np.where(cloud, rng.uniform(0.45, 0.7) + rng.normal(0, 0.01, (m, m)), refl)
    temp = np.where(cloud, 268.0, np.where(shadow, temp - 4, temp))
    out: dict[str, np.ndarray] = {}
    dn = np.clip(np.rint((refl - _OFFSET) / _SCALE), 1, 65535).astype(np.uint16)
    dn[:, fill] = 0
    for i, (name, *_rest) in enumerate(_BANDS):
        out[name] = dn[i]
    st = np.clip(np.rint((temp - _ST_OFFSET) / _ST_SCALE), 1, 65535).astype(np.uint16)
    st[fill] = 0
    out["lwir11" if scene.oli else "lwir"] = st

    water = _to30((model.landcover == 4).astype(np.float32), model) > 0.5
    qa = np.full((m, m), qa_value(oli=scene.oli), np.uint16)
    qa[water] = qa_value(water=True, oli=scene.oli)
    qa[shadow] = qa_value(shadow=True, water=False, oli=scene.oli)
    qa[cirrus & ~shadow] = qa_value(cirrus=True, oli=scene.oli)
    qa[dilated] = qa_value(dilated_cloud=True, cirrus=False, oli=scene.oli)
    qa[cloud] = qa_value(cloud=True, oli=scene.oli)
    qa[fill] = 1
    out["qa_pixel"] = qa
    return out


def _window(size: int, transform: Affine) -> tuple[int, int, int]:
    """(row, col) offset in 10 m pixels of the first 30 m pixel, and the 30 m side.

    30 m pixel edges fall on multiples of 30 m (UTM south coordinates), as vegcube's grids do.
    """
    kx = round((math.ceil(transform.c / 30) * 30 - transform.c) / 10)
    ky = round((transform.f - math.floor(transform.f / 30) * 30) / 10)
    return ky, kx, (size - max(kx, ky)) // 3


def _to30(a: np.ndarray, model: Model) -> np.ndarray:
    """Mean over the 3x3 blocks of 10 m pixels (last two axes) forming each 30 m pixel."""
    ky, kx, m = _window(model.size, model.transform)
    *lead, _, _ = a.shape
    sub = a[..., ky : ky + 3 * m, kx : kx + 3 * m]
    return sub.reshape(*lead, m, 3, m, 3).mean(axis=(-3, -1))


def _transform(model: Model) -> Affine:
    """30 m transform in the northern-hemisphere UTM zone (negative northings), as USGS does."""
    ky, kx, _ = _window(model.size, model.transform)
    t = model.transform
    return Affine(30.0, 0.0, t.c + 10 * kx, 0.0, -30.0, t.f - 10 * ky - 10_000_000)


def _assets(model: Model, scene: _Scene, raster_bands: bool) -> dict[str, pystac.Asset]:
    m = _window(model.size, model.transform)[2]
    common = {"gsd": 30, "proj:shape": [m, m], "proj:transform": list(_transform(model))[:6]}
    assets = {}
    for name, cname, wl, b89, b7 in _BANDS:
        extra: dict[str, Any] = {
            **common,
            "eo:bands": [
                {"name": b89 if scene.oli else b7, "common_name": cname, "center_wavelength": wl}
            ],
        }
        if raster_bands:
            extra["raster:bands"] = [
                {
                    "nodata": 0,
                    "data_type": "uint16",
                    "spatial_resolution": 30,
                    "scale": _SCALE,
                    "offset": _OFFSET,
                    "unit": "1",
                }
            ]
        title = f"{cname.capitalize()} ({(b89 if scene.oli else b7)})"
        assets[name] = pystac.Asset(
            f"./{name}.tif",
            title,
            media_type=_COG,
            roles=["data", "reflectance"],
            extra_fields=extra,
        )
    lwir = "lwir11" if scene.oli else "lwir"
    st: dict[str, Any] = {
        **common,
        "eo:bands": [{"name": "ST_B10" if scene.oli else "ST_B6", "common_name": lwir}],
    }
    if raster_bands:
        st["raster:bands"] = [
            {
                "nodata": 0,
                "data_type": "uint16",
                "spatial_resolution": 30,
                "scale": _ST_SCALE,
                "offset": _ST_OFFSET,
                "unit": "kelvin",
            }
        ]
    assets[lwir] = pystac.Asset(
        f"./{lwir}.tif",
        "Surface Temperature",
        media_type=_COG,
        roles=["data", "temperature"],
        extra_fields=st,
    )
    bits = [
        {"name": n, "offset": b, "length": 1, "description": n.replace("_", " ")}
        for b, n in (
            (0, "fill"),
            (1, "dilated_cloud"),
            (2, "cirrus"),
            (3, "cloud"),
            (4, "cloud_shadow"),
            (5, "snow"),
            (6, "clear"),
            (7, "water"),
        )
    ]
    assets["qa_pixel"] = pystac.Asset(
        "./qa_pixel.tif",
        "Pixel Quality Assessment Band",
        media_type=_COG,
        roles=["cloud", "cloud-shadow", "snow-ice", "water-mask"],
        extra_fields={
            **common,
            "raster:bands": [
                {"nodata": 1, "data_type": "uint16", "spatial_resolution": 30, "unit": "bit index"}
            ],
            "classification:bitfields": bits,
        },
    )
    return assets


def _item(model: Model, scene: _Scene, qa: np.ndarray, raster_bands: bool) -> pystac.Item:
    data = qa != 1
    cloudy = (qa & 0b1110) != 0
    cover = round(100.0 * float(cloudy[data].mean()) if data.any() else 0.0, 2)
    made = scene.when + timedelta(days=9)
    sat = scene.id[:4]
    props = {
        "platform": scene.platform,
        "instruments": ["oli", "tirs"] if scene.oli else ["etm+"],
        "created": iso(made),
        "updated": iso(made),
        "eo:cloud_cover": cover,
        "landsat:cloud_cover_land": cover,
        "view:off_nadir": 0,
        "view:sun_azimuth": 78.2,
        "view:sun_elevation": 58.6,
        "proj:epsg": _NORTH_EPSG,
        "landsat:wrs_type": "2",
        "landsat:wrs_path": f"{_WRS[0]:03d}",
        "landsat:wrs_row": f"{_WRS[1]:03d}",
        "landsat:scene_id": f"{sat[0]}{sat[2]}{sat[3]}{_WRS[0]:03d}{_WRS[1]:03d}"
        f"{scene.when:%Y%j}LGN00",
        "landsat:collection_category": "T1",
        "landsat:collection_number": "02",
        "landsat:correction": "L2SP",
    }
    return stac_item(
        model, scene.id, scene.when, props, _assets(model, scene, raster_bands),
        collection=_COLLECTION, extensions=_EXTENSIONS,
    )  # fmt: skip


def generate_landsat_archive(
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
    start: str = "2021-11-01",
    end: str = "2022-03-31",
    size: int = 60,
    ndvi_gain: float = 1.0,
    ndvi_offset: float = 0.0,
    raster_bands: bool = True,
) -> LandsatArchive:
    """Generate (or reuse) a Landsat C2 L2 archive under `path` (joining its catalog.json).

    `seed` and `size` (10 m pixels, a multiple of 6) are those of the Sentinel-2 demo archive
    it should match: the same land, 30 m pixels. Landsat 8 passes on a Sentinel-2 day every
    16 days, Landsat 9 eight days later, Landsat 7 (SLC-off) four days later.
    """
    d0, d1 = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    if size < 42 or size % 6:
        raise ValueError(f"size must be a multiple of 6 pixels >= 42, got {size}")
    if d1 < d0:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    params = {
        "format": _FORMAT,
        "seed": int(seed),
        "start": d0.isoformat(),
        "end": d1.isoformat(),
        "size": int(size),
        "ndvi_gain": float(ndvi_gain),
        "ndvi_offset": float(ndvi_offset),
        "raster_bands": bool(raster_bands),
    }
    root = Path(path).absolute()
    manifest = root / "landsat-archive.json"
    scenes = _plan(int(seed), d0, d1)
    if not scenes:
        raise ValueError(f"no Landsat acquisition between {start} and {end}")
    model = build_model(int(seed), int(size))

    def archive() -> LandsatArchive:
        return LandsatArchive(
            path=root,
            catalog=root / "catalog.json",
            epsg=_NORTH_EPSG,
            bbox=model.bbox,
            start=d0.isoformat(),
            end=d1.isoformat(),
            n_items=len(scenes),
            seed=int(seed),
            ndvi_gain=float(ndvi_gain),
            ndvi_offset=float(ndvi_offset),
            params=params,
        )

    if reusable(root, manifest, params, _COLLECTION):
        return archive()

    items = []
    crs = f"EPSG:{_NORTH_EPSG}"
    for scene in scenes:
        folder = root / _COLLECTION / scene.id
        folder.mkdir(parents=True, exist_ok=True)
        arrays = _render(model, scene, float(ndvi_gain), float(ndvi_offset))
        for name, arr in arrays.items():
            nodata = 1 if name == "qa_pixel" else 0
            write_cog(folder / f"{name}.tif", arr, _transform(model), crs=crs, nodata=nodata)
        items.append(_item(model, scene, arrays["qa_pixel"], raster_bands))
    lons = [p[0] for p in model.footprint]
    lats = [p[1] for p in model.footprint]
    coll = pystac.Collection(
        _COLLECTION,
        "Synthetic Landsat 7/8/9 Collection 2 Level-2 scenes (vegcube test archive).",
        pystac.Extent(
            pystac.SpatialExtent([[min(lons), min(lats), max(lons), max(lats)]]),
            pystac.TemporalExtent([[scenes[0].when, scenes[-1].when]]),
        ),
        title="Landsat Collection 2 Level-2 (vegcube test archive)",
        license="proprietary",
        summaries=pystac.Summaries(
            {
                "platform": sorted({s.platform for s in scenes}),
                "gsd": [30],
                "proj:epsg": [_NORTH_EPSG],
            }
        ),
    )
    coll.add_items(items)
    join_catalog(root, coll, title="vegcube test archive: synthetic Landsat C2 L2.")
    manifest.write_text(
        json.dumps(
            {"generator": "vegcube.testing.landsat", "params": params, "items": len(items)},
            indent=1,
        )
    )
    return archive()
