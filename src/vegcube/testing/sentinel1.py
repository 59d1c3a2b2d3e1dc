"""A generated Sentinel-1 RTC archive in Planetary Computer's item shape, over the demo's world.

Each pass writes two float32 COGs (``vv``, ``vh``): γ⁰ in linear power on the demo's 10 m UTM
grid, ``nodata`` −32768 declared in ``raster:bands`` as PC does, with the item properties of
the real items in ``tests/data/items/planetary-computer/sentinel-1-rtc`` (``sat:orbit_state``,
``sat:relative_orbit``, ``sar:*``, ``s1:*``, ``proj:*``; ``start_datetime``/``end_datetime``
written as PC writes them, with a space and ``+00:00``). Descending passes every 12 days
(~06:00 local), ascending ones every 12 days five days later (~18:00 local), as Sentinel-1A
alone flies; ascending scenes see the ground ``ASCENDING_OFFSET_DB`` darker (another
incidence angle), so a mixed composite is visibly wrong.

The backscatter follows the world (`world.Model`): in dB, VV = −15 + 5·w + 3·fv and
VH = −24 + 3·w + 8·fv over land (w: surface wetness, high in the wet season; fv: the
vegetation fraction, which the drought lowers), water −22 / −29 dB, bare ground drier. In
the drought's place and time the wetness falls with the drought's weight (`drought_weight`
× sensitivity), so VV, VH and RVI drop. Speckle is multiplicative, gamma-distributed of
mean 1 and `looks` equivalent looks, drawn from a seed per scene; every fifth ascending pass
ends at the swath edge (its east columns nodata). Deterministic for a seed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pystac

from ..sensors.sentinel1 import NODATA
from .world import ANCHOR, DROUGHT, EPSG, Model, build_model, drought_weight
from .writing import iso, join_catalog, reusable, stac_item, write_cog

__all__ = ["ASCENDING_OFFSET_DB", "Sentinel1Archive", "backscatter", "generate_sentinel1_archive"]

_FORMAT = 1
_COLLECTION = "sentinel-1-rtc"
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"
#: dB by which ascending passes see the ground darker than descending ones
ASCENDING_OFFSET_DB = -1.5
#: (orbit state, relative orbit, first pass after `ANCHOR` in days, UTC time of the pass)
_PASSES = (("descending", 117, 0, time(19, 6, 40)), ("ascending", 88, 5, time(7, 12, 5)))
_EXTENSIONS = [
    "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/file/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
_POL = {
    "vv": ("VV: vertical transmit, vertical receive", "vertical", "vertical"),
    "vh": ("VH: vertical transmit, horizontal receive", "vertical", "horizontal"),
}


@dataclass(frozen=True)
class Sentinel1Archive:
    """A generated Sentinel-1 RTC archive and the facts tests need about it."""

    path: Path
    catalog: Path
    collection: str
    bbox: tuple[float, float, float, float]
    start: str
    end: str
    n_items: dict[str, int]
    seed: int
    looks: float
    #: the world's land cover at 10 m (`testing.truth` reads it with the next fields)
    landcover: Path
    drought_bbox: tuple[float, float, float, float]
    epsg: int = EPSG
    drought_start: str = DROUGHT[0].isoformat()
    drought_end: str = DROUGHT[1].isoformat()
    params: dict[str, Any] = field(default_factory=dict, compare=False)


def backscatter(model: Model, when: datetime, *, orbit: str) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free γ⁰ (VV, VH) in linear power of the world at `when` seen from `orbit`."""
    doy = when.timetuple().tm_yday
    season = 0.5 + 0.4 * np.cos(2 * np.pi * (doy - 45) / 365.25)  # wet Dec–Apr (south)
    if model.site.centre[1] > 0:
        season = 1.0 - season
    fv = model.fv(when)
    wet = season * (1 - 0.5 * drought_weight(when.date()) * model.drought)
    vv = -15 + 5 * wet + 3 * fv
    vh = -24 + 3 * wet + 8 * fv
    bare, water = model.landcover == 5, model.landcover == 4
    vv, vh = np.where(bare, vv - 2, vv), np.where(bare, vh - 2, vh)
    vv, vh = np.where(water, -22.0, vv), np.where(water, -29.0, vh)
    shift = ASCENDING_OFFSET_DB if orbit == "ascending" else 0.0
    return 10 ** ((vv + shift) / 10), 10 ** ((vh + shift) / 10)


def _schedule(
    d0: date, d1: date, orbits: tuple[str, ...], months: tuple[int, int]
) -> list[tuple[datetime, str, int]]:
    out = []
    for state, rel, first, at in _PASSES:
        if state not in orbits:
            continue
        day = ANCHOR + timedelta(days=first)
        day += timedelta(days=12 * max(0, -(-(d0 - day).days // 12)))
        while day <= d1:
            if months[0] <= day.month <= months[1]:
                out.append((datetime.combine(day, at, timezone.utc), state, rel))
            day += timedelta(days=12)
    return sorted(out)


def _pc_time(t: datetime) -> str:
    """``start_datetime``/``end_datetime`` as PC's RTC items write them (space, +00:00)."""
    return t.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def _item(model: Model, when: datetime, state: str, rel: int, looks: float) -> pystac.Item:
    start, end = when - timedelta(seconds=9), when + timedelta(seconds=9)
    absolute = 26_000 + (when.date() - date(2019, 1, 1)).days * 175 // 12
    take = absolute * 7 % 0xFFFFFF
    item_id = (
        f"S1A_IW_GRDH_1SDV_{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}_{absolute:06d}_{take:06X}_rtc"
    )
    t, n = model.transform, model.size
    props: dict[str, Any] = {
        "datetime": iso(when),
        "platform": "SENTINEL-1A",
        "s1:shape": [n, n],
        "proj:bbox": [t.c, t.f - n * 10.0, t.c + n * 10.0, t.f],
        "proj:epsg": model.site.epsg,
        "proj:shape": [n, n],
        "end_datetime": _pc_time(end),
        "constellation": "Sentinel-1",
        "s1:resolution": "high",
        "proj:transform": [*list(t)[:6], 0.0, 0.0, 1.0],
        "s1:datatake_id": str(take),
        "start_datetime": _pc_time(start),
        "s1:orbit_source": "RESORB",
        "s1:slice_number": "12",
        "s1:total_slices": "20",
        "sar:looks_range": 5,
        "sat:orbit_state": state,
        "sar:product_type": "GRD",
        "sar:looks_azimuth": 1,
        "sar:polarizations": ["VV", "VH"],
        "sar:frequency_band": "C",
        "sat:absolute_orbit": absolute,
        "sat:relative_orbit": rel,
        "s1:processing_level": "1",
        "sar:instrument_mode": "IW",
        "sar:center_frequency": 5.405,
        "sar:resolution_range": 20,
        "s1:product_timeliness": "Fast-24h",
        "sar:resolution_azimuth": 22,
        "sar:pixel_spacing_range": 10,
        "sar:observation_direction": "right",
        "sar:pixel_spacing_azimuth": 10,
        "sar:looks_equivalent_number": looks,
        "s1:instrument_configuration_ID": "7",
        "sat:platform_international_designator": "2014-016A",
    }
    assets = {}
    for key, (title, tx, rx) in _POL.items():
        assets[key] = pystac.Asset(
            f"./measurement/iw-{key}.rtc.tiff",
            title,
            description=f"Terrain-corrected gamma naught values of signal transmitted with {tx} "
            f"polarization and received with {rx} polarization with radiometric terrain "
            "correction applied.",
            media_type=_COG,
            roles=["data"],
            extra_fields={
                "raster:bands": [
                    {"nodata": -32768, "data_type": "float32", "spatial_resolution": 10.0}
                ]
            },
        )
    item = stac_item(
        model, item_id, when, props, assets, collection=_COLLECTION, extensions=_EXTENSIONS
    )
    return item


def _speckle(rng: np.random.Generator, clean: np.ndarray, looks: float) -> np.ndarray:
    return (clean * rng.gamma(looks, 1.0 / looks, clean.shape)).astype("float32")


def generate_sentinel1_archive(
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
    start: str = "2020-01-01",
    end: str = "2023-06-30",
    size: int = 48,
    looks: float = 4.4,
    orbits: tuple[str, ...] = ("descending", "ascending"),
    months: tuple[int, int] = (1, 12),
) -> Sentinel1Archive:
    """Generate (or reuse) a Sentinel-1 RTC archive under `path` (joining its catalog): the
    demo's world of `seed` on `size` × `size` 10 m pixels, the passes of `orbits` from
    `start` to `end` in `months` (first, last) of each year (a season: fewer files for
    tests), speckle of `looks` equivalent looks."""
    d0, d1 = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    if size < 16 or size % 2:
        raise ValueError(f"size must be an even number >= 16, got {size}")
    if not looks > 0:
        raise ValueError(f"looks must be positive, got {looks}")
    bad = [o for o in orbits if o not in ("ascending", "descending")]
    if bad or not orbits:
        raise ValueError(f"orbits must be ascending and/or descending, got {orbits}")
    params = {
        "format": _FORMAT, "seed": int(seed), "start": d0.isoformat(), "end": d1.isoformat(),
        "size": int(size), "looks": float(looks), "orbits": sorted(orbits),
        "months": [int(m) for m in months],
    }  # fmt: skip
    passes = _schedule(d0, d1, tuple(orbits), (int(months[0]), int(months[1])))
    if not passes:
        raise ValueError(f"no pass between {start} and {end}")
    root = Path(path).absolute()
    model = build_model(int(seed), int(size))
    counts = {o: sum(p[1] == o for p in passes) for o in orbits}
    archive = Sentinel1Archive(
        path=root, catalog=root / "catalog.json", collection=_COLLECTION, bbox=model.bbox,
        start=d0.isoformat(), end=d1.isoformat(), n_items=counts, seed=int(seed),
        looks=float(looks), landcover=root / "landcover.tif", drought_bbox=model.drought_bbox,
        params=params,
    )  # fmt: skip
    manifest = root / f"{_COLLECTION}-archive.json"
    if reusable(root, manifest, params, _COLLECTION):
        return archive
    crs = f"EPSG:{model.site.epsg}"
    write_cog(archive.landcover, model.landcover, model.transform, crs=crs, nodata=0)
    items = []
    for k, (when, state, rel) in enumerate(passes):
        item = _item(model, when, state, rel, float(looks))
        folder = root / _COLLECTION / item.id / "measurement"
        folder.mkdir(parents=True, exist_ok=True)
        local = when + timedelta(hours=model.site.centre[0] / 15)
        rng = np.random.default_rng([int(seed), 11, when.toordinal(), rel])
        clean = backscatter(model, local, orbit=state)
        edge = state == "ascending" and k % 5 == 0  # the swath ends inside the tile
        for key, gamma0 in zip(_POL, clean, strict=True):
            arr = _speckle(rng, gamma0, float(looks))
            if edge:
                arr[:, -size // 6 :] = NODATA
            write_cog(
                folder / f"iw-{key}.rtc.tiff", arr, model.transform, crs=crs, nodata=NODATA,
                resampling="average",
            )  # fmt: skip
        items.append(item)
    coll = pystac.Collection(
        _COLLECTION,
        "Synthetic Sentinel-1 RTC gamma naught (linear power) over the demo's world "
        "(vegcube test archive).",
        pystac.Extent(
            pystac.SpatialExtent([list(map(float, items[0].bbox or []))]),
            pystac.TemporalExtent([[passes[0][0], None]]),
        ),
        title="Sentinel 1 Radiometrically Terrain Corrected (RTC) (vegcube test archive)",
        license="CC-BY-4.0",
    )
    coll.add_items(items)
    join_catalog(root, coll, title="vegcube test archive: synthetic Sentinel-1 RTC.")
    manifest.write_text(
        json.dumps(
            {"generator": "vegcube.testing.sentinel1", "params": params, "items": len(items)}
        )
    )
    return archive
