"""Sentinel-2 L1C scenes for a generated L2A demo archive: the same scenes, surface and clouds.

Each L1C scene is derived from the L2A scene the demo renders on that day (`testing.demo`),
so clouds, cirrus, shadows and the cloud-edge halo the SCL leaves unflagged are exactly in
place. Top-of-atmosphere reflectance = path reflectance + transmittance × surface (blue
brightest, B09 damped by water vapour, B10 near zero over clear ground); clouds are bright
and flat with B11/B12 lower, and B10 high for high clouds and cirrus. All 13 bands at their
real resolutions (10, 20 and 60 m: the archive's ``size`` must be a multiple of 6), DN =
reflectance × 10000 (+ 1000 from processing baseline 04.00), items in Earth Search v1's
``sentinel-2-l1c`` shape, joining the archive's catalog.json.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import xarray as xr
from rasterio.transform import Affine
from scipy import ndimage

from . import demo
from .demo import EXTENSIONS as S2_EXTENSIONS
from .demo import DemoArchive
from .world import EPSG, Model, build_model, upsample
from .writing import iso, join_catalog, stac_item, write_cog

__all__ = ["TRUTH_CLASSES", "L1CArchive", "cloud_truth", "generate_l1c_archive"]

_FORMAT = 3
_COLLECTION = "sentinel-2-l1c"
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"
# asset, band, centre wavelength (um), gsd, path reflectance, transmittance
_BANDS: list[tuple[str, str, float, int, float, float]] = [
    ("coastal", "B01", 0.443, 60, 0.10, 0.75),
    ("blue", "B02", 0.49, 10, 0.075, 0.80),
    ("green", "B03", 0.56, 10, 0.05, 0.85),
    ("red", "B04", 0.665, 10, 0.03, 0.88),
    ("rededge1", "B05", 0.704, 20, 0.025, 0.90),
    ("rededge2", "B06", 0.74, 20, 0.02, 0.90),
    ("rededge3", "B07", 0.783, 20, 0.018, 0.90),
    ("nir", "B08", 0.842, 10, 0.015, 0.90),
    ("nir08", "B8A", 0.865, 20, 0.013, 0.92),
    ("nir09", "B09", 0.945, 60, 0.005, 0.30),
    ("cirrus", "B10", 1.375, 60, 0.0015, 0.004),
    ("swir16", "B11", 1.61, 20, 0.004, 0.90),
    ("swir22", "B12", 2.19, 20, 0.002, 0.85),
]
# top-of-atmosphere spectrum of a cloud, relative to its blue reflectance (B10 apart)
_CLOUD = {"coastal": 1.05, "blue": 1.0, "nir09": 0.8, "swir16": 0.85, "swir22": 0.65}
_NOISE = 0.002

#: classes of `cloud_truth` (what the generator put in each pixel)
TRUTH_CLASSES = {
    0: "clear",
    1: "cloud",
    2: "cirrus",
    3: "cloud-edge halo",
    4: "shadow",
    5: "nodata",
}


@dataclass(frozen=True, kw_only=True)
class L1CArchive:
    """L1C scenes added to a demo archive (same catalog) and the facts tests need."""

    path: Path
    catalog: Path
    n_items: int
    dates: tuple[str, ...]
    collection: str = _COLLECTION
    params: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class _Scene:
    l2a: demo.Scene

    @property
    def id(self) -> str:
        return self.l2a.id.removesuffix("_L2A") + "_L1C"


def _classes(scl: np.ndarray) -> np.ndarray:
    """Truth classes (20 m) from the L2A SCL: the demo's halo is re-derived from its clouds."""
    cloud = np.isin(scl, (8, 9))
    shadow = scl == 3
    halo = ndimage.binary_dilation(cloud, np.ones((3, 3), bool)) & ~cloud & ~shadow
    out = np.zeros(scl.shape, np.uint8)
    out[halo] = 3
    out[scl == 10] = 2
    out[shadow] = 4
    out[cloud] = 1
    out[scl == 0] = 5
    return out


def _coarse(a: np.ndarray, valid: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the valid 10 m pixels over k×k blocks; a block is valid if half its pixels are."""
    n = a.shape[-1] // k
    w = valid.reshape(n, k, n, k).astype(np.float32)
    s = (np.where(valid, a, 0)).reshape(n, k, n, k).sum(axis=(1, 3))
    c = w.sum(axis=(1, 3))
    return s / np.maximum(c, 1), c >= k * k / 2


def _toa(model: Model, scene: demo.Scene) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """DN arrays of the 13 L1C bands, and the truth classes at 20 m."""
    l2a = demo.render(model, scene)
    rng = np.random.default_rng([model.seed, 23, scene.when.date().toordinal()])
    n = model.size
    r = {k: (v.astype(np.float32) - scene.offset) / 10000 for k, v in l2a.items() if k != "scl"}
    for k in ("swir16", "swir22"):
        r[k] = upsample(r[k])
    valid = l2a["blue"] > 0
    classes = _classes(l2a["scl"])
    c10 = upsample(classes)
    red, nir = r["red"], r["nir"]
    surface = {
        "coastal": 0.9 * r["blue"] + 0.005,
        "blue": r["blue"],
        "green": r["green"],
        "red": red,
        "rededge1": red + 0.2 * (nir - red),
        "rededge2": red + 0.6 * (nir - red),
        "rededge3": red + 0.85 * (nir - red),
        "nir": nir,
        "nir08": 1.02 * nir,
        "nir09": nir,
        "cirrus": nir,
        "swir16": r["swir16"],
        "swir22": r["swir22"],
    }
    cloud = c10 == 1
    bright = r["blue"]  # a cloud's L2A value is its brightness (flat in the visible)
    thick = np.clip((bright - 0.35) / 0.35, 0, 1)
    high = upsample(l2a["scl"] == 9)
    cirrus_b10 = rng.uniform(0.02, 0.05)
    b10 = np.where(high, 0.06 + 0.3 * thick, 0.012 + 0.04 * thick)
    b10_at: dict[int, Any] = {1: b10, 2: cirrus_b10, 3: rng.uniform(0.004, 0.01)}
    out: dict[str, np.ndarray] = {}
    for name, _band, _wl, gsd, path, trans in _BANDS:
        toa = path + trans * surface[name] + rng.normal(0, _NOISE, (n, n)).astype(np.float32)
        if name == "cirrus":
            for cls, value in b10_at.items():
                toa = np.where(c10 == cls, value + rng.normal(0, 0.001, (n, n)), toa)
        else:
            toa = np.where(cloud, bright * _CLOUD.get(name, 1.0), toa)
        ok = valid
        if gsd > 10:
            toa, ok = _coarse(toa, valid, gsd // 10)
        dn = np.clip(np.rint(toa * 10000) + scene.offset, 1, 65535).astype(np.uint16)
        dn[~ok] = 0
        out[name] = dn
    return out, classes


def cloud_truth(archive: DemoArchive, day: str | date) -> xr.DataArray:
    """What the generator put in each 10 m pixel of the scene of `day` (`TRUTH_CLASSES`).

    The classes are the L2A scene's: SCL clouds (8, 9), cirrus (10), shadows (3) and the
    cloud-edge halo the SCL leaves unflagged; y/x are the pixel centres in the archive's CRS.
    """
    p = archive.params
    d = date.fromisoformat(str(day))
    scenes = [s for s in demo.plan(p["seed"], d, d, 1) if s.when.date() == d]
    model = build_model(p["seed"], p["size"])
    scene = demo.Scene(scenes[0].when, scenes[0].platform, scenes[0].baseline)
    classes = upsample(_classes(demo.render(model, scene)["scl"]))
    t, n = model.transform, model.size
    x = t.c + (np.arange(n) + 0.5) * t.a
    y = t.f + (np.arange(n) + 0.5) * t.e
    return xr.DataArray(classes, dims=("y", "x"), coords={"y": y, "x": x}, name="truth")


def _assets(model: Model, scene: _Scene, raster_bands: bool) -> dict[str, pystac.Asset]:
    assets = {}
    for name, band, wl, gsd, _path, _trans in _BANDS:
        k = gsd // 10
        side, tr = model.size // k, model.transform * Affine.scale(k)
        extra: dict[str, Any] = {
            "eo:bands": [{"name": band, "common_name": name, "center_wavelength": wl}],
            "gsd": gsd,
            "proj:shape": [side, side],
            "proj:transform": list(tr)[:6],
        }
        if raster_bands:
            extra["raster:bands"] = [
                {
                    "nodata": 0,
                    "data_type": "uint16",
                    "spatial_resolution": gsd,
                    "scale": 0.0001,
                    "offset": -0.1 if scene.l2a.offset else 0.0,
                }
            ]
        assets[name] = pystac.Asset(
            f"./{name}.tif",
            f"{band} ({name}) - {gsd}m",
            media_type=_COG,
            roles=["data", "reflectance"],
            extra_fields=extra,
        )
    return assets


def _item(model: Model, scene: _Scene, cover: float, raster_bands: bool) -> pystac.Item:
    when = scene.l2a.when
    made = when + timedelta(hours=1, minutes=40)
    n_base = "N" + scene.l2a.baseline.replace(".", "")
    props = {
        "created": iso(made + timedelta(days=1)),
        "updated": iso(made + timedelta(days=1)),
        "platform": scene.l2a.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": cover,
        "proj:epsg": EPSG,
        "proj:code": f"EPSG:{EPSG}",
        "mgrs:utm_zone": 58,
        "mgrs:latitude_band": "K",
        "mgrs:grid_square": "EB",
        "grid:code": "MGRS-58KEB",
        "s2:processing_baseline": scene.l2a.baseline,
        "s2:product_uri": f"{scene.id[:3]}_MSIL1C_{when:%Y%m%dT%H%M%S}_{n_base}_R130_"
        f"T58KEB_{made:%Y%m%dT%H%M%S}.SAFE",
    }
    return stac_item(
        model, scene.id, when, props, _assets(model, scene, raster_bands),
        collection=_COLLECTION, extensions=S2_EXTENSIONS,
    )  # fmt: skip


def generate_l1c_archive(archive: DemoArchive, *, missing: Iterable[str] = ()) -> L1CArchive:
    """Add (or reuse) the L1C scenes of a generated demo archive to its catalog.

    One L1C scene per L2A scene, except on the days listed in `missing` (ISO dates), whose
    L2A scenes then have no L1C. The archive's ``size`` must be a multiple of 6 (60 m bands).
    """
    p = archive.params
    if p["size"] % 6:
        raise ValueError(f"the archive's size must be a multiple of 6 pixels, got {p['size']}")
    skip = sorted({date.fromisoformat(str(d)).isoformat() for d in missing})
    params = {"format": _FORMAT, "demo": p, "missing": skip}
    root = archive.path
    manifest = root / "l1c-archive.json"
    d0, d1 = date.fromisoformat(p["start"]), date.fromisoformat(p["end"])
    every = demo.plan(p["seed"], d0, d1, p["revisit_days"])
    unknown = sorted(set(skip) - {s.when.date().isoformat() for s in every})
    if unknown:
        raise ValueError(f"missing: no L2A scene on {', '.join(unknown)} (UTC dates)")
    scenes = [_Scene(s) for s in every if s.when.date().isoformat() not in skip]
    model = build_model(p["seed"], p["size"])

    def result() -> L1CArchive:
        return L1CArchive(
            path=root,
            catalog=root / "catalog.json",
            n_items=len(scenes),
            dates=tuple(s.l2a.when.date().isoformat() for s in scenes),
            params=params,
        )

    joined = f"{_COLLECTION}/collection.json" in (root / "catalog.json").read_text()
    if manifest.is_file() and joined:
        try:
            if json.loads(manifest.read_text()).get("params") == params:
                return result()
        except ValueError:
            pass
    manifest.unlink(missing_ok=True)
    if (root / _COLLECTION).is_dir():
        shutil.rmtree(root / _COLLECTION)
    items = []
    for scene in scenes:
        folder = root / _COLLECTION / scene.id
        folder.mkdir(parents=True, exist_ok=True)
        arrays, classes = _toa(model, scene.l2a)
        for name, arr in arrays.items():
            tr = model.transform * Affine.scale(model.size // arr.shape[0])
            write_cog(folder / f"{name}.tif", arr, tr, crs=f"EPSG:{EPSG}", nodata=0)
        data = classes != 5
        cover = round(100.0 * float(np.isin(classes[data], (1, 2)).mean()) if data.any() else 0, 4)
        items.append(_item(model, scene, cover, bool(p["raster_bands"])))
    lons = [q[0] for q in model.footprint]
    lats = [q[1] for q in model.footprint]
    first = scenes[0].l2a.when if scenes else datetime.fromisoformat(p["start"])
    last = scenes[-1].l2a.when if scenes else datetime.fromisoformat(p["end"])
    coll = pystac.Collection(
        _COLLECTION,
        "Synthetic Sentinel-2 L1C scenes near Bourail (vegcube demo archive).",
        pystac.Extent(
            pystac.SpatialExtent([[min(lons), min(lats), max(lons), max(lats)]]),
            pystac.TemporalExtent([[first, last]]),
        ),
        title="Sentinel-2 Level-1C (vegcube demo)",
        license="proprietary",
        summaries=pystac.Summaries(
            {
                "platform": ["sentinel-2a", "sentinel-2b"],
                "constellation": ["sentinel-2"],
                "instruments": ["msi"],
                "gsd": [10, 20, 60],
                "proj:epsg": [EPSG],
            }
        ),
    )
    coll.add_items(items)
    join_catalog(root, coll, title="vegcube test archive: synthetic Sentinel-2 L1C.")
    manifest.write_text(
        json.dumps(
            {"generator": "vegcube.testing.l1c", "params": params, "items": len(items)}, indent=1
        )
    )
    return result()
