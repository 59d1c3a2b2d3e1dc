"""Cube loading: shapes, dtypes, solar days, the processing-baseline switch, tiles of one
pass, several sensors in one cube."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio

from helpers import items_of
from vegcube import aoi, catalog, cube, mask
from vegcube.errors import BandError
from vegcube.sensors import sentinel2
from vegcube.testing.truth import truth_masks


def test_one_cube_with_a_sensor_coordinate(s2_landsat_scenes):
    items, c = s2_landsat_scenes
    sensor = c.sensor.values
    assert set(sensor) == {"sentinel2", "landsat"}
    assert (sensor == "landsat").sum() == sum(it.collection_id == "landsat-c2-l2" for it in items)
    assert (np.diff(c.time.values.astype("int64")) >= 0).all()  # scenes in time order
    assert set(c.platform.values) >= {"sentinel-2a", "landsat-8", "landsat-9", "landsat-7"}
    # each sensor's QA band holds its nodata on the other sensor's scenes
    assert (c.scl.values[sensor == "landsat"] == 0).all()
    assert (c.qa_pixel.values[sensor == "sentinel2"] == 1).all()
    assert c.scl.dtype == np.uint8 and c.qa_pixel.dtype == np.uint16


def load(archive, bands=("red", "nir", "swir16", "scl")):
    items = items_of(archive)
    g = aoi.grid(aoi.read_aoi(archive.bbox), resolution=10)
    return items, cube.load(items, list(bands), grid=g)


def test_cube_shape_dtypes_and_solar_day(small):
    items, c = load(small)
    assert c.sizes["time"] == len(items)  # one tile: one scene per solar day
    assert c.red.dtype == np.float32 and c.scl.dtype == np.uint8
    # 23:30 UTC at lon 165 E is ~10:30 the next local day
    utc = np.array([it.datetime.date() for it in items])
    solar = c.solar_day.values.astype("datetime64[D]").astype(object)
    assert all(s == u + dt.timedelta(days=1) for s, u in zip(solar, utc, strict=True))
    assert c.odc.geobox.crs.epsg == 32758


def test_reflectance_decoding_matches_dn_rule_on_both_sides_of_the_switch(small):
    items, c = load(small, bands=("red", "nir", "scl"))
    g = c.odc.geobox
    for item, t in ((items[0], 0), (items[-1], len(items) - 1)):
        with rasterio.open(item.assets["red"].get_absolute_href()) as src:
            win = rasterio.windows.from_bounds(*g.extent.boundingbox, transform=src.transform)
            dn = src.read(1, window=win.round_offsets().round_lengths())
        after = item.datetime.date() >= sentinel2.BASELINE_SWITCH
        offset = 1000 if after else 0
        want = (dn.astype("float64") - offset) / 10000
        got = c.red.isel(time=t).values
        ok = dn > 0
        np.testing.assert_allclose(got[ok], want[ok], atol=1e-6)
        assert np.isnan(got[~ok]).all()


def test_baseline_rule_without_raster_bands_gives_same_cube(small, small_no_raster_bands):
    _, with_rb = load(small)
    _, rule = load(small_no_raster_bands)
    for band in ("red", "nir", "swir16"):
        np.testing.assert_allclose(rule[band].values, with_rb[band].values, atol=1e-6)
    # and the switch is handled: evergreen forest keeps its reflectance across it (ignoring
    # the offset would raise it by 0.1)
    lc, _ = truth_masks(small_no_raster_bands, rule.red.isel(time=0))
    red = rule.red.where(mask.valid(rule)).values[:, lc == 1]
    days = rule.solar_day.values.astype("datetime64[D]").astype(object)
    before = np.nanmedian(red[days < sentinel2.BASELINE_SWITCH])
    after = np.nanmedian(red[days >= sentinel2.BASELINE_SWITCH])
    assert abs(before - after) < 0.01


def test_missing_band_names_band_and_assets(small):
    items = items_of(small)
    with pytest.raises(BandError, match=r"band 'rededge1'.*its assets are: .*nir.*red"):
        cube.asset_keys(items, ["red", "rededge1"], collection="sentinel-2-l2a")
    keys = cube.asset_keys(items, ["red", "scl"], collection="sentinel-2-l2a")
    assert keys == {"red": "red", "scl": "scl"}


def _split_into_two_tiles(items, folder, bands, overlap=4):
    """Each scene as two overlapping half-tile items of adjacent tiles (same pass, 3 s apart)."""
    import pystac
    from pyproj import Transformer
    from rasterio.windows import Window, bounds, transform

    out = []
    for item in items:
        with rasterio.open(item.assets[bands[0]].get_absolute_href()) as src:
            width, crs = src.width, src.crs
        to_ll = Transformer.from_crs(crs, 4326, always_xy=True)
        halves = {
            "58KEB": (0, width // 2 + overlap),
            "58KEC": (width // 2 - overlap, width),
        }
        for k, (tile, (c0, c1)) in enumerate(halves.items()):
            clone = item.clone()
            clone.id = f"{item.id}_{tile}"
            clone.datetime = item.datetime + dt.timedelta(seconds=3 * k)
            for key in ("s2:mgrs_tile", "grid:code"):
                if key in clone.properties:
                    clone.properties[key] = f"MGRS-{tile}" if key == "grid:code" else tile
            clone.properties["mgrs:grid_square"] = tile[-2:]
            for band in bands:
                href = item.assets[band].get_absolute_href()
                with rasterio.open(href) as src:
                    scale = width // src.width  # 20 m bands: half as many pixels
                    win = Window(c0 // scale, 0, (c1 - c0) // scale, src.height)
                    profile = {
                        **src.profile,
                        "width": int(win.width),
                        "transform": transform(win, src.transform),
                    }
                    path = folder / f"{clone.id}_{band}.tif"
                    with rasterio.open(path, "w", **{**profile, "driver": "GTiff"}) as dst:
                        dst.write(src.read(window=win))
                    box_ = bounds(win, src.transform)
                asset = clone.assets[band]
                asset.href = str(path)
                asset.extra_fields["proj:shape"] = [src.height, int(win.width)]
                asset.extra_fields["proj:transform"] = list(profile["transform"])[:6]
            xs, ys = to_ll.transform(
                [box_[0], box_[2], box_[2], box_[0]], [box_[1]] * 2 + [box_[3]] * 2
            )
            ring = [*zip(xs, ys, strict=True), (xs[0], ys[0])]
            clone.geometry = {"type": "Polygon", "coordinates": [ring]}
            clone.bbox = [min(xs), min(ys), max(xs), max(ys)]
            for key in ("proj:shape", "proj:transform", "proj:bbox"):
                clone.properties.pop(key, None)
            out.append(pystac.Item.from_dict(clone.to_dict(transform_hrefs=False)))
    return out


def test_adjacent_tiles_of_one_pass_make_one_time_step(small, tmp_path):
    """Scenes of two adjacent tiles acquired on one pass are one solar day: one time step,
    fused, equal to the whole scene (search keeps both tiles: they are not duplicates)."""
    from odc.geo.geobox import GeoBox

    items = items_of(small)[:4]
    bands = ["red", "nir", "scl"]
    tiles = _split_into_two_tiles(items, tmp_path, bands)
    assert len(catalog.deduplicate(tiles)) == 8  # two tiles of one pass are not duplicates
    with rasterio.open(items[0].assets["red"].get_absolute_href()) as src:
        native = GeoBox((src.height, src.width), src.transform, src.crs)  # no resampling
    whole = cube.load(items, bands, grid=native).load()
    fused = cube.load(tiles, bands, grid=native).load()
    assert fused.sizes["time"] == whole.sizes["time"] == 4
    np.testing.assert_array_equal(fused.solar_day.values, whole.solar_day.values)
    for band in bands:
        np.testing.assert_array_equal(fused[band].values, whole[band].values, err_msg=band)
