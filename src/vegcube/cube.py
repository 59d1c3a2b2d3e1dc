"""Items + grid → lazy data cube (odc-stac): reflectance float32 in [0, 1], QA as integers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.stac import ParsedItem, parse_item
from odc.stac import load as stac_load

from . import sensors
from .errors import BandError, DataError

__all__ = ["asset_keys", "load"]


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
        aliases = sensor.ASSET_ALIASES.get(band, (band,))
        match = next((a for a in aliases if a in have), None)
        if match is None:
            raise BandError(
                f"band {band!r}: no asset named {' or '.join(aliases)} in item "
                f"{items[0].id}; its assets are: {', '.join(sorted(have))}"
            )
        keys[band] = match
    return keys


def load(
    items: Sequence[pystac.Item],
    bands: Sequence[str],
    *,
    grid: GeoBox,
    collection: str = "sentinel-2-l2a",
    chunk: int = 1024,
) -> xr.Dataset:
    """Lazy cube of `bands` (common names) on `grid`, one time step per solar day.

    Reflectances are float32 = DN × scale + offset, from the asset's `raster:bands` when
    present, else the sensor's rule (Sentinel-2: processing baseline); nodata → NaN.
    The QA band keeps its integer classes (0 where no scene covers a pixel).
    """
    if not items:
        raise DataError("no scenes to load: the search found no items")
    sensor = sensors.for_collection(collection)
    keys = asset_keys(items, bands, collection=collection)
    lon = grid.geographic_extent.centroid.coords[0][0]

    def solar_day(item: pystac.Item, parsed: ParsedItem, idx: int) -> dt.date:
        return parsed.solar_date_at(lon).date()

    qa = {keys[b] for b in bands if b == sensor.QA_BAND}
    storage = {
        k: sensor.QA_STORAGE if k in qa else sensor.REFLECTANCE_STORAGE for k in keys.values()
    }
    ds = stac_load(
        items,
        bands=list(keys.values()),
        geobox=grid,
        groupby=solar_day,
        chunks={"time": 1, "y": chunk, "x": chunk},
        resampling={**{k: "nearest" for k in qa}, "*": "bilinear"},
        fail_on_error=True,
        stac_cfg={"*": {"assets": storage}},
    )
    ds = ds.rename({v: k for k, v in keys.items() if k != v})

    # one (scale, offset) per time step: items of a solar day share a processing baseline
    groups: dict[dt.date, pystac.Item] = {}
    for item in items:
        groups.setdefault(solar_day(item, parse_item(item), 0), item)
    firsts = [groups[d] for d in sorted(groups)]
    if len(firsts) != ds.sizes["time"]:  # pragma: no cover - guards an odc-stac change
        raise DataError("internal: solar-day groups do not match the loaded time steps")

    out = {}
    for band, key in keys.items():
        da = ds[band]
        if band == sensor.QA_BAND:
            out[band] = da
            continue
        nodata = da.attrs.get("nodata", 0)
        so = np.array([_scale_offset(it, key, sensor) for it in firsts], dtype="float32")
        scale = xr.DataArray(so[:, 0], dims="time", coords={"time": ds.time})
        offset = xr.DataArray(so[:, 1], dims="time", coords={"time": ds.time})
        refl = (da.where(da != nodata) * scale + offset).astype("float32")
        refl.attrs = {"units": "1", "long_name": f"{band} surface reflectance"}
        out[band] = refl
    cube = xr.Dataset(out, coords=ds.coords)
    days = np.array([np.datetime64(d, "ns") for d in sorted(groups)])
    platform = [str(it.properties.get("platform", "")) for it in firsts]
    cube = cube.assign_coords(solar_day=("time", days), platform=("time", platform))
    cube.attrs["collection"] = collection
    return cube


def _scale_offset(item: pystac.Item, key: str, sensor: Any) -> tuple[float, float]:
    rb = item.assets[key].extra_fields.get("raster:bands") or []
    if rb and ("scale" in rb[0] or "offset" in rb[0]):
        return float(rb[0].get("scale", 1.0)), float(rb[0].get("offset", 0.0))
    scale, offset = sensor.scale_offset(item.properties)
    return float(scale), float(offset)
