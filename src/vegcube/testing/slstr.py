"""A deterministic Sentinel-3 SLSTR SL_2_LST archive over the demo's land (static STAC, swaths).

Each frame is a SAFE folder (``….SEN3``) holding the NetCDF files the swath reader opens, with
the real variable names, dimensions (``rows`` × ``columns``), types, packing and flag
attributes: ``LST_in.nc`` (``LST``, ``LST_uncertainty``, ``exception``), ``geodetic_in.nc``
(``latitude_in``, ``longitude_in``, ``elevation_in``), ``flags_in.nc`` (``confidence_in``,
``cloud_in``, ``bayes_in``) and a short ``xfdumanifest.xml``. Items follow Planetary Computer's
``sentinel-3-slstr-lst-l2-netcdf`` shape (stactools-sentinel3): ``lst-in``,
``slstr-geodetic-in``, ``slstr-flags-in``, ``safe-manifest`` assets (the other eight NetCDF
files of a real product are not written), ``s3:*``/``sat:*`` properties, the frame's outline.

The swath is not a map grid: rows run along a track turned ~12° from north, pixels widen and
the rows bow towards the swath's edges, and each frame is shifted by a random fraction of a
pixel. The demo's tile is only ~1 km wide, so the pixels are `spacing_m` (80 m by default)
instead of SLSTR's 1 km: the tile then holds a few hundred of them. Temperature follows the
vegetation (303 K − 8 K × cover, as in `testing.landsat`, + `lst_offset`, 0 by default):
hotter where the drought thinned it; morning overpasses (~10:00 local), Sentinel-3A and 3B
alternating; clouds (cold, 268 K) carry ``summary_cloud`` and their ``cloud_in`` tests; the
first column is ``unfilled`` (fill), and a few pixels are fill, ``cosmetic`` or raise an LST
``exception``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pystac
from pyproj import Transformer
from scipy import ndimage

from ..sensors.slstr import CLOUD_BITS, CONFIDENCE_BITS
from .world import Model, build_model, smooth
from .writing import iso, join_catalog, reusable

__all__ = ["SlstrArchive", "generate_slstr_archive", "product_item", "swath", "write_product"]

_FORMAT = 1
_COLLECTION = "sentinel-3-slstr-lst-l2-netcdf"
_NC = "application/x-netcdf"
#: LST packing (int16): the values Planetary Computer's files decode to are multiples of 0.002 K
LST_SCALE, LST_OFFSET, INT16_FILL = 0.002, 290.0, -32768
_DEG = 1e-6  # latitude_in / longitude_in: int32 micro-degrees
_BIT = {name: 1 << n for n, name in CONFIDENCE_BITS.items()}
_CLOUD_TESTS = (1 << 6) | (1 << 7)  # 11_spatial_coherence, gross_cloud
_EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
]


@dataclass(frozen=True, kw_only=True)
class SlstrArchive:
    """A generated SLSTR archive and the facts tests need about it."""

    path: Path
    catalog: Path
    bbox: tuple[float, float, float, float]
    start: str
    end: str
    n_items: int
    seed: int
    spacing_m: float
    collection: str = _COLLECTION
    params: dict[str, Any] = field(default_factory=dict, compare=False)


def swath(
    centre: tuple[float, float],
    *,
    epsg: int,
    rows: int,
    columns: int,
    spacing: float,
    heading_deg: float = -12.0,
    bow: float = 0.04,
    shift: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (rows, columns) of a swath frame centred near `centre` (x, y in
    `epsg`): rows along a track turned `heading_deg` from north, pixels `spacing` metres apart
    at nadir, wider and bowed (`bow`) towards the edges, shifted by `shift` pixels."""
    r = np.arange(rows) - (rows - 1) / 2 + shift[0]
    c = np.arange(columns) - (columns - 1) / 2 + shift[1]
    cc, rr = np.meshgrid(c, r)
    edge = cc / max(columns / 2, 1)
    across = cc * spacing * (1 + 0.5 * bow * edge**2)  # pixels widen off nadir
    along = -rr * spacing + bow * spacing * columns * edge**2 / 4  # rows bow
    h = math.radians(heading_deg)
    x = centre[0] + across * math.cos(h) + along * math.sin(h)
    y = centre[1] - across * math.sin(h) + along * math.cos(h)
    lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def write_product(
    folder: Path,
    *,
    lon: np.ndarray,
    lat: np.ndarray,
    lst: np.ndarray,
    confidence: np.ndarray,
    cloud: np.ndarray | None = None,
    exception: np.ndarray | None = None,
    start: datetime,
    spacing: float = 1000.0,
) -> dict[str, Path]:
    """Write an SL_2_LST SAFE folder: `lst` in K (NaN → fill), `confidence` (``confidence_in``
    words), `cloud` (``cloud_in``), `exception`; returns asset key → file."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, cols = lst.shape
    stop = start + timedelta(seconds=179)
    attrs = {
        "absolute_orbit_number": np.uint32(27224),
        "comment": " ",
        "contact": "eosupport@copernicus.esa.int",
        "creation_time": f"{start + timedelta(days=1):%Y%m%dT%H%M%SZ}",
        "institution": "LN2",
        "product_name": folder.name,
        "resolution": f"[ {spacing:g} {spacing:g} ]",
        "source": "IPF-SL-2 06.16",
        "start_offset": np.int32(78859),
        "start_time": f"{start:%Y-%m-%dT%H:%M:%S.%fZ}",
        "stop_time": f"{stop:%Y-%m-%dT%H:%M:%S.%fZ}",
        "track_offset": np.int32(998),
    }
    files = {
        "lst-in": folder / "LST_in.nc",
        "slstr-geodetic-in": folder / "geodetic_in.nc",
        "slstr-flags-in": folder / "flags_in.nc",
        "safe-manifest": folder / "xfdumanifest.xml",
    }
    zeros = np.zeros((rows, cols))
    packed_lst = {"fill": INT16_FILL, "scale": LST_SCALE, "offset": LST_OFFSET, "units": "K"}
    micro = {"fill": -(2**31), "scale": _DEG, "offset": 0.0}
    masks16 = (1 << np.arange(16)).astype("uint16")
    cloud = zeros if cloud is None else cloud
    # file → variables: (name, type, stored values, attributes)
    content: dict[str, list[tuple[str, str, Any, dict[str, Any]]]] = {
        "lst-in": [
            ("LST", "i2", _pack(lst, LST_SCALE, LST_OFFSET),
             {**packed_lst, "long_name": "Gridded land surface temperature"}),
            ("LST_uncertainty", "i2", _pack(np.where(np.isfinite(lst), 1.2, np.nan), 0.001, 0.0),
             {"fill": INT16_FILL, "scale": 0.001, "offset": 0.0, "units": "K",
              "long_name": "Gridded land surface temperature uncertainty"}),
            ("exception", "i2", zeros if exception is None else exception,
             {"long_name": "Gridded land surface temperature exception flags"}),
        ],
        "slstr-geodetic-in": [
            ("latitude_in", "i4", np.rint(lat / _DEG), {**micro, "units": "degrees_north"}),
            ("longitude_in", "i4", np.rint(lon / _DEG), {**micro, "units": "degrees_east"}),
            ("elevation_in", "i2", zeros, {"fill": INT16_FILL, "units": "m"}),
        ],
        "slstr-flags-in": [
            ("confidence_in", "u2", confidence,
             {"flag_masks": masks16, "flag_meanings": _meanings(CONFIDENCE_BITS, 16)}),
            ("cloud_in", "u2", cloud,
             {"flag_masks": masks16, "flag_meanings": _meanings(CLOUD_BITS, 16)}),
            ("bayes_in", "u1", np.where(cloud != 0, 2, 0),  # single_moderate
             {"flag_masks": (1 << np.arange(8)).astype("uint8"),
              "flag_meanings": "single_low single_moderate dual_low dual_moderate spare spare "
              "spare spare"}),
        ],
    }  # fmt: skip
    titles = {"lst-in": "Land Surface Temperature", "slstr-geodetic-in": "Geodetic coordinates",
              "slstr-flags-in": "Global flags"}  # fmt: skip
    for key, variables in content.items():
        with _dataset(files[key], rows, cols, attrs, titles[key]) as nc:
            for name, dtype, data, var_attrs in variables:
                _var(nc, name, dtype, data, **var_attrs)
    files["safe-manifest"].write_text(_MANIFEST.format(name=folder.name, rows=rows, cols=cols))
    return files


def product_item(
    item_id: str,
    files: dict[str, Path],
    *,
    lon: np.ndarray,
    lat: np.ndarray,
    when: datetime,
    platform: str,
    cloud_cover: float,
    spacing: float = 1000.0,
) -> pystac.Item:
    """A Planetary-Computer-shaped item of the SAFE folder `files` (hrefs relative to it)."""
    ring = np.concatenate(
        [
            np.column_stack([lon[0], lat[0]]),
            np.column_stack([lon[:, -1], lat[:, -1]]),
            np.column_stack([lon[-1, ::-1], lat[-1, ::-1]]),
            np.column_stack([lon[::-1, 0], lat[::-1, 0]]),
        ]
    )
    coords = [(round(float(a), 6), round(float(b), 6)) for a, b in ring]
    coords.append(coords[0])
    half = timedelta(seconds=89.5)
    props = {
        "start_datetime": iso(when - half),
        "end_datetime": iso(when + half),
        "platform": platform,
        "constellation": "Sentinel-3",
        "instruments": ["SLSTR"],
        "eo:cloud_cover": round(cloud_cover, 6),
        "s3:product_type": "SL_2_LST___",
        "s3:product_name": "slstr-lst",
        "s3:processing_timeliness": "NT",
        "s3:gsd": {"S1-S6": 500, "S7-S9 and F1-F2": 1000},
        "sat:orbit_state": "descending",
        "sat:relative_orbit": 301,
        "sat:platform_international_designator": "2016-011A"
        if platform.endswith("A")
        else "2018-039A",
    }
    item = pystac.Item(
        item_id,
        {"type": "Polygon", "coordinates": [coords]},
        [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())],
        when,
        props,
        stac_extensions=list(_EXTENSIONS),
        collection=_COLLECTION,
    )
    described = {
        "safe-manifest": ("SAFE product manifest", "application/xml", ["metadata"]),
        "lst-in": ("Land Surface Temperature (LST) values", _NC, ["data"]),
        "slstr-flags-in": ("Global flags for the 1km TIR grid, nadir view", _NC, ["data"]),
        "slstr-geodetic-in": (
            "Full resolution geodetic coordinates for the 1km TIR grid, nadir view",
            _NC,
            ["data"],
        ),
    }
    for key, path in files.items():
        text, media, roles = described[key]
        extra: dict[str, Any] = {"file:size": path.stat().st_size}
        if media == _NC:
            extra.update({"s3:spatial_resolution": [spacing, spacing], "s3:shape": list(lon.shape)})
        if key == "lst-in":
            extra["eo:bands"] = [
                {
                    "name": "S8",
                    "description": "Band 8 - SST, LST, Active fire",
                    "center_wavelength": 10.854,
                    "full_width_half_max": 0.776,
                },
                {
                    "name": "S9",
                    "description": "Band 9 - SST, LST",
                    "center_wavelength": 12.0225,
                    "full_width_half_max": 0.905,
                },
            ]
        href = f"./{path.parent.name}/{path.name}"
        item.add_asset(
            key,
            pystac.Asset(href, description=text, media_type=media, roles=roles, extra_fields=extra),
        )
    return item


def generate_slstr_archive(
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
    start: str = "2021-11-01",
    end: str = "2022-03-31",
    size: int = 60,
    spacing_m: float = 80.0,
    revisit_days: int = 4,
    lst_offset: float = 0.0,
) -> SlstrArchive:
    """Generate (or reuse) an SLSTR SL_2_LST archive under `path` (joining its catalog.json):
    one frame every `revisit_days`, Sentinel-3A and 3B alternating, over the land of the demo
    archive of `seed` and `size`, pixels `spacing_m` apart; clear land `lst_offset` K warmer
    than the world's temperature (a known offset to MODIS LST, for sensor continuity)."""
    d0, d1 = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    if d1 < d0:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    if revisit_days < 1 or spacing_m < 20:
        raise ValueError("revisit_days must be >= 1 and spacing_m >= 20")
    params = {
        "format": _FORMAT,
        "seed": int(seed),
        "start": d0.isoformat(),
        "end": d1.isoformat(),
        "size": int(size),
        "spacing_m": float(spacing_m),
        "revisit_days": int(revisit_days),
        "lst_offset": float(lst_offset),
    }
    root = Path(path).absolute()
    manifest = root / "slstr-archive.json"
    model = build_model(int(seed), int(size))
    days = [d0 + timedelta(days=k) for k in range(0, (d1 - d0).days + 1, int(revisit_days))]

    def archive() -> SlstrArchive:
        return SlstrArchive(
            path=root,
            catalog=root / "catalog.json",
            bbox=model.bbox,
            start=d0.isoformat(),
            end=d1.isoformat(),
            n_items=len(days),
            seed=int(seed),
            spacing_m=float(spacing_m),
            params=params,
        )

    if reusable(root, manifest, params, _COLLECTION):
        return archive()
    items = [
        _frame(model, root, k, day, float(spacing_m), float(lst_offset))
        for k, day in enumerate(days)
    ]
    lons = [p[0] for p in model.footprint]
    lats = [p[1] for p in model.footprint]
    coll = pystac.Collection(
        _COLLECTION,
        "Synthetic Sentinel-3 SLSTR Level-2 LST frames (vegcube test archive).",
        pystac.Extent(
            pystac.SpatialExtent(
                [[min(lons) - 0.05, min(lats) - 0.05, max(lons) + 0.05, max(lats) + 0.05]]
            ),
            pystac.TemporalExtent([[items[0].datetime, items[-1].datetime]]),
        ),
        title="Sentinel-3 Land Surface Temperature (vegcube test archive)",
        license="proprietary",
        summaries=pystac.Summaries(
            {"platform": ["Sentinel-3A", "Sentinel-3B"], "instruments": ["SLSTR"]}
        ),
    )
    coll.add_items(items)
    join_catalog(root, coll, title="vegcube test archive: synthetic Sentinel-3 SLSTR LST.")
    manifest.write_text(
        json.dumps(
            {"generator": "vegcube.testing.slstr", "params": params, "items": len(items)}, indent=1
        )
    )
    return archive()


def _frame(
    model: Model, root: Path, k: int, day: date, spacing: float, offset: float = 0.0
) -> pystac.Item:
    """Render, write and describe frame `k` (acquired on local day `day`)."""
    rng = np.random.default_rng([model.seed, 31, day.toordinal()])
    platform = "Sentinel-3A" if k % 2 == 0 else "Sentinel-3B"
    # ~10:00 local solar time: the previous day at ~23:00 UTC at the demo's longitude
    when = datetime(day.year, day.month, day.day, 10, tzinfo=timezone.utc)
    when -= timedelta(hours=model.site.centre[0] / 15)
    when += timedelta(seconds=int(rng.integers(-900, 900)))
    side = model.size * 10.0
    n = math.ceil(1.9 * side / spacing) + 4
    t = model.transform
    centre = (
        t.c + side / 2 + rng.uniform(-1, 1) * spacing,
        t.f - side / 2 + rng.uniform(-1, 1) * spacing,
    )
    lon, lat = swath(
        centre,
        epsg=model.site.epsg,
        rows=n,
        columns=n,
        spacing=spacing,
        heading_deg=-12.0 + rng.uniform(-2, 2),
        shift=(rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)),
    )
    lst, conf, cloud, exception, cover = _render(model, rng, lon, lat, when, spacing, offset)
    sat = platform[-1]
    t0 = when - timedelta(seconds=89.5)
    t1 = t0 + timedelta(seconds=179)
    frame = 5760 + k % 7
    item_id = f"S3{sat}_SL_2_LST_{t0:%Y%m%dT%H%M%S}_{t1:%Y%m%dT%H%M%S}_0179_071_301_{frame}"
    safe = (
        f"S3{sat}_SL_2_LST____{t0:%Y%m%dT%H%M%S}_{t1:%Y%m%dT%H%M%S}_"
        f"{t1 + timedelta(days=1):%Y%m%dT%H%M%S}_0179_071_301_{frame}_LN2_O_NT_004.SEN3"
    )
    files = write_product(
        root / _COLLECTION / item_id / safe,
        lon=lon,
        lat=lat,
        lst=lst,
        confidence=conf,
        cloud=cloud,
        exception=exception,
        start=t0,
        spacing=spacing,
    )
    return product_item(
        item_id,
        files,
        lon=lon,
        lat=lat,
        when=when,
        platform=platform,
        cloud_cover=cover,
        spacing=spacing,
    )


def _render(
    model: Model,
    rng: np.random.Generator,
    lon: np.ndarray,
    lat: np.ndarray,
    when: datetime,
    spacing: float,
    offset: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """LST (K, NaN = fill), confidence_in, cloud_in, exception and cloud cover (%) of a frame;
    clear land `offset` K above the world's temperature."""
    local = when + timedelta(hours=model.site.centre[0] / 15)
    fv = model.fv(local)
    size = max(round(spacing / 10), 1)  # each pixel sees the mean of its footprint
    temp10 = ndimage.uniform_filter(303.0 - 8.0 * fv, size=size, mode="nearest")
    water10 = ndimage.uniform_filter((model.landcover == 4).astype("float32"), size=size)
    x, y = Transformer.from_crs(4326, model.site.epsg, always_xy=True).transform(lon, lat)
    t = model.transform
    at = [(t.f - np.asarray(y)) / 10 - 0.5, (np.asarray(x) - t.c) / 10 - 0.5]
    lst = ndimage.map_coordinates(temp10, at, order=1, mode="nearest") + offset
    lst += rng.normal(0, 0.3, lst.shape)
    water = ndimage.map_coordinates(water10, at, order=1, mode="nearest") > 0.5
    rows, cols = lst.shape
    u = rng.random()
    cover = 0.0 if u < 0.45 else (rng.uniform(0.85, 1.0) if u > 0.85 else rng.uniform(0.05, 0.5))
    clouds = np.zeros((rows, cols), bool)
    if cover > 0:
        f = smooth(rng, (rows, cols), rows / 6)
        clouds = f > np.quantile(f, 1 - cover)
    conf = np.where(water, _BIT["inland_water"], _BIT["land"]) | _BIT["day"]
    conf = np.where(clouds, conf | _BIT["summary_cloud"], conf)
    lst = np.where(clouds, 268.0 + rng.normal(0, 1.0, lst.shape), lst)
    exception = np.zeros((rows, cols), "int16")
    odd = rng.random((rows, cols))
    lst[odd < 0.01] = np.nan  # fill: no retrieval
    exception[(odd >= 0.01) & (odd < 0.02)] = 1  # a value, but an LST exception
    cosmetic = (odd >= 0.02) & (odd < 0.03)
    lst[:, 1:][cosmetic[:, 1:]] = lst[:, :-1][cosmetic[:, 1:]]  # copied from the left neighbour
    conf = np.where(cosmetic, conf | _BIT["cosmetic"], conf)
    lst[:, 0] = np.nan  # the swath's first column: unfilled
    conf[:, 0] |= _BIT["unfilled"]
    cloud_in = np.where(clouds, _CLOUD_TESTS, 0)
    return (
        lst,
        conf.astype("uint16"),
        cloud_in.astype("uint16"),
        exception,
        100 * float(clouds.mean()),
    )


def _dataset(path: Path, rows: int, cols: int, attrs: dict[str, Any], what: str) -> Any:
    nc = netCDF4.Dataset(path, "w", format="NETCDF4")
    nc.createDimension("rows", rows)
    nc.createDimension("columns", cols)
    nc.setncatts({**attrs, "title": f"SLSTR Level 2 Product, {what}"})
    return nc


def _var(
    nc: Any,
    name: str,
    dtype: str,
    data: np.ndarray,
    *,
    fill: int | None = None,
    scale: float | None = None,
    offset: float | None = None,
    **attrs: Any,
) -> None:
    v = nc.createVariable(name, dtype, ("rows", "columns"), zlib=True, fill_value=fill or False)
    v.set_auto_maskandscale(False)
    if scale is not None:
        v.scale_factor, v.add_offset = scale, offset
    v.setncatts(attrs)
    v[:] = np.asarray(data).astype(dtype)


def _pack(values: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """int16 packing of `values` (NaN → fill)."""
    return np.where(np.isfinite(values), np.rint((values - offset) / scale), INT16_FILL)


def _meanings(bits: dict[int, str], n: int) -> str:
    return " ".join(bits.get(k, "spare") for k in range(n))


_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:sentinel3="http://www.esa.int/safe/sentinel/sentinel-3/1.0" xmlns:slstr="http://www.esa.int/safe/sentinel/sentinel-3/slstr/1.0">
  <sentinel3:productName>{name}</sentinel3:productName>
  <sentinel3:productType>SL_2_LST___</sentinel3:productType>
  <slstr:nadirImageSize><sentinel3:rows>{rows}</sentinel3:rows><sentinel3:columns>{cols}</sentinel3:columns></slstr:nadirImageSize>
</xfdu:XFDU>
"""  # noqa: E501
