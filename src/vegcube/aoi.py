"""Area of interest: bbox, GeoJSON or any vector file → lon/lat geometry and a target grid.

An AOI crossing the antimeridian (a bbox with west > east, a polygon with longitudes past
±180, or parts touching both -180 and 180) is refused as bad input with the advice to split
it at 180° into two runs: the catalog search, the UTM zone of the centre and the lon/lat
clipping would otherwise see one area spanning the globe.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import shapely
import xarray as xr
from affine import Affine
from odc.geo import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry import box, shape

from .errors import RecipeError

__all__ = [
    "AOILike",
    "AreaFields",
    "check_bbox",
    "clip_to_aoi",
    "grid",
    "inside",
    "read_aoi",
    "read_vector",
    "utm_crs",
]


class AreaFields(Protocol):
    """An AOI given by one of its fields (the recipe's `aoi` section has this shape)."""

    @property
    def bbox(self) -> tuple[float, float, float, float] | None: ...
    @property
    def path(self) -> Path | None: ...
    @property
    def layer(self) -> str | None: ...
    @property
    def geometry(self) -> dict[str, Any] | None: ...


AOILike = AreaFields | dict[str, Any] | tuple[float, float, float, float] | list[float] | str | Path


def check_bbox(bbox: tuple[float, float, float, float]) -> None:
    """`ValueError` unless `bbox` is [west, south, east, north] in degrees, west < east."""
    w, s, e, n = bbox
    # RFC 7946 antimeridian form (west > east); a wide one is rather a swapped order
    if -180 <= e < w <= 180 and -90 <= s < n <= 90 and e - w + 360 < 180:
        raise ValueError(
            f"bbox {list(bbox)} crosses the antimeridian (west > east), which is "
            f"not supported: split it at 180° into two runs, [{w}, {s}, 180, {n}] "
            f"and [-180, {s}, {e}, {n}]"
        )
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ValueError(
            "bbox must be [west, south, east, north] in degrees with west < east, "
            f"south < north, within ±180/±90; got {list(bbox)}"
        )


def read_aoi(aoi: AOILike) -> Geometry:
    """Normalise any AOI (bbox, GeoJSON dict, vector file, the recipe's `aoi` section) to a
    geometry in EPSG:4326."""
    if isinstance(aoi, (str, Path)):
        return _from_file(Path(aoi), None)
    if isinstance(aoi, (tuple, list)):
        return _from_bbox(aoi)
    if isinstance(aoi, dict):
        if "type" in aoi:  # a GeoJSON object
            return _from_geojson(aoi)
        unknown = sorted(set(aoi) - {"bbox", "path", "layer", "geometry"})
        if unknown:
            raise RecipeError(f"aoi: unknown key(s) {', '.join(unknown)}")
        given = [k for k in ("bbox", "path", "geometry") if aoi.get(k) is not None]
        if len(given) != 1:
            got = ", ".join(given) or "none"
            raise RecipeError(f"aoi: give exactly one of bbox, path or geometry (got {got})")
        bbox, geometry, path, layer = (aoi.get(k) for k in ("bbox", "geometry", "path", "layer"))
    else:
        bbox, geometry, path, layer = aoi.bbox, aoi.geometry, aoi.path, aoi.layer
    if bbox is not None:
        return _from_bbox(bbox)
    if geometry is not None:
        return _from_geojson(geometry)
    assert path is not None
    return _from_file(Path(path), layer)


def _from_geojson(obj: Any) -> Geometry:
    return _check(Geometry(_geojson(obj, "aoi.geometry"), "EPSG:4326"), "aoi.geometry")


def _from_bbox(bbox: Any) -> Geometry:
    try:
        values = tuple(float(v) for v in bbox)
        if len(values) != 4 or any(isinstance(v, bool) for v in bbox):
            raise ValueError
    except (TypeError, ValueError):
        raise RecipeError(
            f"aoi.bbox: {bbox!r} is not [west, south, east, north]: four numbers in degrees"
        ) from None
    try:
        check_bbox(values)
    except ValueError as exc:
        raise RecipeError(f"aoi: {exc}") from None
    return _check(Geometry(box(*values), "EPSG:4326"), "aoi.bbox")


def _geojson(obj: Any, where: str) -> shapely.Geometry:
    if not isinstance(obj, dict):
        raise RecipeError(
            f"{where}: not a GeoJSON geometry, Feature or FeatureCollection "
            f"(a JSON {type(obj).__name__}, not an object)"
        )
    kind = obj.get("type")
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list) or not features:
            raise RecipeError(
                f"{where}: the FeatureCollection has no features; give at least one feature "
                "with a Polygon or MultiPolygon geometry"
            )
        return shapely.union_all(
            [_feature(f, f"{where} feature {i}") for i, f in enumerate(features)]
        )
    if kind == "Feature":
        return _feature(obj, f"{where} Feature")
    return _shape(obj, where)


def _feature(obj: Any, where: str) -> shapely.Geometry:
    if not isinstance(obj, dict) or obj.get("geometry") is None:
        raise RecipeError(
            f"{where}: has no geometry (its 'geometry' is null or missing); give it a Polygon "
            "or MultiPolygon in lon/lat"
        )
    return _shape(obj["geometry"], where)


def _shape(obj: Any, where: str) -> shapely.Geometry:
    try:
        return shape(obj)
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise RecipeError(
            f"{where}: not a GeoJSON geometry, Feature or FeatureCollection ({exc})"
        ) from None


def _from_file(path: Path, layer: str | None) -> Geometry:
    if not path.exists():
        raise RecipeError(f"aoi.path: file {path} does not exist")
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RecipeError(f"aoi.path: {path} is not readable GeoJSON ({exc})") from exc
        where = f"aoi.path {path}"
        crs = _crs_member(data, where)
        geom = Geometry(_geojson(data, where), crs or "EPSG:4326")
        return _check(_to_lonlat(geom, path) if crs is not None else geom, where)
    meta, wkb, _ = read_vector(path, layer, "aoi")
    if meta.get("crs") is None:
        raise RecipeError(f"aoi.path: {path} has no CRS; save it with one (e.g. EPSG:4326)")
    if wkb is None or len(wkb) == 0:
        raise RecipeError(f"aoi.path: {path} has no features")
    geom = Geometry(shapely.union_all(shapely.from_wkb(wkb)), CRS(meta["crs"]))
    return _check(_to_lonlat(geom, path), f"aoi.path {path}")


def _crs_member(data: Any, where: str) -> CRS | None:
    """The CRS a GeoJSON names in its (pre-RFC 7946) `crs` member, as GDAL reads it; None
    for none or lon/lat (CRS84, EPSG:4326: coordinates are then read as lon/lat)."""
    member = data.get("crs") if isinstance(data, dict) else None
    if member is None:
        return None
    name = member.get("properties", {}).get("name") if isinstance(member, dict) else None
    try:
        crs = CRS(str(name))
    except Exception:  # pyproj and odc-geo raise several kinds
        raise RecipeError(
            f"{where}: its crs member names {name!r}, which is not a CRS; name one "
            "(e.g. EPSG:32758) or remove the member (GeoJSON is lon/lat, RFC 7946)"
        ) from None
    return None if crs.geographic and crs.epsg in (4326, None) else crs


def read_vector(
    path: Path, layer: str | int | None, key: str, *, fields: bool = False
) -> tuple[dict[str, Any], Any, Any]:
    """(meta, WKB geometries, attribute arrays) of a vector file's layer, for the recipe
    section `key` (aoi, regions); a file that cannot be read, a shapefile missing a side
    file, an unknown layer or several layers and none named are `RecipeError`s naming
    `key.path` or `key.layer` and what is accepted."""
    from pyogrio import list_layers
    from pyogrio.raw import read

    if path.suffix.lower() == ".shp":
        sides = (".shx", ".dbf") if fields else (".shx",)
        for side in sides:
            if not any(path.with_suffix(x).exists() for x in (side, side.upper())):
                raise RecipeError(
                    f"{key}.path: {path.name} is a shapefile whose {path.stem}{side} is "
                    f"missing beside it; copy the .shp with its .shx, .dbf and .prj"
                )
    try:
        layers = [str(name) for name, _ in list_layers(path)]
    except Exception as exc:  # pyogrio raises several DataSourceError flavours
        reason = str(exc).split(";")[0].replace(str(path), path.name)
        raise RecipeError(
            f"{key}.path: cannot read {path} ({reason}); accepted: a vector file "
            "(GeoJSON, GeoPackage, Shapefile, … any format GDAL reads) of polygons"
        ) from None
    if isinstance(layer, str) and layer not in layers:
        raise RecipeError(
            f"{key}.layer: {layer!r} is not a layer of {path.name}; it has: {', '.join(layers)}"
        )
    if layer is None and len(layers) > 1:
        raise RecipeError(
            f"{key}.layer: {path.name} has {len(layers)} layers ({', '.join(layers)}); "
            f"name one in {key}.layer"
        )
    try:
        meta, _, wkb, values = read(path, layer=layer, read_geometry=True)
    except Exception as exc:
        raise RecipeError(f"{key}.path: cannot read {path} (layer {layer!r}): {exc}") from None
    return meta, wkb, values


def _check(geom: Geometry, where: str) -> Geometry:
    g = geom.geom
    if g.is_empty:
        raise RecipeError(f"{where}: the geometry is empty")
    if g.geom_type in ("Polygon", "MultiPolygon") and shapely.make_valid(g).area == 0:
        raise RecipeError(
            f"{where}: the polygon has zero area (its points lie on a line); give an area"
        )
    if not g.is_valid:
        reason = shapely.is_valid_reason(g)
        raise RecipeError(f"{where}: invalid geometry ({reason}); fix it, e.g. with make_valid")
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        raise RecipeError(f"{where}: needs a Polygon or MultiPolygon, got {g.geom_type}")
    w, s, e, n = g.bounds
    degrees = s >= -90 and n <= 90 and w >= -360 and e <= 360
    if degrees and (w < -180 < e or w < 180 < e):
        raise RecipeError(f"{where}: {_ANTIMERIDIAN} (its longitudes run {w:g}..{e:g})")
    if not (w >= -180 and e <= 180 and s >= -90 and n <= 90):
        raise RecipeError(
            f"{where}: coordinates are not lon/lat degrees (bounds {g.bounds}); give the "
            "geometry in EPSG:4326, or a file with its CRS"
        )
    if w <= -180 + 1e-9 and e >= 180 - 1e-9:
        raise RecipeError(f"{where}: {_ANTIMERIDIAN} (it has parts at both -180 and 180)")
    return geom


_ANTIMERIDIAN = (
    "the area crosses the antimeridian, which is not supported: split it at 180° into two "
    "runs, one on each side"
)


def _to_lonlat(geom: Geometry, path: Path) -> Geometry:
    """`geom` in EPSG:4326, refusing a projected area that straddles the antimeridian."""
    lonlat = geom.to_crs("EPSG:4326")
    w, _, e, _ = lonlat.geom.bounds
    # a compact projected area that comes out wider than half the globe wrapped around ±180
    if e - w > 180 and geom.crs is not None and not geom.crs.geographic:
        raise RecipeError(f"aoi.path {path}: {_ANTIMERIDIAN} (its longitudes run {w:g}..{e:g})")
    return lonlat


def utm_crs(geom: Geometry) -> CRS:
    """The WGS 84 / UTM zone CRS of the geometry's centre."""
    c = geom.centroid.coords[0]
    zone = int((c[0] + 180) // 6) + 1
    return CRS(f"EPSG:{(32600 if c[1] >= 0 else 32700) + min(zone, 60)}")


def grid(geom: Geometry, *, crs: str = "auto", resolution: float = 10) -> GeoBox:
    """Target grid covering the AOI: pixel edges snapped to multiples of `resolution`."""
    target = utm_crs(geom) if crs == "auto" else CRS(crs)
    return GeoBox.from_geopolygon(geom.to_crs(target), resolution=resolution, crs=target)


def ground_resolution(obj: GeoBox | xr.Dataset | xr.DataArray) -> tuple[float, float]:
    """A grid's pixel size on the ground in metres, (y, x): the resolution of a projected
    grid; on a geographic grid (EPSG:4326, degrees), the geodesic size of its centre pixel.
    Without a CRS (plain coordinates), their spacing."""
    if isinstance(obj, GeoBox):
        gbox: GeoBox | None = obj
    else:
        try:
            gbox = obj.odc.geobox
        except (AttributeError, ValueError):
            gbox = None
    if gbox is None or gbox.crs is None:
        assert not isinstance(obj, GeoBox)
        step = {d: abs(float(obj[d][1] - obj[d][0])) for d in "yx" if obj.sizes.get(d, 0) > 1}
        return step.get("y", step.get("x", 1.0)), step.get("x", step.get("y", 1.0))
    dy, dx = abs(gbox.resolution.y), abs(gbox.resolution.x)
    if not gbox.crs.geographic:
        return dy, dx
    from pyproj import Geod

    lon, lat = centre(gbox)
    geod = Geod(ellps="WGS84")
    return (
        float(geod.inv(lon, lat - dy / 2, lon, lat + dy / 2)[2]),
        float(geod.inv(lon - dx / 2, lat, lon + dx / 2, lat)[2]),
    )


def centre(grid: GeoBox) -> tuple[float, float]:
    """(lon, lat) of the centroid of `grid`'s footprint (its geographic extent), which dates
    scenes by their local solar day. Cached: the extent is densified and reprojected, ~4 ms,
    and every task of a run asks for its tile's."""
    return _centre(str(grid.crs), tuple(grid.affine)[:6], (grid.shape[0], grid.shape[1]))


@lru_cache(maxsize=256)
def _centre(crs: str, affine: tuple[float, ...], shape: tuple[int, int]) -> tuple[float, float]:
    grid = GeoBox(shape, Affine(*affine), crs)
    lon, lat = grid.geographic_extent.centroid.coords[0]
    return float(lon), float(lat)


def inside(ds: xr.Dataset | xr.DataArray, geom: Geometry) -> xr.DataArray:
    """Boolean (y, x): True where a pixel's centre lies inside the AOI polygon."""
    gbox: GeoBox = ds.odc.geobox
    assert gbox.crs is not None
    values = _rasterize(geom.to_crs(gbox.crs), gbox)
    return xr.DataArray(values, dims=("y", "x"), coords={"y": ds.y, "x": ds.x})


def clip_to_aoi(ds: xr.Dataset, geom: Geometry) -> xr.Dataset:
    """Set pixels whose centre lies outside the AOI polygon to NaN (lazily)."""
    mask = inside(ds, geom)
    return ds if bool(mask.all()) else ds.where(mask)


def _rasterize(geom: Geometry, gbox: GeoBox) -> np.ndarray:
    from rasterio.features import geometry_mask

    return ~geometry_mask(
        [geom.geom], out_shape=gbox.shape, transform=gbox.affine, all_touched=False
    )
