"""A deterministic, realistic Sentinel-2 L2A demo archive: a static STAC catalog of COGs.

The archive covers one small tile near Bourail (New Caledonia, EPSG:32758) in the shape Earth
Search v1 publishes: items with ``eo``/``proj``/``raster``/``mgrs``/``grid`` metadata, tiled
DEFLATE COGs, the processing-baseline 04.00 DN offset from 2022-01-25, clouds, cirrus, shadows
and an unflagged cloud-edge halo in SCL, swath nodata edges, a land-cover map with per-class
phenology, and a drought of known place and time (February to April 2023).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio
import rasterio.shutil
from pyproj import Transformer
from rasterio.io import MemoryFile
from rasterio.transform import Affine
from scipy import ndimage

__all__ = ["LANDCOVER_CLASSES", "DemoArchive", "generate_archive"]

LANDCOVER_CLASSES: dict[int, str] = {
    1: "forest",
    2: "grassland",
    3: "cropland",
    4: "water",
    5: "bare",
}

_FORMAT = 3
_EPSG = 32758
_CENTRE = (165.49, -21.57)
_COLLECTION = "sentinel-2-l2a"
_BASELINE_SWITCH = date(2022, 1, 25)
_DROUGHT = (date(2023, 2, 1), date(2023, 4, 30))
_REFERENCE = ("2019-01-01", "2022-12-31")
_ANCHOR = date(2019, 1, 3)  # an acquisition day of the revisit cycle
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"
_EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.0.0/schema.json",
]
# asset, band, common name, centre wavelength (um), full width half max, gsd, title
_BANDS = [
    ("blue", "B02", "blue", 0.49, 0.098, 10, "Blue (band 2)"),
    ("green", "B03", "green", 0.56, 0.045, 10, "Green (band 3)"),
    ("red", "B04", "red", 0.665, 0.038, 10, "Red (band 4)"),
    ("nir", "B08", "nir", 0.842, 0.145, 10, "NIR 1 (band 8)"),
    ("swir16", "B11", "swir16", 1.61, 0.143, 20, "SWIR 1 (band 11)"),
    ("swir22", "B12", "swir22", 2.19, 0.242, 20, "SWIR 2 (band 12)"),
]
# Reflectance spectra (blue, green, red, nir, swir16, swir22).
_VEG = np.array([0.02, 0.06, 0.03, 0.42, 0.16, 0.08], dtype=np.float32)
_SOIL = np.array([0.08, 0.11, 0.14, 0.22, 0.30, 0.24], dtype=np.float32)
_BARE = np.array([0.12, 0.15, 0.18, 0.25, 0.33, 0.28], dtype=np.float32)
_WATER = np.array([0.05, 0.06, 0.04, 0.02, 0.012, 0.008], dtype=np.float32)
_DRY = np.array([0.01, 0.01, 0.02, 0.0, 0.07, 0.06], dtype=np.float32)  # dry-canopy brightening
_CLOUD_SHAPE = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.9], dtype=np.float32)
_NOISE = 0.004
# Land-cover shares (class -> fraction of the AOI) outside and inside the drought region.
_SHARES_OUT = {4: 0.14, 5: 0.13, 1: 0.28, 2: 0.22, 3: 0.23}
_SHARES_IN = {5: 0.06, 1: 0.10, 2: 0.42, 3: 0.42}
_YEAR_SD = np.array([0.0, 0.02, 0.05, 0.05, 0.0, 0.01])  # per class (index = code)
_DROUGHT_LOSS = np.array([0.0, 0.3, 0.65, 0.65, 0.0, 0.65])  # share of fv lost, per class
_SHADOW_SHIFT = (-1, -3)  # 20 m pixels (rows, cols): 63 m west-north-west of the cloud


@dataclass(frozen=True, kw_only=True)
class DemoArchive:
    """A generated demo archive and the facts tests and the demo need about it."""

    path: Path
    catalog: Path
    landcover: Path
    regions: Path
    epsg: int
    bbox: tuple[float, float, float, float]
    drought_bbox: tuple[float, float, float, float]
    start: str
    end: str
    n_items: int
    seed: int
    collection: str = _COLLECTION
    resolution: int = 10
    drought_start: str = _DROUGHT[0].isoformat()
    drought_end: str = _DROUGHT[1].isoformat()
    reference_start: str = _REFERENCE[0]
    reference_end: str = _REFERENCE[1]
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def recipe(self, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """A recipe dict running the full chain on this archive, writing into ``out_dir``."""
        return {
            "name": "demo",
            "aoi": {"bbox": list(self.bbox)},
            "time": {"start": self.start, "end": self.end},
            "source": {
                "catalog": str(self.catalog),
                "collection": self.collection,
                "max_cloud_cover": 90,
            },
            "grid": {"crs": "auto", "resolution": self.resolution},
            "mask": {"sentinel2_scl": [0, 1, 3, 8, 9, 10], "dilate_m": 40},
            "indices": ["ndvi", "ndwi"],
            "composite": {"period": "dekad", "reducer": "median"},
            "reference": {"start": self.reference_start, "end": self.reference_end},
            "indicators": ["vci", "zscore", "anomaly", "pct_normal", "drought_class"],
            "output": {"dir": str(out_dir), "formats": ["zarr", "cog"]},
        }

    def demo_recipe(self, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """The recipe `vegcube demo` runs: `recipe()` as a drought service would set it up.

        Adds the districts (zonal statistics), the report, a light Whittaker smoothing of
        the dekads (cloud gaps filled, composite noise damped: per-pixel VCI against a few
        reference years is otherwise noise-driven) and drought classes confirmed by a
        z-score ≤ −1.5 (`benchmarks/validate_drought.py` compares the choices).
        """
        rc = self.recipe(out_dir)
        rc["gapfill"] = {"method": "whittaker", "lmbda": 3, "smooth_observed": True}
        rc["drought_classes"] = {"zscore_max": -1.5}
        rc["regions"] = {"path": str(self.regions), "id": "name"}
        rc["output"]["report"] = True
        return rc


# --------------------------------------------------------------------------- static layers


def _smooth(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Standardised smooth Gaussian random field."""
    f = ndimage.gaussian_filter(rng.normal(size=shape), sigma, mode="wrap")
    return ((f - f.mean()) / (f.std() + 1e-12)).astype(np.float32)


def _block_mean(a: np.ndarray) -> np.ndarray:
    """Mean over 2x2 blocks of the last two axes (10 m -> 20 m)."""
    *lead, h, w = a.shape
    return a.reshape(*lead, h // 2, 2, w // 2, 2).mean(axis=(-3, -1))


def _up(a: np.ndarray) -> np.ndarray:
    """Repeat each pixel of the last two axes 2x2 (20 m -> 10 m)."""
    return a.repeat(2, axis=-2).repeat(2, axis=-1)


def _inner_bbox(tr: Transformer, x0: float, y0: float, x1: float, y1: float) -> tuple:
    """Largest-safe lon/lat bbox inside the UTM rectangle (x0, y0)-(x1, y1), rounded inwards."""
    lon, lat = tr.transform([x0, x0, x1, x1], [y0, y1, y0, y1])
    w, e = max(lon[0], lon[1]), min(lon[2], lon[3])
    s, n = max(lat[0], lat[2]), min(lat[1], lat[3])
    return (
        math.ceil(w * 1e6) / 1e6,
        math.ceil(s * 1e6) / 1e6,
        math.floor(e * 1e6) / 1e6,
        math.floor(n * 1e6) / 1e6,
    )


def _inside(lon: np.ndarray, lat: np.ndarray, bbox: tuple) -> np.ndarray:
    return (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])


@dataclass(frozen=True)
class _Model:
    """Static layers of the tile and the noise-free surface reflectance model."""

    seed: int
    size: int
    transform: Affine
    footprint: list[tuple[float, float]]
    bbox: tuple
    drought_bbox: tuple
    districts: list[dict[str, Any]]
    landcover: np.ndarray  # (n, n) uint8 codes
    vigor: np.ndarray  # (n, n) per-pixel multiplier of fv
    spectra: np.ndarray  # (6, n, n) background spectrum (soil, bare or water)
    drought: np.ndarray  # (n, n) drought sensitivity in [0, 1], 0 outside the region
    years: np.ndarray  # (n_years, 6) per-year fv offsets per class, at each wet-season peak

    def fv(self, when: datetime) -> np.ndarray:
        """Vegetation fraction at 10 m for a (local solar) time."""
        t = when.timetuple().tm_yday / 365.25
        forest, grass, crop = np.cos(2 * np.pi * (t - np.array([45, 75, 55]) / 365.25))
        # forest: evergreen; grassland: wet-season peak; cropland: sharp Dec-Apr green-up
        lut = np.array(
            [
                0,
                0.86 + 0.03 * forest,
                0.42 + 0.2 * grass,
                0.12 + 0.68 * ((1 + crop) / 2) ** 3,
                0,
                0.06,
            ],
            np.float32,
        )
        yf = when.year + t - 2000 - 46 / 365.25  # anchors at mid-February
        ref0, ref1 = (int(d[:4]) for d in _REFERENCE)
        if when.year > ref1:  # after the reference: a normal year, its climatology at this day
            shifts = [when.year - y for y in range(ref0, ref1 + 1)]
            lut += np.mean([self._year_offset(yf - k) for k in shifts], axis=0).astype(np.float32)
        else:
            lut += self._year_offset(yf).astype(np.float32)
        fv = np.clip(lut[self.landcover] * self.vigor, 0.0, 0.95)
        return fv * (1 - 0.65 * _drought_weight(when.date()) * self.drought)

    def _year_offset(self, yf: float) -> np.ndarray:
        """Per-class fv offset between the wet-season peaks around year fraction `yf`."""
        i = int(np.clip(math.floor(yf), 0, len(self.years) - 2))
        return self.years[i] + (yf - i) * (self.years[i + 1] - self.years[i])

    def surface(self, when: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Noise-free reflectance (4, n, n) at 10 m, (2, n/2, n/2) at 20 m, and fv at 20 m."""
        fv = self.fv(when)
        dry = _drought_weight(when.date()) * self.drought
        r10 = self.spectra[:4] * (1 - fv) + _VEG[:4, None, None] * fv
        r10 += _DRY[:4, None, None] * dry
        fv20, dry20 = _block_mean(fv), _block_mean(dry)
        r20 = _block_mean(self.spectra[4:]) * (1 - fv20) + _VEG[4:, None, None] * fv20
        r20 += _DRY[4:, None, None] * dry20
        return r10.astype(np.float32), r20.astype(np.float32), fv20


def _drought_weight(d: date) -> float:
    """1 inside the drought window, linear 14-day ramps either side, 0 elsewhere."""
    before, after = (_DROUGHT[0] - d).days, (d - _DROUGHT[1]).days
    return float(np.clip(1 - max(before, after, 0) / 14, 0, 1))


def _build_model(seed: int, size: int) -> _Model:
    n, res = size, 10.0
    to_utm = Transformer.from_crs(4326, _EPSG, always_xy=True)
    to_ll = Transformer.from_crs(_EPSG, 4326, always_xy=True)
    cx, cy = to_utm.transform(*_CENTRE)
    x0 = math.floor((cx - n * res / 2) / 20) * 20
    y0 = math.floor((cy + n * res / 2) / 20) * 20
    x1, y1 = x0 + n * res, y0 - n * res
    transform = Affine(res, 0.0, x0, 0.0, -res, y0)
    lon_c, lat_c = to_ll.transform([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0])
    footprint = [(round(a, 7), round(b, 7)) for a, b in zip(lon_c, lat_c, strict=True)]
    m = 3 * res
    bbox = _inner_bbox(to_ll, x0 + m, y1 + m, x1 - m, y0 - m)
    drought_bbox = _inner_bbox(
        to_ll, x0 + 0.52 * n * res, y0 - 0.92 * n * res, x0 + 0.92 * n * res, y0 - 0.42 * n * res
    )
    xs = x0 + (np.arange(n) + 0.5) * res
    ys = y0 - (np.arange(n) + 0.5) * res
    lon, lat = to_ll.transform(*np.meshgrid(xs, ys))
    aoi, zone = _inside(lon, lat, bbox), _inside(lon, lat, drought_bbox)

    rng = np.random.default_rng([seed, 1])
    sigma = n / 12
    fields = {k: _smooth(rng, (n, n), sigma) for k in (4, 5, 1, 2, 3)}
    lc = np.zeros((n, n), np.uint8)
    for mask, shares in ((~zone, _SHARES_OUT), (zone, _SHARES_IN)):
        left = 1.0
        for code, share in shares.items():
            cand = mask & (lc == 0)
            if left - share < 1e-9:
                lc[cand] = code
                break
            thr = np.quantile(fields[code][cand & aoi], 1 - share / left)
            lc[cand & (fields[code] >= thr)] = code
            left -= share
    vigor = 1 + 0.08 * _smooth(rng, (n, n), sigma / 2) + rng.normal(0, 0.03, (n, n))
    spectra = np.where(lc == 5, _BARE[:, None, None], _SOIL[:, None, None])
    spectra = np.where(lc == 4, _WATER[:, None, None], spectra).astype(np.float32)
    drought = (zone * _DROUGHT_LOSS[lc] / _DROUGHT_LOSS.max()).astype(np.float32)
    years = rng.normal(0, 1, (61, 6)) * _YEAR_SD  # wet season of year 2000 + i

    # Four districts partitioning the AOI; the south-east one holds the drought region.
    lon_s = round(float(to_ll.transform(x0 + 0.45 * n * res, cy)[0]), 6)
    lat_s = round(float(to_ll.transform(cx, y0 - 0.38 * n * res)[1]), 6)
    w, s, e, nn = bbox
    districts = [
        {"name": "Tene", "drought": False, "bbox": (w, lat_s, lon_s, nn)},
        {"name": "Boghen", "drought": False, "bbox": (lon_s, lat_s, e, nn)},
        {"name": "Nessadiou", "drought": False, "bbox": (w, s, lon_s, lat_s)},
        {"name": "Poe", "drought": True, "bbox": (lon_s, s, e, lat_s)},
    ]
    return _Model(
        seed,
        n,
        transform,
        footprint,
        bbox,
        drought_bbox,
        districts,
        lc,
        vigor.astype(np.float32),
        spectra,
        drought,
        years,
    )


# --------------------------------------------------------------------------- scenes


@dataclass(frozen=True)
class _Scene:
    when: datetime  # UTC acquisition time
    platform: str
    baseline: str

    @property
    def id(self) -> str:
        return f"S2{self.platform[-1].upper()}_58KEB_{self.when:%Y%m%d}_0_L2A"

    @property
    def offset(self) -> int:
        return 1000 if self.baseline >= "04.00" else 0


def _baseline(d: date) -> str:
    if d < date(2021, 6, 30):
        return "02.14"
    if d < _BASELINE_SWITCH:
        return "03.01"
    return "04.00" if d < date(2023, 12, 13) else "05.09"


def _plan(seed: int, start: date, end: date, revisit: int) -> list[_Scene]:
    first = start + timedelta(days=(_ANCHOR - start).days % revisit)
    scenes = []
    for k in range((end - first).days // revisit + 1):
        d = first + timedelta(days=k * revisit)
        rng = np.random.default_rng([seed, 2, d.toordinal()])
        cycle = (d - _ANCHOR).days // revisit
        when = datetime(d.year, d.month, d.day, 23, 24, tzinfo=timezone.utc)
        when += timedelta(seconds=int(rng.integers(0, 480)), milliseconds=int(rng.integers(1000)))
        scenes.append(
            _Scene(when, "sentinel-2a" if cycle % 2 == 0 else "sentinel-2b", _baseline(d))
        )
    return scenes


def _render(model: _Model, scene: _Scene) -> dict[str, np.ndarray]:
    """DN arrays of every asset (uint16 reflectances, uint8 SCL) for one scene."""
    rng = np.random.default_rng([model.seed, 3, scene.when.date().toordinal()])
    local = scene.when + timedelta(hours=_CENTRE[0] / 15)
    r10, r20, fv20 = model.surface(local)
    m = model.size // 2
    r10 += rng.normal(0, _NOISE, r10.shape).astype(np.float32)
    r20 += rng.normal(0, _NOISE, r20.shape).astype(np.float32)

    wet = local.month in (12, 1, 2, 3, 4)
    u = rng.random()
    p_full, p_clear = (0.2, 0.35) if wet else (0.1, 0.5)
    if u < p_full:
        cover = rng.uniform(0.85, 1.0)
    elif u < p_full + p_clear:
        cover = 0.0 if rng.random() < 0.5 else rng.uniform(0.0, 0.02)
    else:
        cover = rng.uniform(0.03, 0.75)
    field_c = _smooth(rng, (m, m), m / 8)
    cloud = np.zeros((m, m), bool)
    thick = np.zeros((m, m), np.float32)
    if cover > 0:
        thr = np.quantile(field_c, 1 - cover)
        cloud = field_c > thr
        thick = np.clip((field_c - thr) / (field_c.max() - thr + 1e-6), 0, 1)
    cirrus = np.zeros((m, m), bool)
    if 0 < cover < 0.85 and rng.random() < 0.4:
        field_i = _smooth(rng, (m, m), m / 6)
        cirrus = (field_i > np.quantile(field_i, 1 - rng.uniform(0.03, 0.2))) & ~cloud
    dy, dx = _SHADOW_SHIFT
    shadow = np.zeros((m, m), bool)
    shadow[: m + dy, : m + dx] = cloud[-dy:, -dx:]
    shadow &= ~cloud
    halo = ndimage.binary_dilation(cloud, np.ones((3, 3), bool)) & ~cloud & ~shadow
    nodata = np.zeros((m, m), bool)
    if rng.random() < 0.25:
        frac = rng.uniform(0.1, 0.4)
        v, h = np.mgrid[0:m, 0:m]
        v, h = (v + 0.5) / m, (h + 0.5) / m
        nodata = (h + (v if rng.random() < 0.5 else 1 - v)) > 2 - math.sqrt(2 * frac)

    cloud_r = (0.35 + 0.35 * np.sqrt(thick) + rng.normal(0, 0.01, (m, m))).astype(np.float32)
    cirrus_add = rng.uniform(0.06, 0.12)
    halo_add = rng.uniform(0.08, 0.14)
    out: dict[str, np.ndarray] = {}
    for refl, bands, up in ((r10, slice(0, 4), _up), (r20, slice(4, 6), lambda a: a)):
        shape = _CLOUD_SHAPE[bands, None, None]
        refl[:] = np.where(up(cirrus), refl * 0.8 + cirrus_add, refl)
        refl[:] = np.where(up(halo), refl * 0.75 + halo_add, refl)
        refl[:] = np.where(up(shadow), refl * 0.3, refl)
        refl[:] = np.where(up(cloud), up(cloud_r) * shape, refl)
        dn = np.clip(np.rint(refl * 10000) + scene.offset, 1, 65535).astype(np.uint16)
        dn[:, up(nodata)] = 0
        for i, (name, *_rest) in enumerate(_BANDS[bands]):
            out[name] = dn[i]

    water = _block_mean(model.landcover == 4) > 0.5
    scl = np.where(water, 6, np.where(fv20 > 0.35, 4, 5))
    scl = np.where(rng.random((m, m)) < 0.003, 7, scl)
    scl = np.where(cirrus, 10, scl)
    scl = np.where(shadow, 3, scl)
    scl = np.where(cloud, np.where(thick > 0.4, 9, 8), scl)
    scl[nodata] = 0
    out["scl"] = scl.astype(np.uint8)
    return out


# --------------------------------------------------------------------------- writing


def _blocksize(side: int) -> int:
    return int(min(512, max(128, 2 ** math.ceil(math.log2(side / 2)))))


def _write_cog(path: Path, arr: np.ndarray, transform: Affine, resampling: str) -> None:
    """Write a single-band COG (DEFLATE, tiled, overviews) with nodata 0."""
    profile = {
        "driver": "GTiff",
        "height": arr.shape[0],
        "width": arr.shape[1],
        "count": 1,
        "dtype": arr.dtype.name,
        "crs": f"EPSG:{_EPSG}",
        "transform": transform,
        "nodata": 0,
    }
    opts = {
        "BLOCKSIZE": _blocksize(max(arr.shape)),
        "COMPRESS": "DEFLATE",
        "OVERVIEWS": "AUTO",
        "OVERVIEW_RESAMPLING": resampling,
    }
    if arr.dtype == np.uint16:
        opts["PREDICTOR"] = 2
    with MemoryFile() as mem, mem.open(**profile) as src:
        src.write(arr, 1)
        rasterio.shutil.copy(src, path, driver="COG", **opts)


def _write_scene(model: _Model, scene: _Scene, folder: Path) -> float:
    """Render and write one scene's COGs; returns its cloud cover in percent."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = _render(model, scene)
    t20 = model.transform * Affine.scale(2)
    for name, arr in arrays.items():
        tr = model.transform if arr.shape[0] == model.size else t20
        _write_cog(folder / f"{name}.tif", arr, tr, "nearest" if name == "scl" else "average")
    scl = arrays["scl"]
    valid, cloudy = int(np.count_nonzero(scl)), int(np.count_nonzero(np.isin(scl, (8, 9, 10))))
    return round(100.0 * cloudy / max(valid, 1), 4)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _assets(model: _Model, scene: _Scene, raster_bands: bool) -> dict[str, pystac.Asset]:
    n = model.size
    tr20 = model.transform * Affine.scale(2)
    assets = {}
    for name, band, common, wl, fwhm, gsd, title in _BANDS:
        side, tr = (n, model.transform) if gsd == 10 else (n // 2, tr20)
        extra: dict[str, Any] = {
            "eo:bands": [
                {
                    "name": band,
                    "common_name": common,
                    "center_wavelength": wl,
                    "full_width_half_max": fwhm,
                }
            ],
            "gsd": gsd,
            "proj:shape": [side, side],
            "proj:transform": list(tr)[:6],
        }
        if raster_bands:
            extra["raster:bands"] = [
                {
                    "nodata": 0,
                    "data_type": "uint16",
                    "bits_per_sample": 15,
                    "spatial_resolution": gsd,
                    "scale": 0.0001,
                    "offset": -0.1 if scene.offset else 0.0,
                }
            ]
        assets[name] = pystac.Asset(
            f"./{name}.tif",
            f"{title} - {gsd}m",
            media_type=_COG,
            roles=["data", "reflectance"],
            extra_fields=extra,
        )
    assets["scl"] = pystac.Asset(
        "./scl.tif",
        "Scene classification map (SCL)",
        media_type=_COG,
        roles=["data"],
        extra_fields={
            "gsd": 20,
            "proj:shape": [n // 2, n // 2],
            "proj:transform": list(tr20)[:6],
            "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}],
        },
    )
    return assets


def _item(model: _Model, scene: _Scene, cloud: float, raster_bands: bool) -> pystac.Item:
    made = scene.when + timedelta(hours=2, minutes=17)
    n_base = "N" + scene.baseline.replace(".", "")
    props = {
        "created": _iso(made + timedelta(days=1)),
        "updated": _iso(made + timedelta(days=1)),
        "platform": scene.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": cloud,
        "proj:epsg": _EPSG,
        "proj:code": f"EPSG:{_EPSG}",
        "mgrs:utm_zone": 58,
        "mgrs:latitude_band": "K",
        "mgrs:grid_square": "EB",
        "grid:code": "MGRS-58KEB",
        "s2:processing_baseline": scene.baseline,
        "s2:product_uri": f"{scene.id[:3]}_MSIL2A_{scene.when:%Y%m%dT%H%M%S}_{n_base}_R130_"
        f"T58KEB_{made:%Y%m%dT%H%M%S}.SAFE",
    }
    return stac_item(
        model, scene.id, scene.when, props, _assets(model, scene, raster_bands),
        collection=_COLLECTION, extensions=_EXTENSIONS,
    )  # fmt: skip


def join_catalog(root: Path, coll: pystac.Collection, *, title: str) -> None:
    """Save `coll` under `root` as a child of ``root/catalog.json``, created (with `title`) or
    joined; a collection of the same id already there is replaced."""
    href = root / "catalog.json"
    if href.is_file():
        cat = pystac.Catalog.from_file(str(href))
        if cat.get_child(coll.id) is not None:
            cat.remove_child(coll.id)
    else:
        cat = pystac.Catalog(f"vegcube-{coll.id}", title)
        cat.normalize_hrefs(str(root))
    cat.add_child(coll)
    coll.normalize_hrefs(str(root / coll.id))
    coll.save(pystac.CatalogType.SELF_CONTAINED)
    cat.save_object(include_self_link=False, dest_href=str(href))


def stac_item(
    model: _Model,
    item_id: str,
    when: datetime,
    props: dict[str, Any],
    assets: dict[str, pystac.Asset],
    *,
    collection: str,
    extensions: list[str],
) -> pystac.Item:
    """An item over the demo tile's footprint (shared by the demo's generators)."""
    lons = [p[0] for p in model.footprint]
    lats = [p[1] for p in model.footprint]
    item = pystac.Item(
        item_id,
        {"type": "Polygon", "coordinates": [model.footprint]},
        [min(lons), min(lats), max(lons), max(lats)],
        when,
        props,
        stac_extensions=list(extensions),
        collection=collection,
    )
    for key, asset in assets.items():
        item.add_asset(key, asset)
    return item


def _write_extras(model: _Model, root: Path) -> None:
    _write_cog(root / "landcover.tif", model.landcover, model.transform, "nearest")
    feats = []
    for d in model.districts:
        w, s, e, n = d["bbox"]
        feats.append(
            {
                "type": "Feature",
                "properties": {"name": d["name"], "drought": d["drought"]},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]],
                },
            }
        )
    (root / "regions.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}, indent=1)
    )


def _write_catalog(
    model: _Model, root: Path, items: list[pystac.Item], scenes: list[_Scene], raster_bands: bool
) -> None:
    lons = [p[0] for p in model.footprint]
    lats = [p[1] for p in model.footprint]
    extent = pystac.Extent(
        pystac.SpatialExtent([[min(lons), min(lats), max(lons), max(lats)]]),
        pystac.TemporalExtent([[scenes[0].when, scenes[-1].when]]),
    )
    item_assets = {
        k: {key: v for key, v in a.to_dict().items() if key != "href"}
        for k, a in _assets(model, scenes[0], raster_bands).items()
    }
    for v in item_assets.values():
        v.pop("proj:transform", None)
        for b in v.get("raster:bands", []):
            b.pop("offset", None)
    coll = pystac.Collection(
        _COLLECTION,
        "Synthetic Sentinel-2 L2A scenes near Bourail (vegcube demo archive).",
        extent,
        title="Sentinel-2 Level-2A (vegcube demo)",
        license="proprietary",
        stac_extensions=list(_EXTENSIONS[:3]),
        summaries=pystac.Summaries(
            {
                "platform": ["sentinel-2a", "sentinel-2b"],
                "constellation": ["sentinel-2"],
                "instruments": ["msi"],
                "gsd": [10, 20],
                "proj:epsg": [_EPSG],
                "eo:bands": [
                    {"name": b[1], "common_name": b[2], "center_wavelength": b[3]} for b in _BANDS
                ],
            }
        ),
    )
    coll.extra_fields["item_assets"] = item_assets
    cat = pystac.Catalog("vegcube-demo", "vegcube demo archive: synthetic Sentinel-2 L2A.")
    cat.add_child(coll)
    coll.add_items(items)
    cat.normalize_hrefs(str(root))
    cat.save(pystac.CatalogType.SELF_CONTAINED)


# --------------------------------------------------------------------------- public API


def _archive(root: Path, model: _Model, params: dict[str, Any], n_items: int) -> DemoArchive:
    return DemoArchive(
        path=root,
        catalog=root / "catalog.json",
        landcover=root / "landcover.tif",
        regions=root / "regions.geojson",
        epsg=_EPSG,
        bbox=model.bbox,
        drought_bbox=model.drought_bbox,
        start=params["start"],
        end=params["end"],
        n_items=n_items,
        seed=params["seed"],
        params=params,
    )


def generate_archive(
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
    start: str = "2019-01-01",
    end: str = "2023-12-31",
    revisit_days: int = 5,
    size: int = 240,
    raster_bands: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> DemoArchive:
    """Generate (or reuse) a Sentinel-2 L2A demo archive under ``path``.

    One acquisition every ``revisit_days`` (S2A/S2B alternating) between ``start`` and ``end``
    on a ``size`` x ``size`` tile of 10 m pixels (``size`` even, >= 40). ``raster_bands=False``
    leaves out reflectance ``raster:bands`` so readers must apply the processing-baseline rule.
    An existing complete archive made with the same parameters is returned as is.
    ``progress(done, total)`` is called after each scene is written.
    """
    d0, d1 = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    if size < 40 or size % 2:
        raise ValueError(f"size must be an even number of pixels >= 40, got {size}")
    if revisit_days < 1:
        raise ValueError(f"revisit_days must be >= 1, got {revisit_days}")
    if d1 < d0:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    params = {
        "format": _FORMAT,
        "seed": int(seed),
        "start": d0.isoformat(),
        "end": d1.isoformat(),
        "revisit_days": int(revisit_days),
        "size": int(size),
        "raster_bands": bool(raster_bands),
    }
    root = Path(path).absolute()
    manifest = root / "demo-archive.json"
    scenes = _plan(int(seed), d0, d1, int(revisit_days))
    if not scenes:
        raise ValueError(f"no acquisition between {start} and {end} every {revisit_days} days")
    model = _build_model(int(seed), int(size))
    if manifest.is_file() and (root / "catalog.json").is_file():
        try:
            old = json.loads(manifest.read_text())
        except ValueError:
            old = {}
        if old.get("params") == params:
            return _archive(root, model, params, len(scenes))
    manifest.unlink(missing_ok=True)
    if (root / _COLLECTION).is_dir():
        shutil.rmtree(root / _COLLECTION)
    root.mkdir(parents=True, exist_ok=True)

    folders = [root / _COLLECTION / s.id for s in scenes]
    clouds: list[float] = [0.0] * len(scenes)
    with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) + 1)) as pool:
        futures = [
            pool.submit(_write_scene, model, s, f) for s, f in zip(scenes, folders, strict=True)
        ]
        for i, fut in enumerate(futures):
            clouds[i] = fut.result()
            if progress is not None:
                progress(i + 1, len(scenes))
    items = [_item(model, s, c, raster_bands) for s, c in zip(scenes, clouds, strict=True)]
    _write_extras(model, root)
    _write_catalog(model, root, items, scenes, raster_bands)
    manifest.write_text(
        json.dumps(
            {"generator": "vegcube.testing.demo", "params": params, "items": len(scenes)}, indent=1
        )
    )
    return _archive(root, model, params, len(scenes))
