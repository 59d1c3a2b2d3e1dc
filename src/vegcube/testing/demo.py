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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pystac
from rasterio.transform import Affine
from scipy import ndimage

from .world import (
    ANCHOR,
    DROUGHT,
    LANDCOVER_CLASSES,
    REFERENCE,
    SITES,
    Model,
    Site,
    block_mean,
    build_model,
    smooth,
    upsample,
)
from .writing import iso, reusable, stac_item, write_cog

__all__ = [
    "EXTENSIONS",
    "LANDCOVER_CLASSES",
    "DemoArchive",
    "Scene",
    "generate_archive",
    "plan",
    "render",
]


_FORMAT = 3
_COLLECTION = "sentinel-2-l2a"
_BASELINE_SWITCH = date(2022, 1, 25)
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"
EXTENSIONS = [
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
_CLOUD_SHAPE = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.9], dtype=np.float32)
_NOISE = 0.004
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
    drought_start: str = DROUGHT[0].isoformat()
    drought_end: str = DROUGHT[1].isoformat()
    reference_start: str = REFERENCE[0]
    reference_end: str = REFERENCE[1]
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

        Adds the districts (zonal statistics and a drought alert), the report and
        spatio-temporal gap filling
        (cloud gaps filled, one-date residue replaced, droughts kept); drought classes take
        the recipe's defaults, given only for significant departures
        (`benchmarks/validate_drought.py` compares the choices).
        """
        rc = self.recipe(out_dir)
        rc["gapfill"] = {"method": "spatiotemporal"}
        rc["regions"] = {"path": str(self.regions), "id": "name"}
        # a district is on alert while a quarter of its classed area is in moderate drought
        # or worse for two dekads in a row (the share is over the classed area: every period
        # judges, however much of the district is not monitorable)
        rc["alerts"] = [{"name": "drought", "variable": "ndvi_drought_share", "above": 0.25,
                         "periods": 2, "min_valid_fraction": 0.0}]  # fmt: skip
        rc["output"]["report"] = True
        return rc


# --------------------------------------------------------------------------- scenes


@dataclass(frozen=True)
class Scene:
    when: datetime  # UTC acquisition time
    platform: str
    baseline: str
    tile: str = "58KEB"  # MGRS

    @property
    def id(self) -> str:
        return f"S2{self.platform[-1].upper()}_{self.tile}_{self.when:%Y%m%d}_0_L2A"

    @property
    def offset(self) -> int:
        return 1000 if self.baseline >= "04.00" else 0


def _baseline(d: date) -> str:
    if d < date(2021, 6, 30):
        return "02.14"
    if d < _BASELINE_SWITCH:
        return "03.01"
    return "04.00" if d < date(2023, 12, 13) else "05.09"


def plan(
    seed: int, start: date, end: date, revisit: int, *, site: Site = SITES["bourail"]
) -> list[Scene]:
    first = start + timedelta(days=(ANCHOR - start).days % revisit)
    scenes = []
    for k in range((end - first).days // revisit + 1):
        d = first + timedelta(days=k * revisit)
        rng = np.random.default_rng([seed, 2, d.toordinal()])
        cycle = (d - ANCHOR).days // revisit
        when = datetime(d.year, d.month, d.day, *site.overpass_utc, tzinfo=timezone.utc)
        when += timedelta(seconds=int(rng.integers(0, 480)), milliseconds=int(rng.integers(1000)))
        platform = "sentinel-2a" if cycle % 2 == 0 else "sentinel-2b"
        scenes.append(Scene(when, platform, _baseline(d), site.mgrs))
    return scenes


def render(model: Model, scene: Scene) -> dict[str, np.ndarray]:
    """DN arrays of every asset (uint16 reflectances, uint8 SCL) for one scene."""
    rng = np.random.default_rng([model.seed, 3, scene.when.date().toordinal()])
    local = scene.when + timedelta(hours=model.site.centre[0] / 15)
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
    field_c = smooth(rng, (m, m), m / 8)
    cloud = np.zeros((m, m), bool)
    thick = np.zeros((m, m), np.float32)
    if cover > 0:
        thr = np.quantile(field_c, 1 - cover)
        cloud = field_c > thr
        thick = np.clip((field_c - thr) / (field_c.max() - thr + 1e-6), 0, 1)
    cirrus = np.zeros((m, m), bool)
    if 0 < cover < 0.85 and rng.random() < 0.4:
        field_i = smooth(rng, (m, m), m / 6)
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
    for refl, bands, up in ((r10, slice(0, 4), upsample), (r20, slice(4, 6), lambda a: a)):
        shape = _CLOUD_SHAPE[bands, None, None]
        refl[:] = np.where(up(cirrus), refl * 0.8 + cirrus_add, refl)
        refl[:] = np.where(up(halo), refl * 0.75 + halo_add, refl)
        refl[:] = np.where(up(shadow), refl * 0.3, refl)
        refl[:] = np.where(up(cloud), up(cloud_r) * shape, refl)
        dn = np.clip(np.rint(refl * 10000) + scene.offset, 1, 65535).astype(np.uint16)
        dn[:, up(nodata)] = 0
        for i, (name, *_rest) in enumerate(_BANDS[bands]):
            out[name] = dn[i]

    water = block_mean(model.landcover == 4) > 0.5
    scl = np.where(water, 6, np.where(fv20 > 0.35, 4, 5))
    scl = np.where(rng.random((m, m)) < 0.003, 7, scl)
    scl = np.where(cirrus, 10, scl)
    scl = np.where(shadow, 3, scl)
    scl = np.where(cloud, np.where(thick > 0.4, 9, 8), scl)
    scl[nodata] = 0
    out["scl"] = scl.astype(np.uint8)
    return out


# --------------------------------------------------------------------------- writing


def _write_scene(model: Model, scene: Scene, folder: Path) -> float:
    """Render and write one scene's COGs; returns its cloud cover in percent."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = render(model, scene)
    t20 = model.transform * Affine.scale(2)
    for name, arr in arrays.items():
        tr = model.transform if arr.shape[0] == model.size else t20
        write_cog(
            folder / f"{name}.tif", arr, tr, crs=f"EPSG:{model.site.epsg}", nodata=0,
            resampling="nearest" if name == "scl" else "average",
        )  # fmt: skip
    scl = arrays["scl"]
    valid, cloudy = int(np.count_nonzero(scl)), int(np.count_nonzero(np.isin(scl, (8, 9, 10))))
    return round(100.0 * cloudy / max(valid, 1), 4)


def _assets(model: Model, scene: Scene, raster_bands: bool) -> dict[str, pystac.Asset]:
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


def _item(model: Model, scene: Scene, cloud: float, raster_bands: bool) -> pystac.Item:
    made = scene.when + timedelta(hours=2, minutes=17)
    n_base = "N" + scene.baseline.replace(".", "")
    mgrs = model.site.mgrs
    props = {
        "created": iso(made + timedelta(days=1)),
        "updated": iso(made + timedelta(days=1)),
        "platform": scene.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": cloud,
        "proj:epsg": model.site.epsg,
        "proj:code": f"EPSG:{model.site.epsg}",
        "mgrs:utm_zone": int(mgrs[:2]),
        "mgrs:latitude_band": mgrs[2],
        "mgrs:grid_square": mgrs[3:],
        "grid:code": f"MGRS-{mgrs}",
        "s2:processing_baseline": scene.baseline,
        "s2:product_uri": f"{scene.id[:3]}_MSIL2A_{scene.when:%Y%m%dT%H%M%S}_{n_base}_R130_"
        f"T{mgrs}_{made:%Y%m%dT%H%M%S}.SAFE",
    }
    return stac_item(
        model, scene.id, scene.when, props, _assets(model, scene, raster_bands),
        collection=_COLLECTION, extensions=EXTENSIONS,
    )  # fmt: skip


def _write_extras(model: Model, root: Path) -> None:
    write_cog(
        root / "landcover.tif",
        model.landcover,
        model.transform,
        crs=f"EPSG:{model.site.epsg}",
        nodata=0,
    )
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
    model: Model, root: Path, items: list[pystac.Item], scenes: list[Scene], raster_bands: bool
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
        "Synthetic Sentinel-2 L2A scenes near Bourail (vegcube demo archive)."
        if model.site == SITES["bourail"]
        else f"Synthetic Sentinel-2 L2A scenes, MGRS {model.site.mgrs} (vegcube demo archive).",
        extent,
        title="Sentinel-2 Level-2A (vegcube demo)",
        license="proprietary",
        stac_extensions=list(EXTENSIONS[:3]),
        summaries=pystac.Summaries(
            {
                "platform": ["sentinel-2a", "sentinel-2b"],
                "constellation": ["sentinel-2"],
                "instruments": ["msi"],
                "gsd": [10, 20],
                "proj:epsg": [model.site.epsg],
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


def _archive(root: Path, model: Model, params: dict[str, Any], n_items: int) -> DemoArchive:
    return DemoArchive(
        path=root,
        catalog=root / "catalog.json",
        landcover=root / "landcover.tif",
        regions=root / "regions.geojson",
        epsg=model.site.epsg,
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
    site: str = "bourail",
    progress: Callable[[int, int], None] | None = None,
) -> DemoArchive:
    """Generate (or reuse) a Sentinel-2 L2A demo archive under ``path``.

    One acquisition every ``revisit_days`` (S2A/S2B alternating) between ``start`` and ``end``
    on a ``size`` x ``size`` tile of 10 m pixels (``size`` even, >= 40). ``raster_bands=False``
    leaves out reflectance ``raster:bands`` so readers must apply the processing-baseline rule.
    ``site`` names where the tile lies (`world.SITES`: the demo's "bourail", or
    "openeo-test-suite", the fixed test area of that suite's workflow tests).
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
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}; choose from {sorted(SITES)}")
    params = {
        "format": _FORMAT,
        "seed": int(seed),
        "start": d0.isoformat(),
        "end": d1.isoformat(),
        "revisit_days": int(revisit_days),
        "size": int(size),
        "raster_bands": bool(raster_bands),
        **({"site": site} if site != "bourail" else {}),  # older manifests stay valid
    }
    root = Path(path).absolute()
    manifest = root / "demo-archive.json"
    scenes = plan(int(seed), d0, d1, int(revisit_days), site=SITES[site])
    if not scenes:
        raise ValueError(f"no acquisition between {start} and {end} every {revisit_days} days")
    model = build_model(int(seed), int(size), site=SITES[site])
    if reusable(root, manifest, params, _COLLECTION):
        return _archive(root, model, params, len(scenes))

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
