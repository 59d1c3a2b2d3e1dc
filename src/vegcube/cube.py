"""Items + grid → lazy data cube (odc-stac): reflectance float32 in [0, 1], QA as integers.

Items of several collections (Sentinel-2 + Landsat, …) make one cube on the common grid with
a `sensor` coordinate per scene.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pystac
import rasterio.errors
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.stac import ParsedItem
from odc.stac import load as stac_load

from . import aoi, catalog, sensors
from ._odc import RioDriver, RioReader, StacAuxReader, replicated_read
from .errors import AccessError, BandError, DataError, VegcubeError
from .sensors import values

__all__ = ["asset_keys", "load", "read_stac", "value_rules"]


def asset_keys(
    items: Sequence[pystac.Item], bands: Sequence[str], *, collection: str
) -> dict[str, str]:
    """Map each common band name to the asset key the items use for it.

    Raises `BandError` naming the band, the aliases tried and the assets the items have.
    """
    sensor = sensors.for_collection(collection)
    have = set(items[0].assets) if items else set()
    keys = {}
    for band in bands:
        aliases = sensor.asset_aliases.get(band, (band,))
        match = next((a for a in aliases if a in have), None)
        if match is None:
            raise BandError(
                f"no asset named {' or '.join(aliases)} in item {items[0].id}; its assets "
                f"are: {', '.join(sorted(have))}",
                band=band,
                field=f"band {band!r}",
            )
        keys[band] = match
    return keys


def load(
    items: Sequence[pystac.Item],
    bands: Sequence[str] | Mapping[str, Sequence[str]],
    *,
    grid: GeoBox,
    collection: str | None = None,
    chunk: int | None = 1024,
) -> xr.Dataset:
    """Lazy cube of `bands` (common names) on `grid`, one time step per solar day and sensor
    (`chunk` × `chunk` pixels per dask chunk; None: read now, numpy-backed).

    Items of several collections (their `collection` field, unless `collection` forces one)
    give one cube on the common grid, scenes in time order, with a `sensor` and a
    `collection` coordinate per time step; `bands` is then either one list (each collection
    loads those it has) or a mapping collection → bands. Values are float32 = DN × scale +
    offset, from the asset's `raster:bands` when present, else the sensor's rule (Sentinel-2:
    processing baseline; Landsat: 2.75e-5, −0.2); nodata (Landsat 7 SLC-off gaps too) → NaN.
    QA bands keep their integer values (their nodata where no scene covers a pixel).
    """
    if not items:
        raise DataError("no scenes to load: the search found no items")
    groups: dict[str, list[pystac.Item]] = {}
    for item in items:
        name = collection or item.collection_id or "sentinel-2-l2a"
        groups.setdefault(name, []).append(item)
    per = _bands_per_collection(groups, bands)
    parts = [
        _yx(_load_one(its, per[c], grid=grid, collection=c, chunk=chunk))
        for c, its in groups.items()
    ]
    return parts[0] if len(parts) == 1 else _combine(parts)


def _yx(ds: xr.Dataset) -> xr.Dataset:
    """The cube's spatial dimensions are (y, x) on every grid: odc-stac names those of a
    geographic grid (EPSG:4326) latitude and longitude, which the chain's steps do not know."""
    names = {"latitude": "y", "longitude": "x"}
    return ds.rename({k: v for k, v in names.items() if k in ds.dims})


def value_rules(
    items: Sequence[pystac.Item], bands: Sequence[str], *, collection: str | None = None
) -> dict[str, Any]:
    """How each band's DN become values, per collection (no pixel read): the number of items
    per rule, and the contradictions found in the items' metadata, each once with the number
    of items showing it and the first few of them.

    The rules and their precedence are those of `sensors.values`; `load` applies them.
    """
    groups: dict[str, list[pystac.Item]] = {}
    for item in items:
        groups.setdefault(collection or item.collection_id or "sentinel-2-l2a", []).append(item)
    rules: dict[str, dict[str, dict[str, int]]] = {}
    conflicts: dict[tuple[str, str, str], list[str]] = {}
    for coll, its in groups.items():
        sensor = sensors.for_collection(coll)
        wanted = [b for b in bands if b in sensor.asset_aliases and b not in sensor.qa_bands]
        keys = asset_keys(its, wanted, collection=coll)
        per = rules.setdefault(coll, {})
        for item in _unify(its, keys, sensor):
            for band, key in keys.items():
                r = values.conversion(item, key, band, sensor)
                text = f"{r.rule} → ×{r.scale:g} {r.offset:+g}, nodata {r.nodata}"
                per.setdefault(band, {})
                per[band][text] = per[band].get(text, 0) + 1
                if r.conflict:
                    conflicts.setdefault((coll, band, r.conflict), []).append(item.id)
    return {
        "rules": rules,
        "conflicts": [
            {"collection": c, "band": b, "conflict": what, "items": len(ids), "examples": ids[:3]}
            for (c, b, what), ids in conflicts.items()
        ],
    }


def _bands_per_collection(
    groups: Mapping[str, Sequence[pystac.Item]], bands: Sequence[str] | Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    if isinstance(bands, Mapping):
        missing = [c for c in groups if c not in bands]
        if missing:
            raise BandError(
                f"bands: no band list for collection(s) {', '.join(missing)}; "
                f"given for: {', '.join(bands)}"
            )
        return {c: list(bands[c]) for c in groups}
    if len(groups) == 1:
        return {c: list(bands) for c in groups}
    out = {c: [b for b in bands if b in sensors.for_collection(c).asset_aliases] for c in groups}
    unused = [b for b in bands if not any(b in v for v in out.values())]
    if unused:
        raise BandError(
            f"band(s) {', '.join(unused)}: none of the collections {', '.join(groups)} has them"
        )
    return out


def _load_one(
    items: Sequence[pystac.Item],
    bands: Sequence[str],
    *,
    grid: GeoBox,
    collection: str,
    chunk: int | None,
) -> xr.Dataset:
    sensor = sensors.for_collection(collection)
    asset_keys(items, bands, collection=collection)  # a missing asset named, whoever reads
    if sensor.reader is not None:  # swath products (`swath`), NetCDF grids (SYN V10)
        return sensor.reader(items, bands, grid=grid, collection=collection, chunk=chunk)
    return read_stac(items, bands, grid=grid, collection=collection, chunk=chunk)


def read_stac(
    items: Sequence[pystac.Item],
    bands: Sequence[str],
    *,
    grid: GeoBox,
    collection: str,
    chunk: int | None,
) -> xr.Dataset:
    """One collection's `items` read by odc-stac: `load`'s path for a sensor without a
    `Sensor.reader`, and the end of a reader that only adapts the items (SYN V10: NetCDF
    subdataset paths)."""
    sensor = sensors.for_collection(collection)
    keys = asset_keys(items, bands, collection=collection)
    items = _unify(items, keys, sensor)
    lon = aoi.centre(grid)[0]

    seen: dict[int, dt.date] = {}  # odc-stac's grouping, item by item (no second parse)

    def solar_day(item: pystac.Item, parsed: ParsedItem, idx: int) -> dt.date:
        day = seen[idx] = catalog.scene_day(item, lon)  # a composite: its start's UTC day
        return day

    qa = {keys[b] for b in bands if b in sensor.qa_bands}
    storage = {keys[b]: sensor.storage(b) for b in bands}
    ds = stac_load(
        items,
        bands=list(keys.values()),
        geobox=grid,
        groupby=solar_day,
        chunks=None if chunk is None else {"time": 1, "y": chunk, "x": chunk},
        resampling={k: "nearest" if k in qa else _resampling(items[0], k, grid) for k in storage},
        fail_on_error=True,
        # read now (a fat task) from a server: its files in parallel, so that latency and
        # retry waits overlap instead of adding up (local files: threads only add overhead)
        pool=READ_THREADS if chunk is None and _remote(items[0], keys.values()) else None,
        stac_cfg={"*": {"assets": storage}},
        driver=_NamedDriver(aux_reader=StacAuxReader()),
    )
    ds = ds.rename({v: k for k, v in keys.items() if k != v})

    # one (scale, offset) per time step: the items fused into a solar day share a rule
    days: dict[dt.date, list[pystac.Item]] = {}
    for idx, item in enumerate(items):
        days.setdefault(seen[idx], []).append(item)
    firsts = [days[d][0] for d in sorted(days)]
    if len(firsts) != ds.sizes["time"]:  # pragma: no cover - guards an odc-stac change
        raise DataError("internal: solar-day groups do not match the loaded time steps")

    out = {}
    for band, key in keys.items():
        da = ds[band]
        if band in sensor.qa_bands:
            out[band] = da
            continue
        rules = [values.conversion(it, key, band, sensor) for it in firsts]
        nodata = da.attrs.get("nodata", rules[0].nodata)
        so = np.array([(r.scale, r.offset) for r in rules], dtype="float32")
        scale = xr.DataArray(so[:, 0], dims="time", coords={"time": ds.time})
        offset = xr.DataArray(so[:, 1], dims="time", coords={"time": ds.time})
        value = xr.apply_ufunc(
            _decode, da, scale, offset,
            kwargs={"nodata": None if nodata is None or np.isnan(nodata) else nodata},
            dask="parallelized", output_dtypes=[np.float32],
        )  # fmt: skip
        value.attrs = sensor.attrs(band)
        out[band] = value
    cube = xr.Dataset(out, coords=ds.coords)
    solar = np.array([np.datetime64(d, "ns") for d in sorted(days)])
    platform = [str(it.properties.get("platform", "")) for it in firsts]
    n = len(firsts)
    cube = cube.assign_coords(
        solar_day=("time", solar),
        platform=("time", platform),
        sensor=("time", [sensor.name] * n),
        collection=("time", [collection] * n),
    )
    cube.attrs["collection"] = collection
    cube.attrs["qa_bands"] = [b for b in bands if b in sensor.qa_bands]
    return cube


def _decode(
    dn: np.ndarray, scale: np.ndarray, offset: np.ndarray, *, nodata: float | None
) -> np.ndarray:
    """DN × scale + offset, NaN where DN is `nodata`: one new array, changed in place.

    float32 arithmetic (DNs of up to 24 bits are exact in it): within 5e-7 of the float64
    result, at half the memory traffic of the fat tasks' largest step."""
    out = np.multiply(dn, scale, dtype="float32")
    out += offset
    if nodata is not None:
        np.putmask(out, dn == nodata, np.float32(np.nan))
    return out


class _NamedReader(RioReader):
    """odc-stac's rasterio reader; a read failure becomes an error naming the asset and why.

    (odc-stac re-raises rasterio's "Read failed" without the file: the user could not tell
    which of thousands of files is corrupt or truncated, or that access was refused.)
    """

    def read(self, cfg: Any, dst_geobox: GeoBox, *, dst: Any = None, selection: Any = None) -> Any:
        uri = str(self._src.uri)
        # a remote read that failed for a truncated body or a reset (which GDAL does not
        # retry) is tried again before the file is called corrupt; refused access is not
        attempts = READ_ATTEMPTS if "://" in uri or uri.startswith("/vsi") else 1
        for attempt in range(attempts):
            try:
                if attempt == 0:
                    fast = replicated_read(self._src, cfg, dst_geobox, dst, selection)
                    if fast is not None:
                        return fast
                    return super().read(cfg, dst_geobox, dst=dst, selection=selection)
                # GDAL keeps what it downloaded of the file (the truncated part too): read
                # it again from the server
                with rasterio.Env(CPL_VSIL_CURL_NON_CACHED=_vsi(uri)):
                    return super().read(cfg, dst_geobox, dst=dst, selection=selection)
            except Exception as exc:  # a truncated header can also lose the georeferencing
                if attempts == 1 and not isinstance(exc, rasterio.errors.RasterioError):
                    raise
                error = read_error(uri, exc)
                if isinstance(error, AccessError) or attempt == attempts - 1:
                    raise error from exc
                time.sleep(READ_BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _remote(item: pystac.Item, keys: Any) -> bool:
    """Whether the item's assets `keys` are read over the network."""
    hrefs = [item.assets[k].get_absolute_href() or "" for k in keys if k in item.assets]
    return any("://" in h and not h.startswith("file://") for h in hrefs)


def _vsi(uri: str) -> str:
    """GDAL's virtual path of an href (``/vsicurl/https://…``, ``/vsis3/bucket/key``)."""
    if uri.startswith("s3://"):
        return "/vsis3/" + uri.removeprefix("s3://")
    return uri if uri.startswith("/vsi") else "/vsicurl/" + uri


#: attempts at a remote read that fails (truncated body, reset), and the first wait (s),
#: doubled at each attempt (0.1 s: the AWS SDKs' base delay)
READ_ATTEMPTS = 4
READ_BACKOFF_S = 0.1
#: files a task reads at once when it reads its scenes now (`load(..., chunk=None)`)
READ_THREADS = 8


_DENIED = re.compile(r"access ?denied|forbidden|unauthori[sz]ed|(response|error) code:? ?40[13]\b")
_UNREACHABLE = re.compile(
    r"could not resolve|couldn't resolve|connection refused|couldn't connect|failed to connect"
    r"|timed out|network is unreachable"
)
_NO_CREDENTIALS = ("aws_secret_access_key", "aws_no_sign_request", "credentials")


def read_error(uri: str, exc: BaseException) -> VegcubeError:
    """The error to raise when reading `uri` failed with `exc`: access refused (with the
    setting to fix) or a corrupt/truncated file."""
    text = " ".join(str(exc).split())
    low = text.lower()
    if uri.startswith("s3://") and any(w in low for w in _NO_CREDENTIALS):
        return AccessError(
            f"asset {uri}: cannot be read ({text}); this S3 object needs AWS credentials: set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), then rerun"
        )
    if _DENIED.search(low):
        if uri.startswith("s3://"):
            fix = (
                "access denied by S3: for a requester-pays bucket (Earth Search landsat-c2-l2: "
                "s3://usgs-landsat) reading needs AWS credentials whose account pays the "
                "transfer (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE; vegcube sets "
                "AWS_REQUEST_PAYER=requester), or use the same collection from another catalog"
            )
        else:
            fix = (
                "access refused by the server: set its credentials (GDAL_HTTP_AUTH=BEARER with "
                "GDAL_HTTP_BEARER, GDAL_HTTP_HEADERS or ~/.netrc) or sign the items "
                "(planetary-computer)"
            )
        return AccessError(f"asset {uri}: cannot be read ({text}); {fix}; then rerun")
    if _UNREACHABLE.search(low):
        return DataError(
            f"asset {uri}: cannot be read ({text}); the server cannot be reached: check the "
            "network connection and the asset's address, then rerun (finished work is kept)"
        )
    return DataError(
        f"asset {uri}: cannot be read ({text}); the file is corrupt or truncated: download it "
        "again (or leave its item out) and rerun"
    )


class _NamedDriver(RioDriver):
    def open(self, src: Any, ctx: Any) -> _NamedReader:
        return _NamedReader(src, ctx)


def _unify(
    items: Sequence[pystac.Item], keys: Mapping[str, str], sensor: sensors.Sensor
) -> list[pystac.Item]:
    """Items whose asset for a band has another alias (Landsat 7 `lwir` beside Landsat 8/9
    `lwir11`) get it under the key of the first item too (clones; the originals are kept)."""
    out = []
    for item in items:
        missing = {b: k for b, k in keys.items() if k not in item.assets}
        if missing:
            item = item.clone()
            for band, key in missing.items():
                alt = next(
                    (a for a in sensor.asset_aliases.get(band, ()) if a in item.assets), None
                )
                if alt is None:
                    raise BandError(
                        f"band {band!r}: item {item.id} has no asset named "
                        f"{' or '.join(sensor.asset_aliases.get(band, (band,)))}"
                    )
                item.add_asset(key, item.assets[alt].clone())
        out.append(item)
    return out


def _resampling(item: pystac.Item, key: str, grid: GeoBox) -> str:
    """'average' when the asset is at least 1.5 times finer than the grid (area means, as
    coarser sensors see the ground), else 'bilinear'."""
    extra = item.assets[key].extra_fields
    rb = (extra.get("raster:bands") or [{}])[0]
    native = rb.get("spatial_resolution") or extra.get("gsd")
    if native is None and extra.get("proj:transform"):
        native = abs(extra["proj:transform"][0])
    coarse = native is not None and 1.5 * float(native) <= abs(grid.resolution.x)
    geographic = grid.crs is not None and grid.crs.geographic
    return "average" if coarse and not geographic else "bilinear"


def _combine(parts: list[xr.Dataset]) -> xr.Dataset:
    """Concatenate single-collection cubes along time, in time order; missing bands are NaN,
    missing QA bands hold their sensor's nodata."""
    fill: dict[str, Any] = {}
    for part in parts:
        sensor = sensors.for_collection(part.attrs["collection"])
        for q in part.attrs["qa_bands"]:
            nodata = sensor.storage(q)["nodata"]
            fill[q] = 0 if nodata is None else nodata
    names = {str(v) for p in parts for v in p.data_vars}
    fill.update({v: np.nan for v in names if v not in fill})
    ds = xr.concat(
        parts,
        dim="time",
        data_vars="all",
        coords="minimal",
        compat="override",
        join="outer",
        fill_value=fill,
        combine_attrs="drop",
    )
    order = np.argsort(ds.time.values, kind="stable")
    ds = ds.isel(time=order)
    for q in {q for p in parts for q in p.attrs["qa_bands"]}:  # a missing QA band came as float
        dtype = next(p[q].dtype for p in parts if q in p)
        if ds[q].dtype != dtype:
            ds[q] = ds[q].astype(dtype)
    ds.attrs["collection"] = ", ".join(p.attrs["collection"] for p in parts)
    ds.attrs["collections"] = [p.attrs["collection"] for p in parts]
    ds.attrs["qa_bands"] = sorted({q for p in parts for q in p.attrs["qa_bands"]})
    return ds
