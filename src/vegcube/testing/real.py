"""Real catalog items with synthetic pixels: test how vegcube reads what catalogs publish.

`materialise(item, folder, dn)` writes, for each asset named in `dn`, a GeoTIFF on the asset's
own grid (``proj:shape``, ``proj:transform`` and CRS of the asset, else of the item) holding
the given DN in a small window at the footprint's centre and nothing elsewhere (sparse tiles
read as nodata), then points the asset's href at it. Everything else of the item is kept as
the catalog published it. `window_grid` is the grid of that window, so a load on it reads
the pixels exactly (no resampling).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio
from affine import Affine
from odc.geo.geobox import GeoBox
from pyproj import CRS, Transformer
from rasterio.windows import Window
from shapely.geometry import shape

__all__ = ["AssetGrid", "asset_grid", "materialise", "window_grid"]


@dataclass(frozen=True)
class AssetGrid:
    """Where an asset's pixels are: CRS, affine transform and (rows, cols)."""

    crs: CRS
    transform: Affine
    shape: tuple[int, int]


def _crs(fields: dict[str, Any]) -> CRS | None:
    if fields.get("proj:epsg"):
        return CRS.from_epsg(int(fields["proj:epsg"]))
    if fields.get("proj:code"):
        return CRS.from_user_input(fields["proj:code"])
    if fields.get("proj:wkt2"):
        return CRS.from_wkt(fields["proj:wkt2"])
    if fields.get("proj:projjson"):
        return CRS.from_json_dict(fields["proj:projjson"])
    return None


def asset_grid(item: pystac.Item, key: str) -> AssetGrid:
    """The grid of asset `key` from its projection fields (asset first, then item)."""
    asset, props = item.assets[key].extra_fields, item.properties

    def get(name: str) -> Any:
        return asset.get(name, props.get(name))

    crs = _crs(asset) or _crs(props)
    t, shp = get("proj:transform"), get("proj:shape")
    if crs is None or t is None or shp is None:
        raise ValueError(f"item {item.id} asset {key}: no proj: CRS, transform and shape")
    return AssetGrid(crs, Affine(*t[:6]), (int(shp[0]), int(shp[1])))


def _origin(item: pystac.Item, anchor: str) -> tuple[float, float]:
    """The corner (x, y) of the `anchor` asset's pixel at the footprint's centre."""
    grid = asset_grid(item, anchor)
    lon, lat = shape(item.geometry).representative_point().coords[0]
    x, y = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(lon, lat)
    col, row = ~grid.transform * (x, y)
    return grid.transform * (int(col), int(row))


def window_grid(item: pystac.Item, key: str, size: int, *, anchor: str | None = None) -> GeoBox:
    """A `size` × `size` grid on asset `key`'s own pixels from the corner of the `anchor`
    asset's pixel at the footprint's centre (where `materialise` writes)."""
    grid = asset_grid(item, key)
    x0, y0 = _origin(item, anchor or key)
    t = grid.transform
    return GeoBox((size, size), Affine(t.a, t.b, x0, t.d, t.e, y0), grid.crs.to_wkt())


def materialise(
    item: pystac.Item,
    folder: str | os.PathLike[str],
    dn: dict[str, np.ndarray],
    *,
    anchor: str,
    dtype: dict[str, str],
    nodata: dict[str, float | None],
) -> pystac.Item:
    """A clone of `item` whose assets `dn` point at files in `folder` on their own grids.

    Each array is written at the same ground position: the window of the `anchor` asset's
    grid at the footprint's centre (`window_grid`), in the asset's pixels (an array of a
    20 m asset covers as much ground as an array twice as large of a 10 m one). `dtype` and
    `nodata` are the files' storage (what the catalog's files hold).
    """
    out = item.clone()
    folder = Path(folder) / item.id
    folder.mkdir(parents=True, exist_ok=True)
    # local paths stay local (not joined to the catalog's URL); relative hrefs of the assets
    # not written resolve beside them (never read)
    out.set_self_href(str(folder / f"{item.id}.json"))
    x0, y0 = _origin(item, anchor)
    for key, values in dn.items():
        g = asset_grid(item, key)
        c, r = ~g.transform * (x0, y0)
        path = folder / f"{key}.tif"
        profile = {
            "driver": "GTiff",
            "width": g.shape[1],
            "height": g.shape[0],
            "count": 1,
            "dtype": dtype[key],
            "crs": g.crs.to_wkt(),
            "transform": g.transform,
            "nodata": nodata[key],
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
            "sparse_ok": True,
        }
        with rasterio.open(path, "w", **profile) as dst:
            arr = np.asarray(values, dtype=dtype[key])
            dst.write(arr, 1, window=Window(round(c), round(r), arr.shape[1], arr.shape[0]))
        out.assets[key].href = str(path)
    return out
