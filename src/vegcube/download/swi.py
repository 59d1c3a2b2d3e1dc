"""Copernicus SWI NetCDF files (a folder or a list of URLs) → COG items on their 0.1° grid.

The product is distributed as files, without STAC (`sensors.swi`). For a recipe whose
collection is ``copernicus-swi`` (daily) or ``copernicus-swi10`` (10-daily),
``source.catalog`` names where the files are:

- a **folder**: every ``c_gls_SWI_…nc`` / ``c_gls_SWI10_…nc`` under it (read in place);
- a **text file**: one local path (relative to the list's folder) or http(s) URL per line,
  blank lines and ``#`` comments ignored; remote files are fetched whole with the download
  machinery (`scheduler`: retries, resume from ``.part``, staging polls, atomic renames,
  ``VEGCUBE_HTTP_TOKEN`` or ``~/.netrc``) and deleted once converted.

Files of the recipe's product dated in ``time`` are taken (of several versions of a date, the
newest). `mirror_swi` converts the layers the recipe's indices need — their ``SWI_<TTT>``
variables as stored (uint8 DN; every DN above 200 → nodata 255) and vegcube's ``qflag`` QA
layer (per cell the lowest of their ``QFLAG_<TTT>``, 255 where one is missing) — into COGs
cut to the AOI window plus `margin` cells on the file's own grid (read from its ``lat``/
``lon`` cell centres, which must be the 0.1° global lattice), one item per file dated as its
name, with ``proj:code`` EPSG:4326, ``proj:transform`` and ``raster:bands`` (scale 0.5,
nodata 255, unit %), for `mirror.write_catalog`. A rerun skips items whose COGs are complete.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pystac
import rasterio.windows
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.windows import Window

from .. import indices, sensors
from ..errors import BandError, DataError, SourceError
from ..sensors.swi import (
    FILL,
    QA,
    SCALE,
    SWI_CRS,
    SWI_SHAPE,
    SWI_TRANSFORM,
    VALID_MAX,
    SwiFile,
    parse_name,
    swi_product,
    variable,
)
from . import clip as clipping
from . import ease, hdf5
from .jobs import Grid, Job, MirroredFile, window
from .scheduler import Scheduler

__all__ = ["convert", "file_grid", "list_files", "mirror_swi", "swi_item"]

_COG = hdf5.COG_MEDIA_TYPE
_EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
_ACCEPTED = (
    "a folder of c_gls_SWI_/c_gls_SWI10_ NetCDF files, or a text file listing their paths "
    "or http(s) URLs (one a line)"
)


def mirror_swi(
    rc: Any,
    *,
    root: Path,
    scheduler: Scheduler,
    clip: bool,
    margin: int,
    bbox: tuple[float, ...],
    keep_files: bool = False,
    log: Callable[[str], None] = lambda msg: None,
) -> tuple[list[MirroredFile], list[Job]]:
    """Convert the SWI files recipe `rc` needs into ``root/<collection>/<item>/<layer>.tif``:
    (the COG records, one `Job` per COG for `mirror.write_catalog`)."""
    found = list_files(rc.source.catalog)
    grid: Grid = (CRS.from_user_input(SWI_CRS), SWI_TRANSFORM, SWI_SHAPE)
    if not ease.overlaps(grid, bbox):
        raise SourceError(f"{bbox} is outside the SWI grid (−180..180°, −90..90°)", field="aoi")
    done: list[MirroredFile] = []
    layers: list[Job] = []
    todo: list[tuple[SwiFile, list[Job]]] = []
    for coll in rc.source.collections:
        keys = _keys(coll, rc.indices)
        files = select(found, collection=coll, start=rc.time.start, end=rc.time.end)
        if not files:
            raise SourceError(
                f"no {swi_product(coll)} files ({coll}) dated {rc.time.start}..{rc.time.end} "
                f"in {rc.source.catalog} ({len(found)} SWI files there); check time and the "
                "file names (c_gls_<product>_<YYYYMMDDhhmm>_GLOBE_ASCAT_V<x.y.z>.nc)",
                field="source.catalog",
            )
        for f in files:
            item = swi_item(f, collection=coll, keys=keys)
            folder = root / coll / item.id
            jobs = [Job(item, k, f.href, folder / f"{k}.tif", clip, k == QA, None, None, grid)
                    for k in keys]  # fmt: skip
            layers += jobs
            if all(clipping.complete(j, bbox=bbox, margin=margin) for j in jobs):
                done += [j.mirrored("skipped", 0) for j in jobs]
            else:
                todo.append((f, jobs))
    remote = {f.href: Job(jobs[0].item, "nc", f.href, jobs[0].dest.parent / f.name, False,
                          False, None, None, None)
              for f, jobs in todo if _remote(f.href)}  # fmt: skip
    log(f"{len(layers)} SWI layers: {len(todo)} files to convert ({len(remote)} to fetch)")
    if remote:
        scheduler.run(list(remote.values()))
    for f, jobs in todo:
        path = remote[f.href].dest if f.href in remote else Path(f.href)
        done += convert(path, jobs, bbox=bbox if clip else None, margin=margin)
        if f.href in remote and not keep_files:
            path.unlink(missing_ok=True)
    return done, layers


def _keys(collection: str, names: Sequence[str]) -> list[str]:
    """The layers to mirror for `names`: their SWI bands, then the QA layer."""
    sensor = sensors.for_collection(collection)
    bands = indices.bands_for(collection, names)
    missing = [b for b in bands if b not in sensor.asset_aliases]
    if missing:
        raise BandError(
            f"{collection} has no {', '.join(missing)} band for indices {', '.join(names)}; "
            f"its indices: {', '.join(sensor.index_bands)}",
            band=missing[0],
            field="indices",
        )
    return bands


def list_files(catalog: str) -> list[SwiFile]:
    """The SWI files of a folder or a text list (see the module docstring); `SourceError`
    naming ``source.catalog`` (and the line) for anything else."""
    if "://" in catalog:
        raise SourceError(
            f"{catalog!r} is a URL; for Copernicus SWI give {_ACCEPTED}", field="source.catalog"
        )
    path = Path(catalog).expanduser()
    if path.is_dir():
        named = [parse_name(p.name, str(p)) for p in sorted(path.rglob("c_gls_SWI*.nc"))]
        return [f for f in named if f is not None]
    if not path.is_file():
        raise SourceError(f"{catalog} does not exist; give {_ACCEPTED}", field="source.catalog")
    if path.suffix == ".json":
        raise SourceError(
            f"{catalog} is a STAC catalog: a mirror for vegcube run, not SWI files; give "
            + _ACCEPTED,
            field="source.catalog",
        )
    out = []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        href = line.split("#", 1)[0].strip()
        if not href:
            continue
        if not _remote(href) and not Path(href).is_absolute():
            href = str(path.parent / href)
        name = PurePosixPath(urllib.parse.urlsplit(href).path).name
        f = parse_name(name, href)
        if f is None:
            raise SourceError(
                f"{catalog} line {n}: {name!r} is not a global SWI version-3 file name "
                "(c_gls_SWI_<YYYYMMDDhhmm>_GLOBE_ASCAT_V<x.y.z>.nc or c_gls_SWI10_…)",
                field="source.catalog",
            )
        if not _remote(href) and not Path(href).is_file():
            raise SourceError(f"{catalog} line {n}: {href} does not exist", field="source.catalog")
        out.append(f)
    return out


def select(files: Sequence[SwiFile], *, collection: str, start: dt.date, end: dt.date
           ) -> list[SwiFile]:  # fmt: skip
    """The files of `collection` dated `start`..`end`, the newest version of each date."""
    product = swi_product(collection)
    best: dict[str, SwiFile] = {}
    for f in files:
        if f.product != product or not start <= f.when.date() <= end:
            continue
        if f.item_id not in best or f.version > best[f.item_id].version:
            best[f.item_id] = f
    return [best[k] for k in sorted(best)]


def swi_item(f: SwiFile, *, collection: str, keys: Sequence[str]) -> pystac.Item:
    """The item of file `f`: dated as its name, the global grid's ``proj:`` fields, one COG
    asset per layer of `keys` with ``raster:bands`` (uint8, nodata 255, scale 0.5, %)."""
    props: dict[str, Any] = {
        "platform": "metop",
        "instruments": ["ascat"],
        "vegcube:file": f.name,
        "vegcube:version": ".".join(map(str, f.version)),
        "proj:code": SWI_CRS,
        "proj:shape": list(SWI_SHAPE),
        "proj:transform": list(SWI_TRANSFORM)[:6],
    }
    if f.product == "SWI10" and f.when.day in (1, 11, 21):  # the dekad it is named by
        last = f.when.day + 9 if f.when.day < 21 else _month_end(f.when.date()).day
        props["start_datetime"] = _iso(f.when.replace(hour=0, minute=0))
        props["end_datetime"] = _iso(f.when.replace(day=last, hour=23, minute=59, second=59))
    ring = [[-180.0, -90.0], [180.0, -90.0], [180.0, 90.0], [-180.0, 90.0], [-180.0, -90.0]]
    item = pystac.Item(f.item_id, {"type": "Polygon", "coordinates": [ring]},
                       [-180.0, -90.0, 180.0, 90.0], f.when, props,
                       stac_extensions=list(_EXTENSIONS), collection=collection)  # fmt: skip
    for key in keys:
        title = "lowest QFLAG of the item's T-values (vegcube)" if key == QA else variable(key)
        band = {"data_type": "uint8", "nodata": FILL, "scale": SCALE, "offset": 0.0,
                "unit": "%", "spatial_resolution": 0.1}  # fmt: skip
        item.add_asset(key, pystac.Asset(f"./{key}.tif", title, media_type=_COG, roles=["data"],
                                         extra_fields={"raster:bands": [band]}))  # fmt: skip
    return item


def file_grid(path: Path) -> tuple[Affine, tuple[int, int], bool]:
    """(transform, (rows, cols), north_up) of a file from its ``lat``/``lon`` cell centres;
    `DataError` naming the file unless they are regular 0.1° steps on the global lattice."""
    with hdf5._open(path) as nc:
        return _grid(nc, path)


def _grid(nc: Any, path: Path) -> tuple[Affine, tuple[int, int], bool]:
    lat, lon = (_coord(nc, names, path) for names in (("lat", "latitude"), ("lon", "longitude")))
    north_up = bool(lat.size < 2 or lat[0] > lat[-1])
    lat = lat if north_up else lat[::-1]
    for name, v, step in (("lat", lat, -0.1), ("lon", lon, 0.1)):
        if v.size > 1 and np.abs(np.diff(v) - step).max() > 1e-6:
            raise DataError(f"{path.name}: {name} is not in regular steps of 0.1°")
    west, north = float(lon[0]) - 0.05, float(lat[0]) + 0.05
    col, row = ~SWI_TRANSFORM * (west, north)
    if abs(col - round(col)) > 1e-4 or abs(row - round(row)) > 1e-4:
        raise DataError(
            f"{path.name}: its cells (first centre {lon[0]:.4f}°, {lat[0]:.4f}°) are not on the "
            "0.1° global grid of the SWI product (centres at …, −179.95, −179.85, …)"
        )
    tr = SWI_TRANSFORM * Affine.translation(round(col), round(row))
    return tr, (lat.size, lon.size), north_up


def _coord(nc: Any, names: Sequence[str], path: Path) -> np.ndarray:
    for name in names:
        if name in nc.variables:
            return np.asarray(nc.variables[name][:], dtype="float64").ravel()
    raise DataError(f"{path.name}: no {' or '.join(names)} coordinate: not an SWI NetCDF file")


def convert(
    path: Path, jobs: Sequence[Job], *, bbox: tuple[float, ...] | None, margin: int = 0
) -> list[MirroredFile]:
    """The layers of `jobs` from SWI file `path` as COGs: the window of `bbox` plus `margin`
    cells on the file's grid, or the whole file (`bbox` None)."""
    swi = [j for j in jobs if j.key != QA]
    with hdf5._open(path) as nc:
        tr, (rows, cols), north_up = _grid(nc, path)
        grid = (CRS.from_user_input(SWI_CRS), tr, (rows, cols))
        win = (window(grid, bbox, margin) if bbox is not None else None) or Window(0, 0, cols, rows)
        out_tr = rasterio.windows.transform(win, tr)
        for j in swi:
            dn = _read(nc, variable(j.key), win, rows, north_up, path)
            hdf5.write_cog(j.dest, np.where(dn > VALID_MAX, FILL, dn).astype("uint8"),
                           transform=out_tr, nodata=FILL, crs=SWI_CRS)  # fmt: skip
        qa = [j for j in jobs if j.key == QA]
        if qa:
            flags = [_read(nc, "QFLAG" + variable(j.key)[3:], win, rows, north_up, path)
                     for j in swi]  # fmt: skip
            if not flags:
                raise DataError(f"{path.name}: the qflag layer needs an SWI layer to qualify")
            q = np.stack(flags)
            low = np.where((q > VALID_MAX).any(0), FILL, q.min(0)).astype("uint8")
            hdf5.write_cog(qa[0].dest, low, transform=out_tr, nodata=FILL, crs=SWI_CRS)
    return [j.mirrored("netcdf", j.dest.stat().st_size) for j in jobs]


def _read(nc: Any, name: str, win: Window, rows: int, north_up: bool, path: Path
          ) -> np.ndarray:  # fmt: skip
    """The DN of variable `name` in `win` (north-up rows), as stored."""
    var = nc.variables.get(name)
    if var is None:
        raise DataError(f"{path.name}: no variable {name!r} (its variables: "
                        f"{', '.join(nc.variables)})")  # fmt: skip
    var.set_auto_maskandscale(False)
    if var.dtype != np.uint8:
        raise DataError(f"{path.name}: {name} is {var.dtype}, the product stores uint8 DN")
    scale = getattr(var, "scale_factor", SCALE)
    if not np.isclose(float(scale), SCALE):
        raise DataError(f"{path.name}: {name} has scale_factor {scale}, the product's is 0.5")
    (r0, r1), (c0, c1) = win.toranges()
    if not north_up:
        r0, r1 = rows - r1, rows - r0
    data = np.asarray(var[..., r0:r1, c0:c1])
    data = data.reshape(data.shape[-2:]) if data.ndim == 3 and data.shape[0] == 1 else data
    if data.ndim != 2:
        raise DataError(f"{path.name}: {name} has shape {var.shape}, expected (1, lat, lon)")
    return data if north_up else data[::-1]


def _remote(href: str) -> bool:
    return urllib.parse.urlsplit(href).scheme in ("http", "https")


def _month_end(d: dt.date) -> dt.date:
    nxt = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")
