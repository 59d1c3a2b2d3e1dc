"""A deterministic VIIRS VJ113A1 v002 archive: HDF-EOS5 granules and CMR-STAC items, served.

The demo world (`testing.world`, 10 m) is aggregated (red, NIR, blue area means) into 500 m
pixels of the sinusoidal tile holding its centre (h33v11, Bourail). Each 16-day period is one
granule ``VJ113A1.A<YYYYDDD>.h33v11.002.<production>.h5`` in the real layout
(``tests/data/items/EVIDENCE-viirs.md``): ``HDFEOS/GRIDS/VIIRS_Grid_16Day_VI_500m/Data Fields``
with full 2400 × 2400 datasets ``500 m 16 days NDVI`` (int16, ``_FillValue`` [−15000, −13000]),
``… EVI``, ``… VI Quality`` (uint16, fill 65535), ``… pixel reliability`` (int8, fills −1/−4),
``… composite day of the year``, ``… red reflectance``, ``… NIR reflectance`` (int16, fill
−1000); ``HDFEOS INFORMATION/StructMetadata.0`` with the grid's corners; tile numbers and
times as file attributes. Outside the modelled land the VIs hold −13000 (land fill) near the
site and −15000 (water fill) elsewhere. Items follow cmr-stac's ``granuleToStac``: one data
asset keyed by the production token of the granule name, an ``s3_`` twin, the CMR XML
``metadata`` asset, no ``proj:``/``raster:`` fields. ``ndvi_gain``/``ndvi_offset`` give VIIRS
a known NDVI relation to the ground MODIS sees (sensor continuity); 1 and 0 by default.

With ``lst=True`` VJ121A2 8-day 1 km LST granules are written too (`testing.viirs_lst`).
`serve_viirs` (`testing.viirs_cmr`) serves the granules from a folder that answers 401 without
``Authorization: Bearer <token>`` (as Earthdata does) and the items from a STAC API
(``rustac``) on 127.0.0.1.
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

from ..download.hdf5 import TILE_M, tile_grid
from ..sensors.modis import SINUSOIDAL_PROJ4, tile_of
from .modis import vi_quality_value
from .viirs_cmr import ServedViirs, cmr_items, serve_viirs
from .viirs_lst import ViirsLst, write_lst_granules
from .world import CENTRE, EPSG, Model, build_model, smooth

__all__ = [
    "PLATFORMS",
    "ServedViirs",
    "ViirsArchive",
    "binning",
    "cmr_items",
    "file_attrs",
    "generate_viirs_archive",
    "serve_viirs",
    "write_granule",
]

_GRID = "VIIRS_Grid_16Day_VI_500m"
_N = 2400
_PIXEL = TILE_M / _N
PLATFORMS = {
    **{f"{p}13A1": n for p, n in (("VJ1", "NOAA-20"), ("VJ2", "NOAA-21"), ("VNP", "Suomi NPP"))},
    **{f"{p}21A2": n for p, n in (("VJ1", "NOAA-20"), ("VNP", "Suomi NPP"))},
}


@dataclass(frozen=True, kw_only=True)
class ViirsArchive:
    """A generated archive and the facts tests need about it."""

    path: Path
    granules: Path  #: folder of the ``.h5`` files (served behind the token)
    catalog: Path  #: a static catalog holding the collection only (the items are `cmr_items`)
    collection: str
    tile: tuple[int, int]
    window: tuple[int, int, int]  #: (row, col, size) of the modelled pixels in the tile
    bbox: tuple[float, float, float, float]  #: the modelled land (lon/lat)
    ids: tuple[str, ...]
    starts: tuple[date, ...]
    lst: ViirsLst | None = None  #: the LST granules (VJ121A2), when generated
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def h5(self, granule_id: str) -> Path:
        """The file of a granule."""
        return self.granules / f"{granule_id}.h5"

    def granule_sets(self) -> list[tuple[str, tuple[str, ...], tuple[date, ...], int]]:
        """(collection, granule ids, period starts, days per period) of each product."""
        out = [(self.collection, self.ids, self.starts, 16)]
        if self.lst is not None:
            out.append((self.lst.collection, self.lst.ids, self.lst.starts, 8))
        return out


def _periods(start: date, end: date) -> list[date]:
    out = []
    for year in range(start.year, end.year + 1):
        for k in range(23):
            d = date(year, 1, 1) + timedelta(days=16 * k)
            if d.year == year and d <= end and d + timedelta(days=15) >= start:
                out.append(d)
    return out


def binning(
    model: Model, r0: int, c0: int, size: int, tile: tuple[int, int], pixels: int = _N
) -> np.ndarray:
    """Flat index in the `size`² window at (`r0`, `c0`) of a tile of `pixels`² cells of each
    10 m model pixel (-1: outside the window)."""
    n = model.size
    cols, rows = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5)
    x, y = model.transform * (cols, rows)
    sx, sy = Transformer.from_crs(EPSG, SINUSOIDAL_PROJ4, always_xy=True).transform(x, y)
    tr = tile_grid(*tile, pixels)
    c, r = ~tr * (sx, sy)
    c, r = np.floor(c).astype(int) - c0, np.floor(r).astype(int) - r0
    inside = (c >= 0) & (c < size) & (r >= 0) & (r < size)
    return np.where(inside, r * size + c, -1).ravel()


def _layers(
    model: Model, when: date, idx: np.ndarray, size: int, gain: float = 1.0, offset: float = 0.0
) -> dict[str, np.ndarray]:
    """The window's values of one period (fill where the model covers < 80 % of a pixel),
    red and NIR altered (their sum kept) so that NDVI = `gain` × the model's + `offset`."""
    rng = np.random.default_rng([model.seed, 113, when.toordinal()])
    mid = datetime(when.year, when.month, when.day, 13, tzinfo=timezone.utc) + timedelta(days=8)
    r10, _, _ = model.surface(mid)
    ok = idx >= 0
    count = np.bincount(idx[ok], minlength=size * size)
    cover = count / (_PIXEL / 10.0) ** 2

    def mean(a: np.ndarray) -> np.ndarray:
        s = np.bincount(idx[ok], weights=a.ravel()[ok], minlength=size * size)
        return (s / np.maximum(count, 1)).reshape(size, size)

    blue, red, nir = mean(r10[0]), mean(r10[2]), mean(r10[3])
    if (gain, offset) != (1.0, 0.0):  # the sensor's NDVI relation to the ground's
        total = red + nir
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.clip(gain * (nir - red) / total + offset, -1, 1)
        rel = np.where(total > 0, rel, 0.0)
        red, nir = total * (1 - rel) / 2, total * (1 + rel) / 2
    red = red + rng.normal(0, 0.003, red.shape)
    nir = nir + rng.normal(0, 0.003, nir.shape)
    fill = cover.reshape(size, size) < 0.8
    f = smooth(rng, (size, size), size / 6)
    cloudy = (f > np.quantile(f, 1 - rng.uniform(0.05, 0.15))) & ~fill
    red, nir = np.where(cloudy, 0.3, red), np.where(cloudy, 0.32, nir)
    ndvi = (nir - red) / (nir + red)
    evi = 2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)

    def dn(a: np.ndarray, nodata: int) -> np.ndarray:
        return np.where(fill, nodata, np.clip(np.rint(a * 10000), -2000, 10000)).astype(np.int16)

    qa = np.full((size, size), vi_quality_value(), np.uint16)
    qa[cloudy] = vi_quality_value(modland=2, usefulness=12, mixed_clouds=True)
    qa[fill] = 65535
    rel = np.where(cloudy, 9, 0).astype(np.int8)
    rel[fill] = -1
    doy = (when.timetuple().tm_yday + rng.integers(0, 16, (size, size))).astype(np.int16)
    doy[fill] = -1
    return {
        "NDVI": dn(ndvi, -13000),
        "EVI": dn(evi, -13000),
        "VI Quality": qa,
        "pixel reliability": rel,
        "composite day of the year": doy,
        "red reflectance": dn(red, -1000),
        "NIR reflectance": dn(nir, -1000),
    }


#: dataset suffix → (dtype, fill outside the window, _FillValue attribute)
_SPEC: dict[str, tuple[str, int, list[int]]] = {
    "NDVI": ("int16", -15000, [-15000, -13000]),
    "EVI": ("int16", -15000, [-15000, -13000]),
    "VI Quality": ("uint16", 65535, [65535]),
    "pixel reliability": ("int8", -4, [-1, -4]),
    "composite day of the year": ("int16", -1, [-1]),
    "red reflectance": ("int16", -1000, [-1000]),
    "NIR reflectance": ("int16", -1000, [-1000]),
}


def _struct_metadata(h: int, v: int, grid: str, n: int) -> str:
    tr = tile_grid(h, v, n)
    lrx, lry = tr.c + n * tr.a, tr.f + n * tr.e
    return (
        "GROUP=SwathStructure\nEND_GROUP=SwathStructure\nGROUP=GridStructure\n"
        "\tGROUP=GRID_1\n"
        f'\t\tGridName="{grid}"\n\t\tXDim={n}\n\t\tYDim={n}\n'
        f"\t\tUpperLeftPointMtrs=({tr.c:.6f},{tr.f:.6f})\n"
        f"\t\tLowerRightMtrs=({lrx:.6f},{lry:.6f})\n"
        "\t\tProjection=HE5_GCTP_SNSOID\n"
        "\tEND_GROUP=GRID_1\nEND_GROUP=GridStructure\nEND\n"
    )


def write_granule(
    path: Path,
    *,
    grid: str,
    pixels: int,
    datasets: dict[str, tuple[np.ndarray, dict[str, Any]]],
    attrs: dict[str, Any],
) -> None:
    """Write an HDF-EOS5 grid granule: full `pixels`² `datasets` (name → (values, dataset
    attributes)) under ``HDFEOS/GRIDS/<grid>/Data Fields``, its ``StructMetadata.0`` and the
    file attributes `attrs` (tile numbers included), atomically."""
    import h5py  # the test extra: writes the real layout (multi-valued _FillValue, no dims)

    tmp = path.with_name(path.name + ".part")
    with h5py.File(tmp, "w") as f:
        fields = f.create_group(f"HDFEOS/GRIDS/{grid}/Data Fields")
        for name, (values, ds_attrs) in datasets.items():
            ds = fields.create_dataset(
                name, data=values, chunks=(pixels // 10, pixels // 10), compression="gzip"
            )
            for key, value in ds_attrs.items():
                ds.attrs[key] = value
        info = f.create_group("HDFEOS INFORMATION")
        h, v = attrs["HorizontalTileNumber"], attrs["VerticalTileNumber"]
        meta = _struct_metadata(h, v, grid, pixels)
        info.create_dataset("StructMetadata.0", data=np.bytes_(meta))
        for key, value in attrs.items():
            f.attrs[key] = np.int32(value) if isinstance(value, int) else np.bytes_(str(value))
    os.replace(tmp, path)


def file_attrs(product: str, tile: tuple[int, int], start: date, days: int, made: datetime
               ) -> dict[str, Any]:  # fmt: skip
    """The file attributes of a granule (tile numbers, times)."""
    t1 = datetime.combine(start + timedelta(days=days - 1), datetime.max.time(), timezone.utc)
    return {
        "HorizontalTileNumber": tile[0],
        "VerticalTileNumber": tile[1],
        "TileID": f"51{tile[0]:03d}{tile[1]:03d}",
        "StartTime": f"{start:%Y-%m-%d} 00:00:00.000000",
        "EndTime": f"{t1:%Y-%m-%d %H:%M:%S}.999999",
        "ProductionTime": f"{made:%Y-%m-%d} 04:15:23.000",
        "ShortName": product,
        "SatelliteInstrument": PLATFORMS[product],
    }


def _vi_datasets(values: dict[str, np.ndarray], window: tuple[int, int, int]
                 ) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:  # fmt: skip
    r0, c0, size = window
    out = {}
    for name, (dtype, outside, fills) in _SPEC.items():
        full = np.full((_N, _N), outside, dtype)
        full[r0 : r0 + size, c0 : c0 + size] = values[name]
        attrs = {"_FillValue": np.array(fills, dtype),
                 "long_name": np.bytes_(f"500 m 16 days {name}")}  # fmt: skip
        out[f"500 m 16 days {name}"] = (full, attrs)
    return out


def generate_viirs_archive(
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
    start: str = "2022-01-01",
    end: str = "2022-02-28",
    product: str = "VJ113A1",
    size: int = 12,
    model_size: int = 360,
    lst: bool = False,
    ndvi_gain: float = 1.0,
    ndvi_offset: float = 0.0,
) -> ViirsArchive:
    """Generate (or reuse) VIIRS granules under `path`: `size` × `size` modelled 500 m pixels
    around the demo's centre in full 2400 × 2400 tiles, one granule per 16-day period; with
    `lst`, also VJ121A2 8-day 1 km LST granules (`testing.viirs_lst`). Red and NIR are altered
    (their sum kept) so that ``NDVI_viirs = ndvi_gain × NDVI_ground + ndvi_offset``: a known
    relation to MODIS (`testing.modis` renders the ground's) for sensor continuity."""
    d0, d1 = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    starts = _periods(d0, d1)
    if not starts or size < 4 or product not in PLATFORMS:
        raise ValueError(f"no 16-day period in {start}..{end}, size < 4 or unknown {product}")
    gain, offset = float(ndvi_gain), float(ndvi_offset)
    root = Path(path).absolute()
    granules = root / "granules"
    granules.mkdir(parents=True, exist_ok=True)
    # granules of other parameters (the file names do not tell them apart) are rewritten
    made_with = {"seed": int(seed), "size": int(size), "model_size": int(model_size),
                 "ndvi_gain": gain, "ndvi_offset": offset}  # fmt: skip
    manifest = granules / f"{product}-params.json"
    try:
        reuse = json.loads(manifest.read_text()) == made_with
    except (OSError, ValueError):
        reuse = not manifest.exists() and (gain, offset) == (1.0, 0.0)
    manifest.unlink(missing_ok=True)
    tile = tile_of(*CENTRE)
    to_sin = Transformer.from_crs(4326, SINUSOIDAL_PROJ4, always_xy=True)
    xc, yc = to_sin.transform(*CENTRE)
    tr = tile_grid(*tile, _N)
    col, row = ~tr * (xc, yc)
    window = (math.floor(row) - size // 2, math.floor(col) - size // 2, size)
    model = build_model(int(seed), int(model_size))
    idx = binning(model, window[0], window[1], size, tile)
    ids = []
    for s in starts:
        made = datetime.combine(s + timedelta(days=19), datetime.min.time(), timezone.utc)
        gid = f"{product}.A{s:%Y%j}.h{tile[0]:02d}v{tile[1]:02d}.002.{made:%Y%j}041523"
        ids.append(gid)
        file = granules / f"{gid}.h5"
        if reuse and file.is_file():
            continue
        write_granule(
            file,
            grid=_GRID,
            pixels=_N,
            datasets=_vi_datasets(_layers(model, s, idx, size, gain, offset), window),
            attrs=file_attrs(product, tile, s, 16, made),
        )
    manifest.write_text(json.dumps(made_with))
    collection = f"{product}_002"
    lst_part = None
    if lst:
        lst_part = write_lst_granules(granules, model, tile=tile, start=d0, end=d1)
    colls = {collection: starts[0]} | (
        {lst_part.collection: lst_part.starts[0]} if lst_part else {}
    )
    catalog = _collection_catalog(root / "cmr", colls)
    return ViirsArchive(
        path=root,
        granules=granules,
        catalog=catalog,
        collection=collection,
        tile=tile,
        window=window,
        bbox=model.bbox,
        ids=tuple(ids),
        starts=tuple(starts),
        lst=lst_part,
        params={"seed": seed, "start": start, "end": end, "size": size} | made_with,
    )


def _collection_catalog(folder: Path, collections: dict[str, date]) -> Path:
    """A static catalog of the (empty) collections, each from its first period start."""
    cat = pystac.Catalog("vegcube-viirs-cmr", "vegcube test: a CMR-STAC provider (LPCLOUD)")
    for coll_id, first in collections.items():
        t0 = datetime.combine(first, datetime.min.time(), timezone.utc)
        coll = pystac.Collection(
            coll_id,
            f"Synthetic {coll_id} (vegcube test): VIIRS L3 Global SIN Grid V002, HDF-EOS5 granules",
            pystac.Extent(
                pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
                pystac.TemporalExtent([[t0, None]]),
            ),
            license="proprietary",
        )
        cat.add_child(coll)
    cat.normalize_hrefs(str(folder))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return folder / "catalog.json"
