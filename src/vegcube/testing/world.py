"""The demo's synthetic world: one small tile near Bourail (New Caledonia, EPSG:32758) with a
land-cover map, per-class phenology with wet and dry years, and a drought of known place and
time (February to April 2023).

`build_model(seed, size)` gives the `Model`: static layers (land cover, vigour, background
spectra, drought sensitivity, districts) and the noise-free surface reflectance of any day
(`Model.surface`). The archive generators render it as scenes: `demo` (Sentinel-2 L2A),
`l1c`, `landsat` and `modis`, so every archive sees the same land on the same day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from pyproj import Transformer
from rasterio.transform import Affine
from scipy import ndimage

__all__ = [
    "ANCHOR",
    "BARE",
    "CENTRE",
    "DROUGHT",
    "DRY",
    "EPSG",
    "LANDCOVER_CLASSES",
    "REFERENCE",
    "SITES",
    "SOIL",
    "VEG",
    "WATER",
    "Model",
    "Site",
    "block_mean",
    "build_model",
    "drought_weight",
    "smooth",
    "upsample",
]

LANDCOVER_CLASSES: dict[int, str] = {
    1: "forest",
    2: "grassland",
    3: "cropland",
    4: "water",
    5: "bare",
}

#: the tile's CRS (UTM 58S) and its centre (lon, lat)
EPSG = 32758
CENTRE = (165.49, -21.57)


@dataclass(frozen=True)
class Site:
    """Where the world's tile lies: its UTM CRS, centre (lon, lat), Sentinel-2 MGRS tile and
    overpass time (UTC hour, minute); its land and seasons stay the demo's wherever it is."""

    epsg: int
    centre: tuple[float, float]
    mgrs: str
    overpass_utc: tuple[int, int]


#: named sites: the demo's (Bourail), and the fixed test area of openeo-test-suite's workflow
#: tests (`lib/workflows/parameters.py`: EPSG:32632, x 679720–680680, y 5151080–5151920,
#: i.e. near Bolzano in MGRS tile 32TPS)
SITES: dict[str, Site] = {
    "bourail": Site(EPSG, CENTRE, "58KEB", (23, 24)),
    "openeo-test-suite": Site(32632, (11.348167, 46.49296), "32TPS", (10, 6)),
}
#: the drought's window, and the reference years of the demo's recipe
DROUGHT = (date(2023, 2, 1), date(2023, 4, 30))
REFERENCE = ("2019-01-01", "2022-12-31")
ANCHOR = date(2019, 1, 3)  # an acquisition day of the revisit cycle
# Reflectance spectra (blue, green, red, nir, swir16, swir22).
VEG = np.array([0.02, 0.06, 0.03, 0.42, 0.16, 0.08], dtype=np.float32)
SOIL = np.array([0.08, 0.11, 0.14, 0.22, 0.30, 0.24], dtype=np.float32)
BARE = np.array([0.12, 0.15, 0.18, 0.25, 0.33, 0.28], dtype=np.float32)
WATER = np.array([0.05, 0.06, 0.04, 0.02, 0.012, 0.008], dtype=np.float32)
DRY = np.array([0.01, 0.01, 0.02, 0.0, 0.07, 0.06], dtype=np.float32)  # dry-canopy brightening
# Land-cover shares (class -> fraction of the AOI) outside and inside the drought region.
_SHARES_OUT = {4: 0.14, 5: 0.13, 1: 0.28, 2: 0.22, 3: 0.23}
_SHARES_IN = {5: 0.06, 1: 0.10, 2: 0.42, 3: 0.42}
_YEAR_SD = np.array([0.0, 0.02, 0.05, 0.05, 0.0, 0.01])  # per class (index = code)
_DROUGHT_LOSS = np.array([0.0, 0.3, 0.65, 0.65, 0.0, 0.65])  # share of fv lost, per class


def smooth(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Standardised smooth Gaussian random field."""
    f = ndimage.gaussian_filter(rng.normal(size=shape), sigma, mode="wrap")
    return ((f - f.mean()) / (f.std() + 1e-12)).astype(np.float32)


def block_mean(a: np.ndarray) -> np.ndarray:
    """Mean over 2x2 blocks of the last two axes (10 m -> 20 m)."""
    *lead, h, w = a.shape
    return a.reshape(*lead, h // 2, 2, w // 2, 2).mean(axis=(-3, -1))


def upsample(a: np.ndarray) -> np.ndarray:
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
class Model:
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
    site: Site = SITES["bourail"]

    def fv(self, when: datetime) -> np.ndarray:
        """Vegetation fraction at 10 m for a (local solar) time; the seasons are the southern
        hemisphere's (Bourail), half a year later on a site north of the equator."""
        t = when.timetuple().tm_yday / 365.25
        season = t + (0.5 if self.site.centre[1] > 0 else 0.0)
        forest, grass, crop = np.cos(2 * np.pi * (season - np.array([45, 75, 55]) / 365.25))
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
        ref0, ref1 = (int(d[:4]) for d in REFERENCE)
        if when.year > ref1:  # after the reference: a normal year, its climatology at this day
            shifts = [when.year - y for y in range(ref0, ref1 + 1)]
            lut += np.mean([self._year_offset(yf - k) for k in shifts], axis=0).astype(np.float32)
        else:
            lut += self._year_offset(yf).astype(np.float32)
        fv = np.clip(lut[self.landcover] * self.vigor, 0.0, 0.95)
        return fv * (1 - 0.65 * drought_weight(when.date()) * self.drought)

    def _year_offset(self, yf: float) -> np.ndarray:
        """Per-class fv offset between the wet-season peaks around year fraction `yf`."""
        i = int(np.clip(math.floor(yf), 0, len(self.years) - 2))
        return self.years[i] + (yf - i) * (self.years[i + 1] - self.years[i])

    def surface(self, when: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Noise-free reflectance (4, n, n) at 10 m, (2, n/2, n/2) at 20 m, and fv at 20 m."""
        fv = self.fv(when)
        dry = drought_weight(when.date()) * self.drought
        r10 = self.spectra[:4] * (1 - fv) + VEG[:4, None, None] * fv
        r10 += DRY[:4, None, None] * dry
        fv20, dry20 = block_mean(fv), block_mean(dry)
        r20 = block_mean(self.spectra[4:]) * (1 - fv20) + VEG[4:, None, None] * fv20
        r20 += DRY[4:, None, None] * dry20
        return r10.astype(np.float32), r20.astype(np.float32), fv20


def drought_weight(d: date) -> float:
    """1 inside the drought window, linear 14-day ramps either side, 0 elsewhere."""
    before, after = (DROUGHT[0] - d).days, (d - DROUGHT[1]).days
    return float(np.clip(1 - max(before, after, 0) / 14, 0, 1))


def build_model(seed: int, size: int, *, site: Site = SITES["bourail"]) -> Model:
    """The world of `seed` on a `size` × `size` tile of 10 m pixels around `site`'s centre."""
    n, res = size, 10.0
    to_utm = Transformer.from_crs(4326, site.epsg, always_xy=True)
    to_ll = Transformer.from_crs(site.epsg, 4326, always_xy=True)
    cx, cy = to_utm.transform(*site.centre)
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
    fields = {k: smooth(rng, (n, n), sigma) for k in (4, 5, 1, 2, 3)}
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
    vigor = 1 + 0.08 * smooth(rng, (n, n), sigma / 2) + rng.normal(0, 0.03, (n, n))
    spectra = np.where(lc == 5, BARE[:, None, None], SOIL[:, None, None])
    spectra = np.where(lc == 4, WATER[:, None, None], spectra).astype(np.float32)
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
    return Model(
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
        site,
    )
