"""Sentinel-3 SYNERGY V10 (10-day NDVI NetCDF grids) through the whole chain: `vegcube.run` on a
generated archive in Planetary Computer's shape; the dekadal composites against the NetCDF
values, computed by hand, and the status map's flags masked."""

from __future__ import annotations

import json

import netCDF4
import numpy as np
import pystac
import pytest
import xarray as xr
from pyproj import Transformer

import vegcube
from vegcube.sensors.syn_v10 import (
    NDVI_FILL,
    NDVI_OFFSET,
    NDVI_SCALE,
    SYN_V10,
    status_value,
)
from vegcube.testing.syn_v10 import generate_syn_v10_archive

CLEAR = (status_value(), status_value(land=False))  # water is "not_land": masked too
START, END = "2021-01-01", "2021-03-31"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn-v10")
    archive = generate_syn_v10_archive(root / "archive", start=START, end=END, size=100)
    vegcube.run(archive.recipe(root / "out"))
    loose = archive.recipe(root / "loose")
    loose["mask"] = {"syn_v10_qa": ["unfilled"]}  # the clouds kept
    vegcube.run(loose)
    cat = pystac.Catalog.from_file(str(archive.catalog))
    items = sorted(cat.get_items(recursive=True), key=lambda it: it.id)
    comp = xr.open_zarr(root / "out" / "composites.zarr").load()
    kept = xr.open_zarr(root / "loose" / "composites.zarr").load()
    return archive, items, comp, kept, root


def _read(item: pystac.Item, key: str, variable: str) -> tuple[np.ndarray, ...]:
    href = item.assets[key].get_absolute_href()
    assert href is not None
    with netCDF4.Dataset(href) as nc:
        v = nc[variable]
        v.set_auto_maskandscale(False)  # the stored DN
        return np.asarray(nc["latitude"][:]), np.asarray(nc["longitude"][:]), np.asarray(v[:])


def _where(comp: xr.Dataset, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each output cell centre in (fractional) NetCDF pixel indices (row, column), and its
    longitude and latitude."""
    to_ll = Transformer.from_crs(comp.spatial_ref.attrs["crs_wkt"], 4326, always_xy=True)
    x, y = np.meshgrid(comp.x.values, comp.y.values)
    clon, clat = (np.asarray(a) for a in to_ll.transform(x, y))
    step = lon[1] - lon[0]
    return (lat[0] - clat) / step, (clon - lon[0]) / step, clon, clat


def test_one_composite_per_dekad_dated_by_its_start(runs):
    archive, items, comp, _, root = runs
    starts = [np.datetime64(it.properties["start_datetime"][:10]) for it in items]
    assert comp.time.values.astype("datetime64[D]").tolist() == [s.tolist() for s in starts]
    assert len(items) == archive.n_items == 9
    assert int(comp.ndvi_count.max()) == 1  # one synthesis per dekad
    assert comp.ndvi.attrs["units"] == "1"
    run = json.loads((root / "out" / "run.json").read_text())
    assert run["status"] == "done"


def test_composites_equal_the_netcdf_values(runs):
    _, items, comp, _, _ = runs
    for k, item in enumerate(items):
        lat, lon, dn = _read(item, "ndvi", "NDVI")
        _, _, sm = _read(item, "sm", "SM")
        fr, fc, _, _ = _where(comp, lat, lon)
        r0, c0 = np.floor(fr).astype(int), np.floor(fc).astype(int)
        inside = (r0 >= 0) & (c0 >= 0) & (r0 + 1 < lat.size) & (c0 + 1 < lon.size)
        r0, c0 = r0.clip(0, lat.size - 2), c0.clip(0, lon.size - 2)
        wy, wx = fr - r0, fc - c0
        corners = [(r0, c0), (r0, c0 + 1), (r0 + 1, c0), (r0 + 1, c0 + 1)]
        clear = inside & np.all([sm[rc] == status_value() for rc in corners], axis=0)
        d = [dn[rc].astype(float) for rc in corners]
        # bilinear between the four pixel centres around the cell, rounded to a DN (the cube
        # reads the stored uint8), then the product's DN → NDVI rule
        between = (1 - wy) * ((1 - wx) * d[0] + wx * d[1]) + wy * ((1 - wx) * d[2] + wx * d[3])
        want = np.floor(between + 0.5).astype(np.float32) * np.float32(NDVI_SCALE) + np.float32(
            NDVI_OFFSET
        )
        got = comp.ndvi.values[k]
        assert clear.sum() > 150
        diff = np.abs(got[clear] - want[clear])
        assert np.isfinite(diff).all()
        assert diff.max() <= NDVI_SCALE + 1e-6  # a rounding tie at most
        assert (diff < 1e-6).mean() > 0.95


def test_flagged_pixels_are_masked(runs):
    archive, items, comp, kept, _ = runs
    w, s, e, n = archive.bbox
    flagged_total = clouds_total = 0
    for k, item in enumerate(items):
        lat, lon, dn = _read(item, "ndvi", "NDVI")
        _, _, sm = _read(item, "sm", "SM")
        fr, fc, clon, clat = _where(comp, lat, lon)
        r, c = np.rint(fr).astype(int), np.rint(fc).astype(int)  # the status map: nearest
        inside = (r >= 0) & (c >= 0) & (r < lat.size) & (c < lon.size)
        aoi = (clon > w) & (clon < e) & (clat > s) & (clat < n)
        word = sm[r.clip(0, lat.size - 1), c.clip(0, lon.size - 1)]
        bad, cloudy = SYN_V10.invalid(xr.DataArray(word))
        flagged = inside & (bad.values | cloudy.values)
        assert np.isnan(comp.ndvi.values[k][flagged]).all()
        assert (comp.ndvi_count.values[k][flagged] == 0).all()
        # masked only for its flags: with only "unfilled" masked, the clouds come back
        cloud = inside & aoi & (word & 3 == 3)
        assert np.isfinite(kept.ndvi.values[k][cloud]).all()
        fill = inside & (dn[r.clip(0, lat.size - 1), c.clip(0, lon.size - 1)] == NDVI_FILL)
        assert np.isnan(kept.ndvi.values[k][fill]).all()
        flagged_total += int(flagged.sum())
        clouds_total += int(cloud.sum())
    assert flagged_total > 100 and clouds_total > 10  # the archive has flags to mask
    land = comp.ndvi.values[np.isfinite(comp.ndvi.values)]
    assert land.min() > 0.1  # no cloud (NDVI < 0.1) or snow (0.02) left
    assert np.nanmin(kept.ndvi.values) < 0.1
