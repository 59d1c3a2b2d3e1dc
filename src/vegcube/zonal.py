"""Zonal statistics: a (time, y, x) cube + regions → per-region time series (exactextract).

>>> regions = read_regions("districts.geojson", id="name")
>>> df = stats(ds, regions)            # region, time, variable, mean, std, count, valid_fraction
>>> write(df, "out/")                  # out/zonal.parquet and out/zonal.csv

Statistics are weighted by the fraction of each pixel the region covers: `mean` and `std`
(population standard deviation, coverage-weighted) over the valid (non-NaN) pixels, `count`
= sum of the coverage fractions of valid pixels, `valid_fraction` = `count` / sum of the
coverage fractions of all pixels of the grid the region covers. A region that does not
overlap the grid still gets its rows (NaN `mean`/`std`, `count` 0, `valid_fraction` 0) so
every region has a complete series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
import xarray as xr
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from odc.geo import xr as _odc_xr  # noqa: F401  (registers the .odc accessor)
from pyproj import CRS, Transformer

from .errors import DataError, RecipeError
from .export import atomic_path

__all__ = ["COLUMNS", "Regions", "read_regions", "stats", "write"]

COLUMNS = ("region", "time", "variable", "mean", "std", "count", "valid_fraction")
_MAX_CELLS = 30_000_000  # pixels (all variables x time steps) held in memory per block


@dataclass(frozen=True)
class Regions:
    """Named polygons: `ids[i]` names `geometries[i]`, coordinates in `crs`."""

    ids: tuple[str, ...]
    geometries: tuple[shapely.Geometry, ...]
    crs: CRS
    source: str = "regions"

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.geometries):
            raise ValueError("Regions: ids and geometries differ in length")

    def __len__(self) -> int:
        return len(self.ids)


def read_regions(
    path: str | Path,
    *,
    id: str = "name",
    layer: str | int | None = None,
    aoi: Any = None,
) -> Regions:
    """Read polygons and their `id` attribute from any vector file pyogrio reads.

    With `aoi` (an odc-geo `Geometry`), regions none of which intersects it are refused:
    the per-region series would all be empty (a file of another area).
    """
    from .aoi import read_vector

    path = Path(path)
    if not path.exists():
        raise RecipeError(f"regions.path: file {path} does not exist")
    meta, wkb, fields = read_vector(path, layer, "regions", fields=True)
    if wkb is None or len(wkb) == 0:
        raise RecipeError(f"regions.path: {path.name} has no features; give polygons")
    names = [str(f) for f in meta.get("fields", [])]
    if id not in names:
        raise RecipeError(
            f"regions.id: {id!r} is not an attribute of {path.name}; "
            f"it has: {', '.join(names) or 'no attributes'}"
        )
    if meta.get("crs") is None:
        raise RecipeError(f"regions.path: {path} has no CRS; save it with one (e.g. EPSG:4326)")
    if wkb is None or len(wkb) == 0:
        raise RecipeError(f"regions.path: {path} has no features")
    values = fields[names.index(id)]
    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in values):
        raise RecipeError(f"regions.id: some features of {path.name} have no {id!r}")
    ids = tuple(str(v) for v in values)
    dups = sorted({i for i in ids if ids.count(i) > 1})
    if dups:
        raise RecipeError(
            f"regions.id: {id!r} is not unique in {path.name} (repeated: {', '.join(dups)}); "
            "choose an attribute with one value per region"
        )
    geoms = tuple(shapely.from_wkb(wkb))
    for rid, g in zip(ids, geoms, strict=True):
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            kind = "no geometry" if g is None or g.is_empty else f"a {g.geom_type}"
            raise RecipeError(
                f"regions.path: region {rid!r} of {path.name} has {kind}, not a polygon"
            )
        if not g.is_valid:
            reason = shapely.is_valid_reason(g)
            raise RecipeError(
                f"regions.path: region {rid!r} of {path.name} is invalid ({reason}); "
                "fix it, e.g. with make_valid"
            )
    regions = Regions(ids, geoms, CRS.from_user_input(meta["crs"]), str(path))
    if aoi is not None:
        area = aoi.to_crs(regions.crs.to_wkt()).geom
        if not any(g.intersects(area) for g in geoms):
            raise RecipeError(
                f"regions.path: none of the {len(ids)} regions of {path.name} intersects the "
                f"AOI (regions' bounds {_bounds(geoms)}, AOI's {_bounds([area])}, in "
                f"{regions.crs.name}); give the regions of the AOI's area"
            )
    return regions


def _bounds(geoms: Sequence[shapely.Geometry]) -> str:
    w, s, e, n = shapely.total_bounds(list(geoms))
    return f"[{w:.6g}, {s:.6g}, {e:.6g}, {n:.6g}]"


def stats(
    ds: xr.Dataset,
    regions: Regions,
    *,
    variables: Sequence[str] | None = None,
    time_block: int = 36,
) -> pd.DataFrame:
    """Coverage-weighted mean, std, count and valid fraction per region, time step and variable.

    `variables` defaults to the float (time, y, x) variables; integer variables (e.g. drought
    classes) are used only when named, as floats with their `_FillValue` as no data.
    At most `time_block` time steps (fewer if the window is large) are loaded at once.
    """
    names = _variables(ds, variables)
    if ds.odc.crs is None:
        raise DataError("zonal.stats: the dataset has no CRS (no spatial_ref coordinate)")
    if ds.y.size > 1 and ds.y.values[1] > ds.y.values[0]:
        ds = ds.isel(y=slice(None, None, -1))
    affine = ds.odc.geobox.affine
    if affine.b != 0 or affine.d != 0:
        raise DataError("zonal.stats: rotated grids are not supported")
    wkt = CRS.from_user_input(ds.odc.crs.to_wkt()).to_wkt()
    geoms = _to_crs(regions, CRS.from_wkt(wkt))
    feats = [
        {"type": "Feature", "properties": {"i": i}, "geometry": shapely.geometry.mapping(g)}
        for i, g in enumerate(geoms)
    ]
    times = ds.time.values
    nr, nv, nt = len(regions), len(names), times.size
    out = {k: np.full((nr, nv, nt), np.nan) for k in ("mean", "std", "count")}
    total = np.zeros(nr)
    window = _window(geoms, affine, ds.y.size, ds.x.size)
    if window is not None and nt:
        ys, xs, extent = window
        total = _coverage(feats, extent, (ys.stop - ys.start, xs.stop - xs.start), wkt)
        cells = nv * (ys.stop - ys.start) * (xs.stop - xs.start)
        step = max(1, min(time_block, _MAX_CELLS // cells))
        for t0 in range(0, nt, step):
            tsl = slice(t0, min(t0 + step, nt))
            block = ds[names].isel(time=tsl, y=ys, x=xs).compute()
            arrays = [_as_float(block[v].transpose("time", "y", "x")) for v in names]
            res = _extract(arrays, feats, extent, wkt)
            for k in out:
                out[k][:, :, tsl] = res[k]
    out["count"] = np.nan_to_num(out["count"])
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(total[:, None, None] > 0, out["count"] / total[:, None, None], 0.0)
    df = pd.DataFrame(
        {
            "region": np.repeat(np.asarray(regions.ids, dtype=object), nv * nt),
            "time": np.tile(times, nr * nv),
            "variable": np.tile(np.repeat(np.asarray(names, dtype=object), nt), nr),
            "mean": out["mean"].ravel(),
            "std": out["std"].ravel(),
            "count": out["count"].ravel(),
            "valid_fraction": frac.ravel(),
        }
    )
    df["time"] = pd.to_datetime(df["time"])
    return df.sort_values(["region", "variable", "time"], kind="stable").reset_index(drop=True)


def write(df: pd.DataFrame, out_dir: str | Path) -> tuple[Path, Path]:
    """Write `df` as OUT/zonal.parquet and OUT/zonal.csv (each via a temporary name)."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"zonal.write: the table lacks columns {', '.join(missing)}")
    table = df[list(COLUMNS)]
    out = Path(out_dir)
    parquet, csv = out / "zonal.parquet", out / "zonal.csv"
    with atomic_path(parquet) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S")
    return parquet, csv


def _variables(ds: xr.Dataset, variables: Sequence[str] | None) -> list[str]:
    cube = [str(v) for v, da in ds.data_vars.items() if set(da.dims) == {"time", "y", "x"}]
    if variables is None:
        names = [v for v in cube if ds[v].dtype.kind == "f"]
        if not names:
            raise RecipeError(
                f"zonal: no float (time, y, x) variable in the dataset; it has: "
                f"{', '.join(map(str, ds.data_vars)) or 'none'}"
            )
        return names
    if isinstance(variables, str):
        variables = [variables]
    for v in variables:
        if v not in cube:
            raise RecipeError(
                f"zonal.variables: {v!r} is not a (time, y, x) variable of the dataset; "
                f"choose from: {', '.join(cube) or 'none'}"
            )
    return list(dict.fromkeys(variables))


def _as_float(da: xr.DataArray) -> np.ndarray:
    if da.dtype.kind == "f":
        return np.ascontiguousarray(da.values)
    arr = da.values.astype(np.float64)
    for src in (da.encoding, da.attrs):
        for key in ("_FillValue", "nodata", "missing_value"):
            if src.get(key) is not None:
                arr[da.values == src[key]] = np.nan
    return arr


def _to_crs(regions: Regions, crs: CRS) -> list[shapely.Geometry]:
    if regions.crs.equals(crs):
        return list(regions.geometries)
    tr = Transformer.from_crs(regions.crs, crs, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))

    out = []
    for g in regions.geometries:
        x0, y0, x1, y1 = g.bounds
        dense = shapely.segmentize(g, max(x1 - x0, y1 - y0) / 200 or 1.0)  # edges stay edges
        out.append(shapely.make_valid(shapely.transform(dense, project)))
    return out


def _window(
    geoms: list[shapely.Geometry], affine: Any, ny: int, nx: int
) -> tuple[slice, slice, tuple[float, float, float, float]] | None:
    """Pixel window (rows, cols, extent) of the grid covering all regions, or None."""
    x0, y0, x1, y1 = shapely.total_bounds(np.asarray(geoms, dtype=object))
    if not np.all(np.isfinite([x0, y0, x1, y1])):
        return None
    dx, dy, ox, oy = affine.a, affine.e, affine.c, affine.f  # dy < 0: north up
    c0, c1 = max(int(np.floor((x0 - ox) / dx)), 0), min(int(np.ceil((x1 - ox) / dx)), nx)
    r0, r1 = max(int(np.floor((y1 - oy) / dy)), 0), min(int(np.ceil((y0 - oy) / dy)), ny)
    if c0 >= c1 or r0 >= r1:
        return None
    extent = (ox + c0 * dx, oy + r1 * dy, ox + c1 * dx, oy + r0 * dy)
    return slice(r0, r1), slice(c0, c1), extent


def _coverage(
    feats: list[dict[str, Any]], extent: tuple[float, ...], shape: tuple[int, int], wkt: str
) -> np.ndarray:
    """Sum of coverage fractions of every grid pixel, per region."""
    ones = np.ones((1, *shape), np.float32)
    return np.nan_to_num(_extract([ones], feats, extent, wkt)["count"][:, 0, 0])


def _extract(
    arrays: list[np.ndarray], feats: list[dict[str, Any]], extent: tuple[float, ...], wkt: str
) -> dict[str, np.ndarray]:
    """Run exactextract once over every (variable, time) band; arrays are (time, y, x)."""
    xmin, ymin, xmax, ymax = extent
    sources = [
        NumPyRasterSource(a[t], xmin, ymin, xmax, ymax, name=f"v{v}t{t}", srs_wkt=wkt)
        for v, a in enumerate(arrays)
        for t in range(a.shape[0])
    ]
    table = (
        exact_extract(
            sources, feats, ["mean", "stdev", "count"], include_cols=["i"], output="pandas"
        )
        .set_index("i")
        .reindex(range(len(feats)))
    )
    nt = arrays[0].shape[0]
    res = {}
    for key, stat in (("mean", "mean"), ("std", "stdev"), ("count", "count")):
        cols = [f"{src.name()}_{stat}" if len(sources) > 1 else stat for src in sources]
        res[key] = table[cols].to_numpy(dtype=np.float64).reshape(len(feats), len(arrays), nt)
    return res
