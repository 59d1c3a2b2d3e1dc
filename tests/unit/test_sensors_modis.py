"""MODIS MOD13Q1: VI quality bits by hand; the sinusoidal archive read in the right place."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import Transformer
from scipy import ndimage

from helpers import qa_array, search_archive
from vegcube import aoi, cube, indices, mask
from vegcube.sensors import MODIS13Q1
from vegcube.sensors.modis import SINUSOIDAL_PROJ4
from vegcube.testing.modis import generate_modis_archive, vi_quality_value

D = dt.date

#: the time span of `modis_archive`
MODIS_SPAN = (D(2022, 1, 1), D(2022, 2, 28))


def test_modis_vi_quality_bits_by_hand():
    good = 2116  # the most common real value: good quality, usefulness 0001, land
    assert vi_quality_value() == good
    cases = {
        good: set(),
        3186: {"cloudy", "low_usefulness", "mixed_clouds"},  # 2 | 12<<2 | 64 | 1024 | 2048
        good | 1 << 8: {"adjacent_cloud"},
        good | 1 << 14: {"snow"},
        good | 1 << 15: {"shadow"},
        (good & ~0b111100) | 13 << 2: {"low_usefulness"},
        good | 3: {"not_produced"},
        65535: {"fill"},  # every bit set: fill only, nothing to dilate
    }
    values = list(cases)
    qa = qa_array(values)
    for flag in MODIS13Q1.qa_flags:
        bad, cloud = MODIS13Q1.invalid(qa, flags=[flag])
        want = [flag in cases[v] for v in values]
        assert (bad | cloud).values.tolist() == want, flag
    _, cloud = MODIS13Q1.invalid(qa, flags=list(MODIS13Q1.qa_flags))
    assert not cloud.values[values.index(65535)]


@pytest.fixture(scope="module")
def modis_archive(tmp_path_factory):
    return generate_modis_archive(
        tmp_path_factory.mktemp("modis"),
        size=20,
        model_size=300,
        start="2022-01-01",
        end="2022-02-28",
    )


def test_modis_ndvi_read_in_the_right_place_from_sinusoidal(modis_archive):
    m = modis_archive
    items = search_archive(m, MODIS_SPAN, collection="modis-13Q1-061")
    assert len(items) == m.n_items == 4
    geom = aoi.read_aoi(m.bbox).buffer(0.01)
    grid = aoi.grid(geom, resolution=250)
    c = cube.load(items, indices.bands_for("modis-13Q1-061", ["ndvi"]), grid=grid).compute()
    assert c.odc.geobox.crs.epsg == 32758 and set(c.sensor.values) == {"modis13q1"}
    to_sin = Transformer.from_crs(32758, SINUSOIDAL_PROJ4, always_xy=True)
    xx, yy = np.meshgrid(c.x.values, c.y.values)
    col, row = ~rasterio.transform.Affine(*m.transform) * to_sin.transform(xx, yy)
    for t, item in enumerate(items):
        with rasterio.open(item.assets["250m_16_days_NDVI"].get_absolute_href()) as src:
            dn = src.read(1).astype("float64")
        with rasterio.open(item.assets["250m_16_days_VI_Quality"].get_absolute_href()) as src:
            qa = src.read(1)
        # QA (nearest): exactly the source pixel under each cube pixel centre
        r, k = np.floor(row).astype(int), np.floor(col).astype(int)
        inside = (r >= 0) & (r < qa.shape[0]) & (k >= 0) & (k < qa.shape[1])
        assert inside.mean() > 0.5 and not inside.all()  # the cube reaches beyond the window
        np.testing.assert_array_equal(c.vi_quality.values[t][inside], qa[r[inside], k[inside]])
        assert (c.vi_quality.values[t][~inside] == 65535).all()  # nothing there: nodata
        # NDVI (bilinear): the source sampled at the centres; a one-pixel shift is far off
        ndvi = np.where(dn == -3000, np.nan, dn * 1e-4)
        want = ndimage.map_coordinates(ndvi, [row - 0.5, col - 0.5], order=1, cval=np.nan)
        got = c.ndvi.values[t]
        both = np.isfinite(want) & np.isfinite(got)
        assert both.sum() > 50
        assert np.abs(got[both] - want[both]).max() < 0.01
        shifted = ndimage.map_coordinates(ndvi, [row + 0.5, col - 0.5], order=1, cval=np.nan)
        sb = both & np.isfinite(shifted)
        assert np.abs(got[sb] - shifted[sb]).mean() > 5 * np.abs(got[sb] - want[sb]).mean()


def test_modis_index_taken_from_the_product_and_masked_by_vi_quality(modis_archive):
    m = modis_archive
    items = search_archive(m, MODIS_SPAN, collection="modis-13Q1-061")
    grid = aoi.grid(aoi.read_aoi(m.bbox), resolution=250)
    c = cube.load(items, ["ndvi", "vi_quality"], grid=grid).compute()
    idx = indices.per_scene(c, ["ndvi"])
    xr.testing.assert_identical(idx.ndvi.reset_coords(drop=True), c.ndvi.reset_coords(drop=True))
    ok = mask.valid(c).values
    qa = c.vi_quality.values
    cloudy = (qa & 0b11) == 2
    assert cloudy.any() and not ok[cloudy].any()
    good = (qa == vi_quality_value()) & np.isfinite(c.ndvi.values)
    assert good.any() and ok[good].all()
