"""A SMAP test archive: L4 ``SPL4SMGP`` and L3 ``SPL3SMP_E`` HDF5 granules over the demo's site.

Granules have the products' layout (``tests/data/items/EVIDENCE-smap.md``): global 1624 × 3856
float32 datasets of the EASE-Grid 2.0 global 9 km grid (chunked, so only the modelled window
is stored), fill −9999 with a ``_FillValue`` attribute, ``units`` ``m3 m-3``; L4 under
``Geophysical_Data/`` (``sm_surface``, ``sm_rootzone``, ``sm_profile``, ``sm_rootzone_pctl``)
plus root ``cell_lat``/``cell_lon``; L3 under ``Soil_Moisture_Retrieval_Data_AM/``
(``soil_moisture``, ``retrieval_qual_flag``) and ``…_PM/`` (``soil_moisture_pm``,
``retrieval_qual_flag_pm``; uint16, fill 65534). Names: ``SMAP_L4_SM_gph_<YYYYMMDDThhmmss>_
Vv8011_001.h5`` (the 3-hour window's centre) and ``SMAP_L3_SM_P_E_<YYYYMMDD>_R19240_001.h5``.

The modelled `size` × `size` cells around the site's cell have a seasonal cycle (wettest
mid-February), a per-cell level, year-to-year and daily noise, a small diurnal cycle, some
ocean cells always fill, rare missing cells in single L4 granules, L3 swath gaps and quality
flags (bits 0 and 2), and a dry spell in the `dry` cells at the world's drought time
(`world.DROUGHT`, 2023-02..04). Deterministic from `seed`. `serve_smap` serves the granules
behind a bearer token and CMR-STAC-shaped items from a STAC API on 127.0.0.1.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pystac
from pyproj import Transformer

from ..sensors.smap import EASE2_CELL, EASE2_M09, EASE2_SHAPE
from .viirs_cmr import ServedViirs
from .world import CENTRE, drought_weight

__all__ = ["L3", "L4", "SmapArchive", "cmr_items", "generate_smap_archive", "serve_smap"]

L4, L3 = "SPL4SMGP_008", "SPL3SMP_E_006"
_NSIDC = "https://data.nsidc.earthdatacloud.nasa.gov/nsidc-cumulus-prod-protected/SMAP"
_CMR = "https://cmr.earthdata.nasa.gov"
_OCEAN = ((-4, -4), (-4, -3), (-3, -4))  # cells from the centre always fill (sea): in the AOI


@dataclass(frozen=True)
class SmapArchive:
    """Generated SMAP granules and what the tests need to know of them."""

    path: Path
    granules: Path
    catalog: Path  #: static catalog of the (empty) collections, for the STAC API
    collection: str
    window: tuple[int, int, int]  #: (row, col, size) of the modelled cells on the global grid
    site: tuple[int, int]  #: (row, col) of the site's cell
    bbox: tuple[float, float, float, float]  #: lon/lat AOI: inside the central `aoi` cells
    ids: tuple[str, ...]
    times: tuple[datetime, ...]  #: each granule's start
    dry: np.ndarray  #: (size, size) True where the dry spell is
    ocean: np.ndarray  #: (size, size) True where every granule is fill

    def h5(self, granule_id: str) -> Path:
        """The local file of a granule."""
        return self.granules / granule_id


def _site_cell() -> tuple[int, int]:
    x, y = Transformer.from_crs(4326, 6933, always_xy=True).transform(*CENTRE)
    col, row = ~EASE2_M09 * (x, y)
    return math.floor(row), math.floor(col)


def _days(start: date, end: date, months: Sequence[int] | None, step: int) -> list[date]:
    out, d = [], start
    while d <= end:
        if months is None or d.month in months:
            out.append(d)
        d += timedelta(days=step)
    return out


def _fields(rng: np.random.Generator, size: int, years: Sequence[int]) -> dict[str, Any]:
    """The per-cell level, per-year offsets and the dry-spell cells."""
    yy, xx = np.mgrid[0:size, 0:size]
    level = 0.24 + 0.04 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + rng.normal(0, 0.01, (size, size))
    year = {y: rng.normal(0, 0.008, (size, size)) for y in years}
    c = size // 2
    dry = np.zeros((size, size), bool)
    dry[c - 2 : c + 1, c - 2 : c + 1] = True  # a 3 × 3 block inside the AOI
    ocean = np.zeros((size, size), bool)
    for r, k in _OCEAN:
        ocean[c + r, c + k] = True
    return {"level": level, "year": year, "dry": dry, "ocean": ocean}


def _rootzone(f: dict[str, Any], when: datetime, noise: np.ndarray) -> np.ndarray:
    doy = when.timetuple().tm_yday + when.hour / 24
    season = 0.07 * np.cos(2 * np.pi * (doy - 45) / 365.25)
    diurnal = 0.002 * np.sin(2 * np.pi * when.hour / 24)
    dryness = 0.12 * drought_weight(when.date()) * f["dry"]
    sm = f["level"] + f["year"][when.year] + season + diurnal + noise - dryness
    return np.clip(sm, 0.02, 0.6).astype(np.float32)


def _write(path: Path, datasets: dict[str, tuple[np.ndarray, float | int, dict[str, Any]]],
           window: tuple[int, int, int]) -> None:  # fmt: skip
    """Global datasets (path → (window values, fill, attributes)), only the window stored."""
    import h5py  # the test extra

    r0, c0, size = window
    tmp = path.with_name(path.name + ".part")
    with h5py.File(tmp, "w") as f:
        for name, (values, fill, attrs) in datasets.items():
            ds = f.create_dataset(name, shape=EASE2_SHAPE, dtype=values.dtype, chunks=(32, 32),
                                  compression="gzip", fillvalue=fill)  # fmt: skip
            ds[r0 : r0 + size, c0 : c0 + size] = values
            ds.attrs["_FillValue"] = np.array(fill, values.dtype)
            for k, v in attrs.items():
                ds.attrs[k] = np.bytes_(v) if isinstance(v, str) else v
    os.replace(tmp, path)


def _sm_attrs(long: str, units: str = "m3 m-3") -> dict[str, Any]:
    return {"long_name": long, "units": units}


def generate_smap_archive(
    path: str | os.PathLike[str],
    *,
    product: str = L4,
    seed: int = 7,
    start: str = "2023-01-01",
    end: str = "2023-01-31",
    months: Sequence[int] | None = None,
    step: int = 1,
    per_day: int | None = None,
    size: int = 24,
    aoi: int = 8,
) -> SmapArchive:
    """Write granules of `product` (`L4` or `L3`) for the days `start`..`end` (every `step`
    days, only `months` if given; L4: `per_day` of its 8 three-hourly granules, default all)
    over `size` × `size` cells around the site's cell; the AOI is the central `aoi` cells."""
    if product not in (L4, L3):
        raise ValueError(f"product: {product!r} is not {L4} or {L3}")
    d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    days = _days(d0, d1, months, step)
    hours = [1 + 3 * k for k in range(8)][: per_day or 8] if product == L4 else [0]
    rng = np.random.default_rng(seed)
    f = _fields(rng, size, range(d0.year, d1.year + 1))
    row, col = _site_cell()
    window = (row - size // 2, col - size // 2, size)
    r0, c0, _ = window
    yy, xx = np.mgrid[r0 : r0 + size, c0 : c0 + size]
    x, y = EASE2_M09 * (xx + 0.5, yy + 0.5)
    lon, lat = Transformer.from_crs(6933, 4326, always_xy=True).transform(x, y)
    root = Path(path).absolute()
    granules = root / "granules"
    granules.mkdir(parents=True, exist_ok=True)
    ids, times = [], []
    for day in days:
        daily = rng.normal(0, 0.01, (size, size))
        for h in hours:
            when = datetime(day.year, day.month, day.day, h, 30, tzinfo=timezone.utc)
            sm = _rootzone(f, when, daily + rng.normal(0, 0.002, (size, size)))
            if product == L4:
                gid = f"SMAP_L4_SM_gph_{when:%Y%m%dT%H%M%S}_Vv8011_001.h5"
                datasets = _l4(f, sm, rng, lon, lat)
                times.append(when - timedelta(minutes=90))
            else:
                gid = f"SMAP_L3_SM_P_E_{day:%Y%m%d}_R19240_001.h5"
                datasets = _l3(f, sm, rng)
                times.append(datetime(day.year, day.month, day.day, tzinfo=timezone.utc))
            _write(granules / gid, datasets, window)
            ids.append(gid)
    centre = size // 2
    a0, a1 = centre - aoi // 2, centre + aoi // 2
    pad = 0.15 * EASE2_CELL
    (west, north), (east, south) = (
        EASE2_M09 * (c0 + a0, r0 + a0),
        EASE2_M09 * (c0 + a1, r0 + a1),
    )
    to_ll = Transformer.from_crs(6933, 4326, always_xy=True)
    w, n = to_ll.transform(west + pad, north - pad)
    e, s = to_ll.transform(east - pad, south + pad)
    return SmapArchive(
        path=root,
        granules=granules,
        catalog=_catalog(root / "cmr", product, d0),
        collection=product,
        window=window,
        site=(row, col),
        bbox=(float(w), float(s), float(e), float(n)),
        ids=tuple(ids),
        times=tuple(times),
        dry=f["dry"],
        ocean=f["ocean"],
    )


def _l4(f: dict[str, Any], sm: np.ndarray, rng: np.random.Generator, lon: Any, lat: Any
        ) -> dict[str, tuple[np.ndarray, float | int, dict[str, Any]]]:  # fmt: skip
    surface = np.clip(sm + rng.normal(0.02, 0.02, sm.shape), 0.02, 0.6).astype(np.float32)
    profile = np.clip(sm * 0.95 + 0.01, 0.02, 0.6).astype(np.float32)
    pctl = np.clip(50 + 400 * (sm - f["level"]), 0, 100).astype(np.float32)  # not a climatology
    missing = f["ocean"] | (rng.random(sm.shape) < 0.01)  # sea, and a rare missing cell
    out: dict[str, tuple[np.ndarray, float | int, dict[str, Any]]] = {}
    for name, v, a in (
        ("sm_surface", surface, _sm_attrs("Top layer soil moisture (0-5 cm)")),
        ("sm_rootzone", sm, _sm_attrs("Root zone soil moisture (0-100 cm)")),
        ("sm_profile", profile, _sm_attrs("Total profile soil moisture")),
        ("sm_rootzone_pctl", pctl, _sm_attrs("Root zone soil moisture percentile", "percent")),
    ):
        out[f"Geophysical_Data/{name}"] = (np.where(missing, -9999, v).astype(np.float32),
                                           -9999.0, a)  # fmt: skip
    out["cell_lat"] = (np.asarray(lat, np.float32), -9999.0, {"units": "degrees_north"})
    out["cell_lon"] = (np.asarray(lon, np.float32), -9999.0, {"units": "degrees_east"})
    return out


def _l3(f: dict[str, Any], sm: np.ndarray, rng: np.random.Generator
        ) -> dict[str, tuple[np.ndarray, float | int, dict[str, Any]]]:  # fmt: skip
    out: dict[str, tuple[np.ndarray, float | int, dict[str, Any]]] = {}
    for half, group, suffix in (("AM", "Soil_Moisture_Retrieval_Data_AM", ""),
                                ("PM", "Soil_Moisture_Retrieval_Data_PM", "_pm")):  # fmt: skip
        value = np.clip(sm + rng.normal(0.01, 0.03, sm.shape), 0.02, 0.6).astype(np.float32)
        gap = f["ocean"] | (rng.random(sm.shape) < 0.3)  # swath gaps
        flag = np.zeros(sm.shape, np.uint16)
        u = rng.random(sm.shape)
        flag[u < 0.15] |= 1  # not recommended (dense vegetation, …)
        flag[u > 0.92] |= 8  # bit 3 (not used by vegcube)
        failed = u > 0.96
        flag[failed] |= 0b101  # retrieval failed (and so not recommended): no value
        value[gap | failed] = -9999
        flag[gap] = 65534
        out[f"{group}/soil_moisture{suffix}"] = (value, -9999.0, _sm_attrs(f"Soil moisture {half}"))
        out[f"{group}/retrieval_qual_flag{suffix}"] = (flag, 65534, {"long_name": "bit flags"})
    return out


def _catalog(folder: Path, collection: str, first: date) -> Path:
    cat = pystac.Catalog("vegcube-smap-cmr", "vegcube test: a CMR-STAC provider (NSIDC_CPRD)")
    t0 = datetime.combine(first, datetime.min.time(), timezone.utc)
    cat.add_child(pystac.Collection(
        collection, f"Synthetic {collection} (vegcube test): SMAP EASE-Grid 2.0 9 km granules",
        pystac.Extent(pystac.SpatialExtent([[-180.0, -85.044, 180.0, 85.044]]),
                      pystac.TemporalExtent([[t0, None]])),
        license="proprietary",
    ))  # fmt: skip
    cat.normalize_hrefs(str(folder))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return folder / "catalog.json"


def cmr_items(archive: SmapArchive, base_url: str) -> list[pystac.Item]:
    """The granules as cmr-stac's ``granuleToStac`` shapes them (global footprint, no
    ``proj:``/``raster:``; asset keys by ``extractAssetMapKey`` of the NSIDC URL)."""
    short, version = archive.collection.rsplit("_", 1)
    hours = 3 if archive.collection == L4 else 24
    ring = [[-180.0, -85.044], [180.0, -85.044], [180.0, 85.044], [-180.0, 85.044],
            [-180.0, -85.044]]  # fmt: skip
    items = []
    for k, (gid, t0) in enumerate(zip(archive.ids, archive.times, strict=True)):
        t1 = t0 + timedelta(hours=hours) - timedelta(milliseconds=1)
        nsidc = f"{_NSIDC}/{short}/{version}/{t0:%Y/%m/%d}/{gid}"
        key = nsidc.split(".")[-2]  # cmr-stac's extractAssetMapKey
        concept = f"G{4300000000 + k}-NSIDC_CPRD"
        iso = "%Y-%m-%dT%H:%M:%S.%f"
        doc = {
            "type": "Feature", "id": gid, "stac_version": "1.0.0", "stac_extensions": [],
            "collection": archive.collection,
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "bbox": [-180.0, -85.044, 180.0, 85.044],
            "properties": {"datetime": f"{t0:{iso}}"[:-3] + "Z",
                           "start_datetime": f"{t0:{iso}}"[:-3] + "Z",
                           "end_datetime": f"{t1:{iso}}"[:-3] + "Z"},
            "assets": {
                key: {"href": f"{base_url.rstrip('/')}/{gid}", "title": "Direct Download",
                      "roles": ["data"]},
                f"s3_{key}": {"href": "s3://" + nsidc.split("/", 3)[3],
                              "title": "S3 Direct Download", "roles": ["data"]},
                "metadata": {"href": f"{_CMR}/search/concepts/{concept}.xml",
                             "type": "application/xml", "roles": ["metadata"]},
            },
            "links": [{"rel": "via", "href": f"{_CMR}/search/concepts/{concept}.json",
                       "type": "application/json"}],
        }  # fmt: skip
        items.append(pystac.Item.from_dict(doc))
    return items


@contextmanager
def serve_smap(archive: SmapArchive, *, token: str = "edl-test-token") -> Iterator[ServedViirs]:
    """Serve `archive`: granules behind a bearer token (401 without it), CMR-STAC-shaped
    items from a STAC API on 127.0.0.1, for the duration of the block."""
    from .faults import Faults, serve_faulty
    from .stac_api import serve_stac_api

    with serve_faulty(archive.granules, faults=Faults(require_token=token)) as files:
        items = cmr_items(archive, files.url)
        with serve_stac_api(archive.catalog, items=items) as api:
            yield ServedViirs(url=api.url, files=files, token=token)
