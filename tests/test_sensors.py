"""Per-sensor facts: QA decoding on hand-built bit patterns, scale/offset rules, Landsat and
MODIS archives read in the right place (SLC-off stripes NaN, sinusoidal reprojection)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import Transformer
from scipy import ndimage

from vegcube import aoi, catalog, cube, indices, mask, sensors
from vegcube.errors import RecipeError, SourceError
from vegcube.recipe import MaskSpec, load_recipe
from vegcube.sensors import LANDSAT, MODIS09A1, MODIS13Q1, SENTINEL2
from vegcube.sensors.modis import SINUSOIDAL_PROJ4
from vegcube.sensors.sentinel2 import qa60_invalid
from vegcube.testing.landsat import generate_landsat_archive, qa_value
from vegcube.testing.modis import generate_modis_archive, vi_quality_value

D = dt.date


def qa_array(values, dtype="uint16") -> xr.DataArray:
    return xr.DataArray(np.array(values, dtype=dtype), dims="x")


# --- QA decoding ---------------------------------------------------------------------------

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


def test_generator_writes_usgs_qa_values():
    assert qa_value() == 21824 and qa_value(water=True) == 21952
    assert qa_value(cloud=True) == 22280 and qa_value(shadow=True) == 23888
    assert qa_value(snow=True) == 30048 and qa_value(fill=True) == 1
    assert qa_value(oli=False) == 5440 and qa_value(cloud=True, oli=False) == 5896


def test_sentinel2_qa60_bits():
    qa = qa_array([0, 1 << 10, 1 << 11, 3 << 10, 1 << 9]).rename("qa60")
    bad, cloud = qa60_invalid(qa)
    assert not bad.values.any()
    assert cloud.values.tolist() == [False, True, True, True, False]
    _, opaque = qa60_invalid(qa, flags=["opaque_cloud"])
    assert opaque.values.tolist() == [False, True, False, True, False]
    _, via_invalid = SENTINEL2.invalid(qa)  # dispatches on the band name
    assert via_invalid.values.tolist() == cloud.values.tolist()
    with pytest.raises(ValueError, match="opaque_cloud, cirrus"):
        qa60_invalid(qa, flags=["thick"])


def test_sentinel2_scl_only_clouds_and_shadows_are_cloud_like():
    scl = qa_array(list(range(12)), "uint8")
    bad, cloud = SENTINEL2.invalid(scl, flags=[0, 1, 3, 8, 9, 10, 11])
    assert np.flatnonzero(cloud.values).tolist() == [3, 8, 9, 10]
    assert np.flatnonzero(bad.values).tolist() == [0, 1, 11]


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


def test_modis_state_qa_bits_by_hand():
    land = 0b001 << 3  # land/water bits 3–5 = land, cloud state clear
    cases = {
        land: set(),
        land | 1: {"cloud"},
        land | 2: {"mixed_cloud"},
        land | 3: set(),  # "not set, assumed clear"
        land | 1 << 2: {"shadow"},
        land | 1 << 8: set(),  # small cirrus: not flagged
        land | 2 << 8: {"cirrus"},
        land | 3 << 8: {"cirrus"},
        land | 1 << 10: {"internal_cloud"},
        land | 1 << 12: {"snow"},
        land | 1 << 13: {"adjacent_cloud"},
        land | 1 << 15: {"internal_snow"},
        65535: {"fill"},
    }
    values = list(cases)
    qa = qa_array(values)
    for flag in MODIS09A1.qa_flags:
        bad, cloud = MODIS09A1.invalid(qa, flags=[flag])
        assert (bad | cloud).values.tolist() == [flag in cases[v] for v in values], flag


def test_unknown_flags_list_accepted_names():
    with pytest.raises(ValueError, match="accepted: fill, dilated_cloud"):
        LANDSAT.invalid(qa_array([1]), flags=["clouds"])
    with pytest.raises(RecipeError, match=r"mask\.landsat_qa: .*'clouds'.*accepted: fill"):
        load_recipe(_recipe(mask={"landsat_qa": ["fill", "clouds"]}))
    with pytest.raises(RecipeError, match=r"mask\.modis13q1_qa: .*accepted: .*mixed_clouds"):
        load_recipe(_recipe(mask={"modis13q1_qa": ["haze"]}))


# --- scale and offset -----------------------------------------------------------------------


def test_scale_offset_rules_by_hand():
    scale, offset = LANDSAT.scale_offset({}, "red")
    assert 10000 * scale + offset == pytest.approx(0.075)
    scale, offset = LANDSAT.scale_offset({}, "lwir")
    assert 44000 * scale + offset == pytest.approx(299.39288)  # kelvin
    assert MODIS13Q1.scale_offset({}, "ndvi") == (1e-4, 0.0)
    assert MODIS13Q1.scale_offset({}, "vi_quality") == (1.0, 0.0)
    assert MODIS13Q1.storage("ndvi")["nodata"] == -3000
    assert MODIS09A1.scale_offset({}, "red") == (1e-4, 0.0)
    assert MODIS09A1.storage("red")["nodata"] == -28672
    assert SENTINEL2.scale_offset({"s2:processing_baseline": "04.00"}, "red") == (1e-4, -0.1)


def test_sensor_registry_and_bands():
    assert sensors.for_collection("landsat-c2-l2") is LANDSAT
    assert sensors.for_name("modis13q1") is MODIS13Q1
    assert sensors.bands_for("landsat-c2-l2", ["ndvi", "ndwi"]) == [
        "nir",
        "red",
        "swir16",
        "qa_pixel",
    ]
    assert sensors.bands_for("modis-13Q1-061", ["ndvi"]) == ["ndvi", "vi_quality"]
    with pytest.raises(SourceError, match=r"known: sentinel-2-l2a.*landsat-c2-l2.*modis-13Q1-061"):
        sensors.for_collection("viirs-13a1")
    names = [s.name for s in (*sensors.SENSORS, *sensors.AUXILIARY)]
    assert len(set(names)) == len(names)
    mask_keys = set(MaskSpec.model_fields)
    for sensor in sensors.SENSORS:  # the common record, consistent with itself
        assert isinstance(sensor, sensors.Sensor)
        assert sensor.qa_band in sensor.qa_bands and sensor.qa_band in sensor.asset_aliases
        assert set(sensor.default_flags) <= set(sensor.qa_flags)
        assert set(sensor.qa_flags) >= sensor.cloud_flags
        assert sensor.mask_key in mask_keys  # each sensor's flags have a recipe key
        assert set(sensor.index_bands.values()) <= set(sensor.asset_aliases)


def test_sensor_tiles_and_attrs():
    assert sensors.tile("sentinel-2-l2a", {"s2:mgrs_tile": "T58KEB"}) == "58KEB"
    assert sensors.tile("landsat-c2-l2", {"landsat:wrs_path": "84", "landsat:wrs_row": 82}) == (
        "084082"
    )
    assert sensors.tile("modis-13Q1-061", {"modis:horizontal-tile": 3, "modis:vertical-tile": 9})
    assert sensors.tile("unknown", {"modis:horizontal-tile": 3, "modis:vertical-tile": 9}) == (
        "h03v09"
    )
    assert sensors.tile("unknown", {}) is None
    assert LANDSAT.attrs("lwir")["units"] == "K"
    assert MODIS13Q1.attrs("ndvi")["long_name"] == "ndvi (ready-made by the modis13q1 product)"
    assert SENTINEL2.attrs("red") == {"units": "1", "long_name": "red surface reflectance"}


def _recipe(**over):
    base = {
        "name": "t",
        "aoi": {"bbox": [165.3, -21.6, 165.6, -21.4]},
        "time": {"start": "2022-01-01", "end": "2022-02-01"},
        "source": {"catalog": "earth-search"},
        "output": {"dir": "out"},
    }
    return {**base, **over}


# --- Landsat archive ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def landsat_pair(tmp_path_factory):
    """The same Landsat archive with and without `raster:bands` (the sensor rule applies)."""
    kw = {"size": 48, "start": "2021-12-01", "end": "2022-02-28"}
    return (
        generate_landsat_archive(tmp_path_factory.mktemp("ls"), **kw),
        generate_landsat_archive(tmp_path_factory.mktemp("ls_norb"), raster_bands=False, **kw),
    )


def _load_landsat(archive, bands=("red", "nir", "lwir", "qa_pixel")):
    items = catalog.search(
        str(archive.catalog),
        collection="landsat-c2-l2",
        bbox=archive.bbox,
        start=D(2021, 12, 1),
        end=D(2022, 2, 28),
    )
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


# --- MODIS archive ---------------------------------------------------------------------------


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
    items = catalog.search(
        str(m.catalog),
        collection="modis-13Q1-061",
        bbox=m.bbox,
        start=D(2022, 1, 1),
        end=D(2022, 2, 28),
    )
    assert len(items) == m.n_items == 4
    geom = aoi.read_aoi(m.bbox).buffer(0.01)
    grid = aoi.grid(geom, resolution=250)
    c = cube.load(items, sensors.bands_for("modis-13Q1-061", ["ndvi"]), grid=grid).compute()
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
    items = catalog.search(
        str(m.catalog),
        collection="modis-13Q1-061",
        bbox=m.bbox,
        start=D(2022, 1, 1),
        end=D(2022, 2, 28),
    )
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
