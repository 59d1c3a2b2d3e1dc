"""Swath products → the cube's grid: each grid cell takes the values of the nearest swath pixel.

A swath frame (Sentinel-3 SLSTR, …) stores its pixels in sensor geometry with the latitude and
longitude of every pixel; odc-stac cannot read it. `load` gives the same lazy cube as
`cube.load` — (time, y, x) on the grid, one time step per solar day, coordinates ``time``,
``spatial_ref``, ``solar_day``, ``platform``, ``sensor``, ``collection`` — with one dask task
per solar day reading and gridding its frames (a `FrameReader`, one per sensor).

Nearest pixel, not bilinear: the grids are finer than the swath's 1 km pixels, so nearest keeps
each pixel's own value, and a QA word (never interpolated) and the value of a cell always come
from the same pixel; interpolating would mix cloudy or fill pixels into their neighbours. The
nearest pixel is found by distance in the grid's CRS (a k-d tree over the pixels' projected
positions); a cell farther than `REACH` × the swath's pixel spacing from every pixel (outside
the swath) gets no value. (GDAL's geolocation-array warp, ``rasterio.warp.reproject`` with
``src_geoloc_array``, takes each coordinate as a pixel's top-left corner: every value lands half
a pixel, 500 m for SLSTR, off — ``tests/data/items/EVIDENCE-sentinel3.md``.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pystac
import requests
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from pyproj import Transformer
from scipy.spatial import cKDTree

from . import aoi
from .catalog import acquired
from .errors import BandError, DataError

__all__ = [
    "REACH",
    "Frame",
    "FrameReader",
    "asset_href",
    "grid_nearest",
    "load",
    "read_variables",
    "window",
]

_HDF5_LOCK: Any
try:  # the lock xarray holds around libhdf5 (not thread-safe): one for every NetCDF reader
    from xarray.backends.locks import HDF5_LOCK as _HDF5_LOCK
except ImportError:  # pragma: no cover - an xarray without it
    import threading

    _HDF5_LOCK = threading.Lock()

#: seconds to wait for a remote NetCDF file
FETCH_TIMEOUT_S = 120
#: a cell takes the nearest pixel within this many pixel spacings (a point of the swath is at
#: most √2/2 ≈ 0.71 spacing from its nearest pixel)
REACH = 0.75


@dataclass(frozen=True)
class Frame:
    """Pixels of one swath frame: longitude, latitude (degrees) and values per band."""

    lon: np.ndarray
    lat: np.ndarray
    values: Mapping[str, np.ndarray]


#: (item, bands, bbox=(west, south, east, north)) → the frame's pixels there, or None
FrameReader = Callable[..., "Frame | None"]


def grid_nearest(
    frame: Frame, grid: GeoBox, *, fill: Mapping[str, Any] | None = None, reach: float = REACH
) -> dict[str, np.ndarray]:
    """Each band of `frame` on `grid`: every cell takes the value of the nearest pixel (distance
    in the grid's CRS) when that pixel is within `reach` × the pixel spacing, else `fill` (NaN
    for floating bands, 0 for integers). Pixels without coordinates are ignored."""
    ny, nx = grid.shape
    out = {}
    for band, values in frame.values.items():
        dtype = np.asarray(values).dtype
        empty = (fill or {}).get(band, np.nan if dtype.kind == "f" else 0)
        out[band] = np.full((ny, nx), empty, dtype=dtype)
    x, y = _project(frame.lon, frame.lat, grid)
    spacing = _spacing(x, y)
    located = np.isfinite(x) & np.isfinite(y)
    if spacing is None or not located.any():
        return out
    tree = cKDTree(np.column_stack([x[located], y[located]]))
    cx, cy = _centres(grid)
    dist, idx = tree.query(np.column_stack([cx.ravel(), cy.ravel()]), k=1)
    hit = dist <= reach * spacing
    for band, values in frame.values.items():
        flat = out[band].reshape(-1)
        flat[hit] = np.asarray(values)[located][idx[hit]]
    return out


def load(
    items: Sequence[pystac.Item],
    bands: Sequence[str],
    *,
    grid: GeoBox,
    collection: str,
    chunk: int | None,
    read_frame: FrameReader,
    fill: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Swath `items` → cube of `bands` on `grid` (lazy, one dask task per solar day, split into
    `chunk` × `chunk` pixels; with None read now, numpy-backed). Frames of one solar day are
    fused in time order: a cell keeps the first frame's pixel unless its first band is NaN."""
    from . import sensors

    if not items:
        raise DataError("no scenes to load: the search found no items")
    sensor = sensors.for_collection(collection)
    lon0 = aoi.centre(grid)[0]
    days: dict[dt.date, list[pystac.Item]] = {}
    for item in sorted(items, key=acquired):
        days.setdefault((acquired(item) + dt.timedelta(hours=lon0 / 15)).date(), []).append(item)
    bbox = tuple(grid.geographic_extent.boundingbox)
    dtypes = _dtypes(sensor, bands)
    fills = {b: (fill or {}).get(b, np.nan) for b in bands}
    ny, nx = grid.shape
    steps = []
    for group in days.values():
        args = (group, list(bands), grid, read_frame, bbox, fills, dtypes)
        if chunk is None:
            steps.append(_grid_day(*args))
        else:
            import dask
            import dask.array as da

            task = dask.delayed(_grid_day, pure=True)(*args)
            steps.append({b: da.from_delayed(task[b], (ny, nx), dtype=dtypes[b]) for b in bands})
    out = {}
    for band in bands:
        layers = [s[band] for s in steps]
        if chunk is None:
            data: Any = np.stack(layers)
        else:
            import dask.array as da

            data = da.stack(layers).rechunk({0: 1, 1: min(chunk, ny), 2: min(chunk, nx)})
        out[band] = xr.DataArray(data, dims=("time", "y", "x"), attrs=_attrs(sensor, band))
    firsts = [g[0] for g in days.values()]
    coords: dict[Any, Any] = dict(xr_coords(grid, crs_coord_name="spatial_ref"))
    n = len(firsts)
    coords.update(
        time=("time", np.array([_naive(acquired(it)) for it in firsts], dtype="datetime64[ns]")),
        solar_day=("time", np.array([np.datetime64(d, "ns") for d in days])),
        platform=("time", [str(it.properties.get("platform", "")) for it in firsts]),
        sensor=("time", [sensor.name] * n),
        collection=("time", [collection] * n),
    )
    cube = xr.Dataset(out, coords=coords)
    cube.attrs["collection"] = collection
    cube.attrs["qa_bands"] = [b for b in bands if b in sensor.qa_bands]
    return cube


def asset_href(item: pystac.Item, key: str) -> str:
    """The absolute href of asset `key`; `BandError` naming the item's assets if it has none."""
    asset = item.assets.get(key)
    if asset is None:
        raise BandError(
            f"item {item.id} has no asset {key!r} (the swath reader needs it); its assets are: "
            f"{', '.join(sorted(item.assets))}",
            band=key,
        )
    return asset.get_absolute_href() or asset.href


def read_variables(
    href: str,
    names: Sequence[str],
    *,
    item: pystac.Item,
    window: tuple[slice, slice] | None = None,
    raw: bool = False,
) -> list[np.ndarray]:
    """Variables `names` of the NetCDF file `href` (the `window` of rows and columns), decoded
    by their own attributes: ``_FillValue`` → NaN, then × ``scale_factor`` + ``add_offset``
    (float64); with `raw`, the stored integers as they are."""
    import netCDF4

    sel = window or (slice(None), slice(None))
    try:
        content = _fetch(href)  # a remote file is downloaded whole, outside the lock
        with _HDF5_LOCK, _open(href, content) as nc:  # libhdf5 is not thread-safe
            missing = [n for n in names if n not in nc.variables]
            if missing:
                raise DataError(
                    f"{href}: no variable {', '.join(missing)} (item {item.id}); the file has: "
                    f"{', '.join(nc.variables)}; is it an SLSTR SL_2_LST product?"
                )
            out = []
            for name in names:
                var = nc.variables[name]
                var.set_auto_maskandscale(False)
                data = np.asarray(var[sel])
                if not raw:
                    data = _decode(data, {a: var.getncattr(a) for a in var.ncattrs()})
                out.append(data)
            return out
    except (OSError, RuntimeError, netCDF4.NetCDF4MissingFeatureException) as exc:
        if isinstance(exc, DataError):
            raise
        if isinstance(exc, requests.RequestException):
            from .cube import read_error

            raise read_error(href, exc) from exc
        raise DataError(
            f"asset {href} (item {item.id}): cannot be read as NetCDF ({exc}); the file is "
            "missing, corrupt or truncated: download it again (or leave its item out) and rerun"
        ) from exc


def window(
    lon: np.ndarray, lat: np.ndarray, *, bbox: Sequence[float], margin: float
) -> tuple[slice, slice] | None:
    """The rows and columns of the pixels within `bbox` (west, south, east, north) grown by
    `margin` degrees; None if no pixel lies there."""
    w, s, e, n = bbox
    inside = (lon >= w - margin) & (lon <= e + margin) & (lat >= s - margin) & (lat <= n + margin)
    if not inside.any():
        return None
    rows, cols = np.nonzero(inside.any(axis=1))[0], np.nonzero(inside.any(axis=0))[0]
    # one pixel more on each side: the spacing is measured between neighbours
    return (
        slice(max(int(rows[0]) - 1, 0), int(rows[-1]) + 2),
        slice(max(int(cols[0]) - 1, 0), int(cols[-1]) + 2),
    )


def _grid_day(
    items: Sequence[pystac.Item],
    bands: Sequence[str],
    grid: GeoBox,
    read_frame: FrameReader,
    bbox: tuple[float, ...],
    fills: Mapping[str, Any],
    dtypes: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """The frames of one solar day, gridded and fused (one dask task)."""
    ny, nx = grid.shape
    out = {b: np.full((ny, nx), fills[b], dtype=dtypes[b]) for b in bands}
    for item in items:
        frame = read_frame(item, bands, bbox=bbox)
        if frame is None:
            continue
        cells = grid_nearest(frame, grid, fill=fills)
        # cells still without a value: NaN in the first float band (else still its fill)
        key = next((b for b in bands if out[b].dtype.kind == "f"), bands[0])
        todo = np.isnan(out[key]) if out[key].dtype.kind == "f" else out[key] == fills[key]
        for band in bands:
            out[band][todo] = cells[band].astype(dtypes[band], copy=False)[todo]
    return out


def _decode(data: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    value = data.astype("float64")
    if "_FillValue" in attrs:
        value[data == attrs["_FillValue"]] = np.nan
    return value * float(attrs.get("scale_factor", 1.0)) + float(attrs.get("add_offset", 0.0))


def _fetch(href: str) -> bytes | None:
    """The bytes of a file served over HTTP(S) (a signed Planetary Computer href); None for a
    local path."""
    if not href.startswith(("http://", "https://")):
        return None
    resp = requests.get(href, timeout=FETCH_TIMEOUT_S)
    resp.raise_for_status()
    return resp.content


def _open(href: str, content: bytes | None) -> Any:
    import netCDF4

    if content is not None:
        return netCDF4.Dataset(href.rsplit("/", 1)[-1].split("?")[0], memory=content)
    return netCDF4.Dataset(href.removeprefix("file://"))


def _project(lon: np.ndarray, lat: np.ndarray, grid: GeoBox) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions in the grid's CRS (degrees scaled to distances on a geographic grid)."""
    assert grid.crs is not None
    if grid.crs.geographic:
        return lon * _shrink(grid), lat.astype("float64")
    tr = Transformer.from_crs("EPSG:4326", grid.crs.to_wkt(), always_xy=True)
    x, y = tr.transform(lon, lat)
    return np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")


def _centres(grid: GeoBox) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = grid.shape
    cols, rows = np.meshgrid(np.arange(nx) + 0.5, np.arange(ny) + 0.5)
    a = grid.affine
    x, y = a.c + a.a * cols + a.b * rows, a.f + a.d * cols + a.e * rows
    if grid.crs is not None and grid.crs.geographic:
        return x * _shrink(grid), y
    return x, y


def _shrink(grid: GeoBox) -> float:
    """On a geographic grid: how much shorter a degree of longitude is than one of latitude
    at the grid's centre (distances are then measured in degrees of latitude)."""
    return float(np.cos(np.radians(aoi.centre(grid)[1])))


def _spacing(x: np.ndarray, y: np.ndarray) -> float | None:
    """The swath's pixel spacing: the larger of the median distances between neighbours along
    rows and along columns (None for a frame of a single pixel)."""
    steps = []
    for axis in (0, 1):
        if x.shape[axis] > 1:
            d = np.hypot(np.diff(x, axis=axis), np.diff(y, axis=axis))
            d = d[np.isfinite(d)]
            if d.size:
                steps.append(float(np.median(d)))
    return max(steps) if steps else None


def _dtypes(sensor: Any, bands: Sequence[str]) -> dict[str, np.dtype]:
    return {
        b: np.dtype(sensor.storage(b)["data_type"] if b in sensor.qa_bands else "float32")
        for b in bands
    }


def _attrs(sensor: Any, band: str) -> dict[str, str]:
    return {} if band in sensor.qa_bands else sensor.attrs(band)


def _naive(when: dt.datetime) -> np.datetime64:
    return np.datetime64(when.astimezone(dt.timezone.utc).replace(tzinfo=None), "ns")
