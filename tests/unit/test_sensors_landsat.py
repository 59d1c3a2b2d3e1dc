"""Landsat: QA_PIXEL bits by hand; C2 L2 archives decoded and masked in the right place."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from scipy import ndimage

from helpers import qa_array, search_archive
from vegcube import aoi, cube, mask
from vegcube.sensors import LANDSAT
from vegcube.testing.landsat import generate_landsat_archive

D = dt.date


#: USGS QA_PIXEL values (Landsat 8/9 unless said), and the flags each carries
LANDSAT_CASES = {
    1: {"fill", "not_clear"},
    21824: set(),  # clear land, low confidences
    21952: {"water"},
    22280: {"cloud", "not_clear"},  # high-confidence cloud
    21762: {"dilated_cloud", "not_clear"},
    23888: {"shadow"},
    54596: {"cirrus"},
    30048: {"snow"},
    5440: set(),  # Landsat 7 clear (no cirrus confidence)
    5896: {"cloud", "not_clear"},  # Landsat 7 cloud
}


def test_landsat_qa_bits_by_hand():
    values = list(LANDSAT_CASES)
    qa = qa_array(values)
    for flag in LANDSAT.qa_flags:
        bad, cloud = LANDSAT.invalid(qa, flags=[flag])
        got = (bad | cloud).values
        want = np.array([flag in LANDSAT_CASES[v] for v in values])
        np.testing.assert_array_equal(got, want, err_msg=flag)
        # only clouds and shadows are cloud-like (grown by dilation)
        assert not (cloud.values.any() and flag in ("fill", "snow", "water", "not_clear"))
    # independent decoding: bit n of the value
    bad, cloud = LANDSAT.invalid(qa)
    bits = np.array(values)[:, None] >> np.arange(6) & 1
    np.testing.assert_array_equal(cloud.values, bits[:, [1, 2, 3, 4]].any(axis=1))
    np.testing.assert_array_equal(bad.values, bits[:, [0, 5]].any(axis=1))


@pytest.fixture(scope="module")
def landsat_pair(tmp_path_factory):
    """The same Landsat archive with and without `raster:bands` (the sensor rule applies)."""
    kw = {"size": 48, "start": "2021-12-01", "end": "2022-02-28"}
    return (
        generate_landsat_archive(tmp_path_factory.mktemp("ls"), **kw),
        generate_landsat_archive(tmp_path_factory.mktemp("ls_norb"), raster_bands=False, **kw),
    )


def _load_landsat(archive, bands=("red", "nir", "lwir", "qa_pixel")):
    items = search_archive(archive, (D(2021, 12, 1), D(2022, 2, 28)), collection="landsat-c2-l2")
    grid = aoi.grid(aoi.read_aoi(archive.bbox), resolution=30)
    return items, cube.load(items, list(bands), grid=grid).compute()


def _read_on(item, key, like):
    """The asset's DN on the cube's pixels, by pixel centres (independent of odc-stac)."""
    with rasterio.open(item.assets[key].get_absolute_href()) as src:
        arr = src.read(1)
        to_src = Transformer.from_crs(like.odc.geobox.crs.epsg, src.crs.to_epsg(), always_xy=True)
        xx, yy = np.meshgrid(like.x.values, like.y.values)
        col, row = ~src.transform * to_src.transform(xx, yy)
    col, row = np.floor(col).astype(int), np.floor(row).astype(int)
    inside = (col >= 0) & (col < arr.shape[1]) & (row >= 0) & (row < arr.shape[0])
    out = np.full(xx.shape, -1, "int64")
    out[inside] = arr[row[inside], col[inside]]
    return out


def test_landsat_cube_decodes_dn_and_rule_matches_raster_bands(landsat_pair):
    with_rb, without = landsat_pair
    items, c = _load_landsat(with_rb)
    assert c.sizes["time"] == len(items) and set(c.sensor.values) == {"landsat"}
    assert c.odc.geobox.crs.epsg == 32758  # items are in 32658 with negative northings
    assert c.qa_pixel.dtype == np.uint16
    for t in (0, len(items) - 1):
        item = items[t]
        key = "lwir11" if item.properties["platform"] != "landsat-7" else "lwir"
        dn_red = _read_on(item, "red", c.red)
        dn_st = _read_on(item, key, c.red)
        ok = dn_red > 0
        assert ok.mean() > 0.5
        np.testing.assert_allclose(c.red.values[t][ok], dn_red[ok] * 2.75e-5 - 0.2, atol=1e-6)
        np.testing.assert_allclose(c.lwir.values[t][ok], dn_st[ok] * 0.00341802 + 149.0, rtol=1e-6)
        assert np.isnan(c.red.values[t][dn_red == 0]).all()
    _, rule = _load_landsat(without)
    for band in ("red", "nir", "lwir"):
        np.testing.assert_allclose(rule[band].values, c[band].values, rtol=1e-6)
    assert 280 < float(np.nanmedian(c.lwir.values)) < 310


def test_landsat7_slc_off_stripes_stay_nan_and_are_not_grown(landsat_pair):
    items, c = _load_landsat(landsat_pair[0])
    l7 = [i for i, it in enumerate(items) if it.properties["platform"] == "landsat-7"]
    assert l7
    ok = mask.valid(c, dilate_m=60).compute()
    checked = 0
    for t in l7:
        qa = _read_on(items[t], "qa_pixel", c.red)
        stripe = qa == 1
        assert 0.1 < stripe.mean() < 0.35  # scan-line gaps cover about a fifth of the tile
        assert np.isnan(c.red.values[t][stripe]).all() and np.isnan(c.nir.values[t][stripe]).all()
        assert not ok.values[t][stripe].any()
        # beside a stripe, a clear pixel far from clouds stays valid: fill is not dilated
        cloudy = (qa & 0b11110) != 0
        far = ~ndimage.binary_dilation(cloudy, iterations=4)
        beside = ndimage.binary_dilation(stripe) & ~stripe & far & (qa != -1)
        assert ok.values[t][beside].all()
        checked += int(beside.sum())
    assert checked > 10
    # the clouds are grown: a 60 m ring around QA clouds is invalid
    t = int(np.argmax([((_read_on(it, "qa_pixel", c.red) & 8) != 0).mean() for it in items]))
    qa = _read_on(items[t], "qa_pixel", c.red)
    cloud = (qa & 8) != 0
    assert cloud.any()
    ring = ndimage.binary_dilation(cloud, iterations=2) & ~cloud & (qa != -1)
    assert not ok.values[t][ring].any()
