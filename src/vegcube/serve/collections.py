"""The collections `vegcube serve` offers: where each comes from, its openEO metadata, and
`Backend.load_collection` on `vegcube.catalog` (search) and `vegcube.cube` (read).

A collections file maps openEO ids to catalogs, one line each::

    SENTINEL2_L2A: {catalog: earth-search, collection: sentinel-2-l2a}
    LOCAL_S2: {catalog: ./archive/catalog.json, collection: sentinel-2-l2a, resolution: 20}

(keys: ``catalog``, ``collection``, optional ``title``, ``description``, ``resolution``,
``crs``). Bands are named as the Copernicus Data Space names them (B01…B12, B8A, SCL) and
reflectances come as it delivers them: DN with the processing-baseline offset removed
(reflectance × 10000), SCL as its class numbers; Landsat and MODIS bands carry their physical
values. The grid is native: the UTM zone of the area (or the bbox's own projected CRS) at the
sensor's resolution.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .errors import OpenEOError

__all__ = [
    "BANDS",
    "Backend",
    "Band",
    "Source",
    "collection_metadata",
    "default_sources",
    "demo_sources",
    "read_sources",
]


@dataclass(frozen=True)
class Band:
    """One band as openEO names it: its label, vegcube's name for it, and its ``eo:bands``."""

    label: str
    vegcube: str
    common_name: str | None = None
    wavelength: float | None = None  # centre, µm
    gsd: float | None = None
    #: multiplier from vegcube's value to the delivered one (Sentinel-2 reflectance: 10000)
    scale: float = 1.0


def _s2(label: str, name: str, common: str, wl: float, gsd: float) -> Band:
    return Band(label, name, common, wl, gsd, 10000.0)


#: the bands of each sensor (`vegcube.sensors` name), in the order collections list them
BANDS: dict[str, tuple[Band, ...]] = {
    "sentinel2": (
        _s2("B01", "coastal", "coastal", 0.443, 60),
        _s2("B02", "blue", "blue", 0.49, 10),
        _s2("B03", "green", "green", 0.56, 10),
        _s2("B04", "red", "red", 0.665, 10),
        _s2("B05", "rededge1", "rededge", 0.705, 20),
        _s2("B06", "rededge2", "rededge", 0.74, 20),
        _s2("B07", "rededge3", "rededge", 0.783, 20),
        _s2("B08", "nir", "nir", 0.842, 10),
        _s2("B8A", "nir08", "nir08", 0.865, 20),
        _s2("B09", "nir09", "nir09", 0.945, 60),
        _s2("B11", "swir16", "swir16", 1.61, 20),
        _s2("B12", "swir22", "swir22", 2.19, 20),
        Band("SCL", "scl", None, None, 20),
    ),
    "landsat": (
        Band("coastal", "coastal", "coastal", 0.44, 30),
        Band("blue", "blue", "blue", 0.48, 30),
        Band("green", "green", "green", 0.56, 30),
        Band("red", "red", "red", 0.655, 30),
        Band("nir08", "nir08", "nir", 0.865, 30),
        Band("swir16", "swir16", "swir16", 1.61, 30),
        Band("swir22", "swir22", "swir22", 2.2, 30),
        Band("lwir11", "lwir11", "lwir11", 10.9, 100),
        Band("qa_pixel", "qa_pixel", None, None, 30),
    ),
    "modis13q1": (
        Band("NDVI", "ndvi", None, None, 250),
        Band("EVI", "evi", None, None, 250),
        Band("blue_reflectance", "blue", "blue", 0.469, 250),
        Band("red_reflectance", "red", "red", 0.645, 250),
        Band("NIR_reflectance", "nir", "nir", 0.858, 250),
        Band("MIR_reflectance", "swir22", "swir22", 2.13, 250),
        Band("VI_Quality", "vi_quality", None, None, 250),
        Band("pixel_reliability", "pixel_reliability", None, None, 250),
        Band("composite_day_of_the_year", "composite_doy", None, None, 250),
    ),
}
#: native resolution (m) of each sensor's grid
RESOLUTION = {"sentinel2": 10.0, "landsat": 30.0, "modis13q1": 250.0}


@dataclass(frozen=True)
class Source:
    """Where an openEO collection comes from: a catalog (known name, STAC API URL or static
    catalog) and its collection; the grid's `resolution` (None: the sensor's) and `crs`."""

    id: str
    catalog: str
    collection: str
    title: str = ""
    description: str = ""
    resolution: float | None = None
    crs: str = "auto"

    @property
    def sensor(self) -> str:
        from .. import sensors

        return sensors.for_collection(self.collection).name

    def band_table(self) -> tuple[Band, ...]:
        """The bands of its sensor (`BANDS`)."""
        return BANDS.get(self.sensor, ())


_KEYS = ("catalog", "collection", "title", "description", "resolution", "crs")


def read_sources(path: str | Path) -> dict[str, Source]:
    """The collections of a YAML file (see the module docstring); every problem at once,
    each naming the collection and key. Relative catalog paths are read from the file's
    folder."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the collections file {path}: {exc}") from None
    if not isinstance(doc, dict) or not doc:
        raise InputError(
            f"{path}: expected a mapping of collection ids to {{catalog: ..., collection: ...}}"
        )
    problems, out = [], {}
    for cid, entry in doc.items():
        if not isinstance(entry, dict):
            problems.append(f"{cid}: expected {{catalog: ..., collection: ...}}, got {entry!r}")
            continue
        unknown = sorted(set(entry) - set(_KEYS))
        missing = [k for k in ("catalog", "collection") if not entry.get(k)]
        if unknown:
            problems.append(f"{cid}: unknown key(s) {', '.join(unknown)}; accepted: {_KEYS}")
        if missing:
            problems.append(f"{cid}: missing {' and '.join(missing)}")
        if unknown or missing:
            continue
        catalog = str(entry["catalog"])
        if "://" not in catalog and not _named(catalog):
            catalog = str((path.parent / catalog).resolve())
        try:
            source = Source(
                str(cid),
                catalog,
                str(entry["collection"]),
                title=str(entry.get("title") or ""),
                description=str(entry.get("description") or ""),
                resolution=_number(entry.get("resolution")),
                crs=str(entry.get("crs") or "auto"),
            )
            source.sensor  # noqa: B018 - a collection no sensor describes is refused here
        except (InputError, ValueError) as exc:
            problems.append(f"{cid}: {exc}")
            continue
        out[str(cid)] = source
    if problems:
        raise InputError(f"collections file {path}: " + "; ".join(problems))
    return out


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _named(catalog: str) -> bool:
    from ..catalog import CATALOGS

    return catalog in CATALOGS


def default_sources() -> dict[str, Source]:
    """Sentinel-2 L2A (Earth Search), Landsat C2 L2 and MODIS 13Q1 (Planetary Computer)."""
    return {
        s.id: s
        for s in (
            Source("SENTINEL2_L2A", "earth-search", "sentinel-2-l2a", "Sentinel-2 L2A"),
            Source("LANDSAT_C2_L2", "planetary-computer", "landsat-c2-l2", "Landsat C2 L2"),
            Source("MODIS_13Q1", "planetary-computer", "modis-13Q1-061", "MODIS 13Q1 v6.1"),
        )
    }


def demo_sources(catalog: str | Path) -> dict[str, Source]:
    """The generated demo archive (`vegcube.testing.generate_archive`) as SENTINEL2_L2A."""
    title = "Sentinel-2 L2A (vegcube demo archive, offline)"
    return {"SENTINEL2_L2A": Source("SENTINEL2_L2A", str(catalog), "sentinel-2-l2a", title)}


# --------------------------------------------------------------------------- metadata

_EXTENSIONS = [
    "https://stac-extensions.github.io/datacube/v2.2.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
]
#: the native grid: the UTM zone of the area (as the Copernicus Data Space describes it)
_AUTO_UTM = {
    "$schema": "https://proj.org/schemas/v0.2/projjson.schema.json",
    "type": "GeodeticReferenceSystem",
    "name": "AUTO 42001 (Universal Transverse Mercator)",
    "datum": {
        "type": "GeodeticReferenceFrame",
        "name": "World Geodetic System 1984",
        "ellipsoid": {
            "name": "WGS 84",
            "semi_major_axis": 6378137,
            "inverse_flattening": 298.257223563,
        },
    },
    "area": "World",
    "bbox": {
        "south_latitude": -90,
        "west_longitude": -180,
        "north_latitude": 90,
        "east_longitude": 180,
    },
    "id": {"authority": "OGC", "version": "1.3", "code": "Auto42001"},
}


def collection_metadata(source: Source, base_url: str) -> dict[str, Any]:
    """The STAC collection of ``/collections/{id}``: extent, ``cube:dimensions`` (x, y, t,
    bands) and ``summaries`` ``eo:bands``."""
    bbox, interval, assets = _remote_facts(source.catalog, source.collection)
    bands = _offered(source, assets)
    res = source.resolution or RESOLUTION.get(source.sensor, 10.0)
    crs: Any = _AUTO_UTM if source.crs == "auto" else source.crs
    url = f"{base_url.rstrip('/')}/collections/{source.id}"
    return {
        "stac_version": "1.0.0",
        "stac_extensions": _EXTENSIONS,
        "type": "Collection",
        "id": source.id,
        "title": source.title or source.id,
        "description": source.description
        or f"{source.collection} from {source.catalog}, read by vegcube on its native grid.",
        "license": "proprietary",
        "keywords": [source.collection, source.sensor],
        "providers": [{"name": "vegcube", "roles": ["processor", "host"]}],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [interval]}},
        "cube:dimensions": {
            "x": {
                "type": "spatial",
                "axis": "x",
                "extent": [bbox[0], bbox[2]],
                "reference_system": crs,
                "step": res,
            },
            "y": {
                "type": "spatial",
                "axis": "y",
                "extent": [bbox[1], bbox[3]],
                "reference_system": crs,
                "step": res,
            },
            "t": {"type": "temporal", "extent": interval, "step": None},
            "bands": {"type": "bands", "values": [b.label for b in bands]},
        },
        "summaries": {
            "eo:bands": [_eo_band(b) for b in bands],
            "gsd": sorted({b.gsd for b in bands if b.gsd is not None}),
        },
        "links": [
            {"rel": "self", "href": url, "type": "application/json"},
            {"rel": "root", "href": f"{base_url.rstrip('/')}/", "type": "application/json"},
            {"rel": "parent", "href": f"{base_url.rstrip('/')}/", "type": "application/json"},
        ],
    }


def _eo_band(band: Band) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": band.label}
    if band.common_name:
        doc["common_name"] = band.common_name
    if band.wavelength is not None:
        doc["center_wavelength"] = band.wavelength
    if band.gsd is not None:
        doc["gsd"] = band.gsd
    return doc


def _offered(source: Source, assets: frozenset[str] | None) -> tuple[Band, ...]:
    """The source's bands, narrowed to those the catalog's ``item_assets`` hold (if known)."""
    from .. import sensors

    table = source.band_table()
    if not assets:
        return table
    aliases = sensors.for_collection(source.collection).asset_aliases
    kept = tuple(b for b in table if set(aliases.get(b.vegcube, (b.vegcube,))) & assets)
    return kept or table


_WORLD = [-180.0, -90.0, 180.0, 90.0]


@lru_cache(maxsize=64)
def _remote_facts(
    catalog: str, collection: str
) -> tuple[list[float], list[str | None], frozenset[str] | None]:
    """(bbox, interval, item_assets keys) of a collection, read once; the whole world and
    an open interval when the catalog cannot be read (metadata must not need the network)."""
    from ..catalog import resolve_catalog

    try:
        href = resolve_catalog(catalog)
        if "://" in href and not href.endswith(".json"):
            req = urllib.request.Request(f"{href.rstrip('/')}/collections/{collection}")
            with urllib.request.urlopen(req, timeout=5) as resp:
                doc = json.loads(resp.read())
        else:
            doc = _static_collection(href, collection)
    except Exception:  # offline, unknown, not STAC: the metadata stays generic
        return _WORLD, [None, None], None
    extent = doc.get("extent", {})
    bbox = (extent.get("spatial", {}).get("bbox") or [_WORLD])[0]
    interval = (extent.get("temporal", {}).get("interval") or [[None, None]])[0]
    assets = doc.get("item_assets")
    return (
        [float(v) for v in bbox[:4]],
        [None if v is None else str(v) for v in interval[:2]],
        frozenset(assets) if isinstance(assets, dict) else None,
    )


def _static_collection(href: str, collection: str) -> dict[str, Any]:
    import pystac

    root = pystac.Catalog.from_file(href)
    for coll in root.get_all_collections():
        if coll.id == collection:
            return dict(coll.to_dict(include_self_link=False, transform_hrefs=False))
    raise KeyError(collection)


# --------------------------------------------------------------------------- loading


class Backend:
    """`load_collection` of the evaluator over the `sources` (openEO id → `Source`).

    `chunk` is the dask chunk side in pixels of the cubes it returns.
    """

    def __init__(self, sources: Mapping[str, Source], *, chunk: int = 1024) -> None:
        self.sources = dict(sources)
        self.chunk = chunk

    def source(self, id: str) -> Source:
        """The source of collection `id`; `CollectionNotFound` lists the others."""
        if id not in self.sources:
            raise OpenEOError(
                "CollectionNotFound",
                f"Collection '{id}' does not exist; available: {', '.join(self.sources)}",
            )
        return self.sources[id]

    def load_collection(
        self,
        id: str,
        *,
        spatial_extent: dict[str, Any] | None = None,
        temporal_extent: Sequence[Any] | None = None,
        bands: Sequence[str] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Any:
        """A lazy cube (t, bands, y, x) of collection `id` (see the module docstring), with
        each band's ``common_name`` as a coordinate:
        `temporal_extent` [start, end) with the end excluded, `bands` in the order asked
        (labels or common names), `properties` filters on item properties; a GeoJSON
        `spatial_extent` leaves NaN outside its polygons."""
        import xarray as xr

        from .. import aoi, catalog, cube

        source = self.source(id)
        wanted = _bands(source, bands)
        bbox, interval, _ = _remote_facts(source.catalog, source.collection)
        geom, native, polygon = _area(spatial_extent, bbox, id)
        t0, t1 = _interval(temporal_extent, interval)
        tests, max_cc = _property_tests(properties or {})
        w, s, e, n = geom.boundingbox
        items = catalog.search(
            source.catalog,
            collection=source.collection,
            bbox=(w, s, e, n),
            start=t0.date(),
            end=(t1 - dt.timedelta(microseconds=1)).date(),
            max_cloud_cover=max_cc,
        )
        items = [it for it in items if t0 <= _when(it) < t1 and _passes(it.properties, tests)]
        if not items:
            raise OpenEOError(
                "NoDataAvailable",
                f"There is no data available for the given extents: no {id} scene "
                f"between {t0:%Y-%m-%dT%H:%M:%SZ} and {t1:%Y-%m-%dT%H:%M:%SZ} over "
                f"[{w:.5f}, {s:.5f}, {e:.5f}, {n:.5f}] passes the filters",
            )
        grid = _grid(geom, native, source)
        names = list(dict.fromkeys(b.vegcube for b in wanted))
        ds = cube.load(items, names, grid=grid, collection=source.collection, chunk=self.chunk)
        # scaled reflectances are whole DN again (float32 rounding removed), NaN kept
        parts = [
            (ds[b.vegcube] * np.float32(b.scale)).round() if b.scale != 1 else ds[b.vegcube]
            for b in wanted
        ]
        da = xr.concat(parts, dim="bands", coords="minimal", compat="override", join="exact")
        da = da.assign_coords(
            bands=list(bands or [b.label for b in wanted]),
            common_name=("bands", [b.common_name or "" for b in wanted]),
        )
        keep = {"time", "bands", "common_name", "y", "x", "spatial_ref"}
        da = da.drop_vars([c for c in da.coords if c not in keep])
        da = da.rename(time="t").transpose("t", "bands", "y", "x")
        da.attrs, da.name = {}, None
        if polygon:
            da = da.where(aoi.inside(da, geom))
        return da


def _bands(source: Source, asked: Sequence[str] | None) -> list[Band]:
    bbox_assets = _remote_facts(source.catalog, source.collection)[2]
    table = _offered(source, bbox_assets)
    if not asked:
        return list(table)
    by_label = {b.label: b for b in source.band_table()}
    by_common = {b.common_name: b for b in reversed(table) if b.common_name}
    out: list[Band] = []
    bad: list[str] = []
    for name in asked:
        band = by_label.get(name) or by_common.get(name)
        if band is None:
            bad.append(name)
        else:
            out.append(band)
    if bad:
        raise OpenEOError(
            "ProcessParameterInvalid",
            f"The value passed for parameter 'bands' in process 'load_collection' is invalid: "
            f"{', '.join(map(str, bad))} not in {source.id}; its bands: "
            f"{', '.join(b.label for b in table)}",
        )
    return out


def _area(extent: Any, default_bbox: list[float], id: str) -> tuple[Any, Any, bool]:
    """(lon/lat geometry, the bbox in the projected CRS it was given in or None, polygon?)."""
    from odc.geo import CRS
    from odc.geo.geom import Geometry, box

    from .. import aoi

    if extent is None:
        if default_bbox == _WORLD:
            raise OpenEOError(
                "ProcessParameterInvalid",
                f"load_collection: give a spatial_extent; {id} covers the whole world, which "
                "vegcube does not read at once",
            )
        return aoi.read_aoi(list(default_bbox)), None, False
    if not isinstance(extent, dict):
        raise OpenEOError(
            "ProcessParameterInvalid",
            "load_collection: spatial_extent must be a bounding box {west, south, east, north, "
            f"crs}} or a GeoJSON object, got {type(extent).__name__}",
        )
    if "type" in extent:  # GeoJSON
        return aoi.read_aoi(extent), None, True
    try:
        w, s, e, n = (float(extent[k]) for k in ("west", "south", "east", "north"))
        code = extent.get("crs") or 4326
        crs = CRS(f"EPSG:{code}" if isinstance(code, int) or str(code).isdigit() else code)
    except (KeyError, TypeError, ValueError) as exc:
        raise OpenEOError(
            "ProcessParameterInvalid",
            f"load_collection: spatial_extent {extent!r} is not a bounding box with west, "
            f"south, east, north (and crs) ({exc})",
        ) from None
    if crs.geographic:
        return aoi.read_aoi([w, s, e, n]), None, False
    given = Geometry(box(w, s, e, n, crs).geom, crs)
    return given.to_crs("EPSG:4326"), given, False


def _grid(geom: Any, native: Any, source: Source) -> Any:
    from odc.geo.geobox import GeoBox

    from .. import aoi

    res = source.resolution or RESOLUTION.get(source.sensor, 10.0)
    if source.crs != "auto":
        return aoi.grid(geom, crs=source.crs, resolution=res)
    if native is not None:  # the bbox as given, in its own projected CRS
        return GeoBox.from_geopolygon(native, resolution=res, crs=native.crs)
    return aoi.grid(geom, resolution=res)


def _interval(extent: Sequence[Any] | None, default: list[str | None]) -> tuple[Any, Any]:
    """[start, end) as UTC datetimes; a missing bound is the collection's (or open)."""
    given = list(extent) if extent is not None else [None, None]
    if len(given) != 2:
        raise OpenEOError(
            "ProcessParameterInvalid",
            f"load_collection: temporal_extent must be [start, end], got {extent!r}",
        )
    start = given[0] if given[0] is not None else default[0] or "1970-01-01"
    end = given[1]
    t0 = _utc(start)
    if end is None:
        stop = _utc(default[1]) if default[1] else dt.datetime.now(dt.timezone.utc)
        t1 = stop + dt.timedelta(days=1)
    else:
        t1 = _utc(end)
    if t1 <= t0:
        raise OpenEOError(
            "ProcessParameterInvalid",
            f"load_collection: temporal_extent {list(given)} is empty (the end is excluded)",
        )
    return t0, t1


def _utc(value: Any) -> dt.datetime:
    try:
        text = str(value).replace("Z", "+00:00")
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise OpenEOError(
            "ProcessParameterInvalid",
            f"load_collection: {value!r} is not a date (YYYY-MM-DD) or an RFC 3339 date-time",
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _when(item: Any) -> dt.datetime:
    when = item.datetime or item.common_metadata.start_datetime
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


# --------------------------------------------------------------------------- properties

Test = Callable[[Any], bool]
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lte": operator.le,
    "lt": operator.lt,
    "gte": operator.ge,
    "gt": operator.gt,
    "eq": operator.eq,
    "neq": operator.ne,
}
_MIRROR = {"lte": "gte", "lt": "gt", "gte": "lte", "gt": "lt", "eq": "eq", "neq": "neq"}


def _property_tests(properties: Mapping[str, Any]) -> tuple[dict[str, Test], float]:
    """A test per item property, and the largest cloud cover they allow (for the search).

    A condition is a callable (the evaluator's ``PropertyFilter``, whose ``comparison``
    gives the bound) or an openEO process ``{"process_graph": ...}`` of ``value``.
    """
    tests: dict[str, Test] = {}
    max_cc = 100.0
    for name, callback in properties.items():
        if callable(callback):  # the evaluator's PropertyFilter: a test, maybe a comparison
            tests[name] = callback
            found = getattr(callback, "comparison", None)
            bound = found[1] if found and found[0] in ("lte", "lt", "eq") else None
            if name == "eo:cloud_cover" and bound is not None and _numeric(bound):
                max_cc = min(max_cc, float(bound))
            continue
        graph = callback.get("process_graph") if isinstance(callback, dict) else None
        if not isinstance(graph, dict) or not graph:
            raise OpenEOError(
                "ProcessParameterInvalid",
                f"load_collection: properties.{name} must be a process {{process_graph: ...}}",
            )
        test, upper = _simple(graph)
        tests[name] = test if test is not None else _evaluated(graph)
        if name == "eo:cloud_cover" and upper is not None:
            max_cc = min(max_cc, upper)
    return tests, max_cc


def _simple(graph: dict[str, Any]) -> tuple[Test | None, float | None]:
    """A one-node comparison of ``value`` with constants, as a test and its upper bound."""
    if len(graph) != 1:
        return None, None
    node = next(iter(graph.values()))
    pid, args = node.get("process_id"), node.get("arguments", {})
    param = {"from_parameter": "value"}
    if pid in _COMPARE:
        x, y = args.get("x"), args.get("y")
        if x == param and not isinstance(y, dict):
            op, other = pid, y
        elif y == param and not isinstance(x, dict):
            op, other = _MIRROR[pid], x
        else:
            return None, None
        compare = _COMPARE[op]
        upper = float(other) if op in ("lte", "lt", "eq") and _numeric(other) else None
        return (lambda v: v is not None and bool(compare(v, other))), upper
    if pid == "between" and args.get("x") == param:
        lo, hi, open_hi = args.get("min"), args.get("max"), bool(args.get("exclude_max"))
        if isinstance(lo, dict) or isinstance(hi, dict):
            return None, None

        def between(v: Any) -> bool:
            return v is not None and lo <= v and (v < hi if open_hi else v <= hi)

        return between, float(hi) if _numeric(hi) else None
    return None, None


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _evaluated(graph: dict[str, Any]) -> Test:
    """Any other condition: the evaluator runs it with ``value`` bound to the property."""
    from .processes import evaluate

    def test(value: Any) -> bool:
        return value is not None and bool(evaluate(graph, parameters={"value": value}))

    return test


def _passes(properties: Mapping[str, Any], tests: Mapping[str, Test]) -> bool:
    return all(test(properties.get(name)) for name, test in tests.items())
