"""VIIRS VI granules: the sinusoidal tile grid, HDF5 → COG conversion, the converted items.

Expected grids come from published items (Planetary Computer's MOD13A1 h35v10, stactools-viirs'
VNP13A1 h11v05 example) and from the sinusoidal formula written out here; expected values are
read straight from the generated HDF5 files with h5py, not through vegcube's reader."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from vegcube import cube, indices, sensors
from vegcube.download import cmr, hdf5
from vegcube.errors import DataError, SourceError
from vegcube.sensors import viirs
from vegcube.testing.viirs import cmr_items, generate_viirs_archive
from vegcube.testing.world import CENTRE

h5py = pytest.importorskip("h5py")

R = 6371007.181
NDVI = "500_m_16_days_NDVI"
QA = "500_m_16_days_VI_Quality"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return generate_viirs_archive(tmp_path_factory.mktemp("viirs"), end="2022-01-31")


def _h5(path, name):
    with h5py.File(path, "r") as f:
        ds = f[f"HDFEOS/GRIDS/VIIRS_Grid_16Day_VI_500m/Data Fields/{name}"]
        return ds[()], dict(ds.attrs)


@pytest.mark.parametrize(
    ("tile", "published"),
    [  # Planetary Computer MOD13A1.A2025049.h35v10 (tests/data/items), stactools-viirs h11v05
        ((35, 10), (463.3127165279165, 18903158.834333, -463.3127165274999, -1111950.519667)),
        ((11, 5), (463.3127165279169, -7783653.637667, -463.3127165279167, 4447802.078667)),
    ],
)
def test_tile_grid_matches_published_500m_items(tile, published):
    tr = hdf5.tile_grid(*tile, 2400)
    a, c, e, f = published
    assert (tr.b, tr.d) == (0.0, 0.0)
    assert tr.a == pytest.approx(a, abs=1e-9) and tr.e == pytest.approx(e, abs=1e-9)
    assert tr.c == pytest.approx(c, abs=1e-6) and tr.f == pytest.approx(f, abs=1e-6)
    assert hdf5.tile_grid(*tile, 1200).a == pytest.approx(2 * a, abs=1e-8)  # 1 km products


def test_known_lon_lat_falls_in_the_pixel_the_formula_gives():
    """Bourail (165.49 E, 21.57 S): sinusoidal x = R·λ·cos φ, y = R·φ; tile h33v11."""
    lon, lat = CENTRE
    x = R * math.radians(lon) * math.cos(math.radians(lat))
    y = R * math.radians(lat)
    t = 2 * math.pi * R / 36
    h, v = int((x + 18 * t) // t), int((9 * t - y) // t)
    assert (h, v) == (33, 11)
    tr = hdf5.tile_grid(h, v, 2400)
    col, row = ~tr * (x, y)
    # by hand: 463.3127 m pixels from the tile's corner (−20015109.354 + 33 T, 10007554.677 − 11 T)
    px = 20015109.354 / 18 / 2400
    assert col == pytest.approx((x - (-20015109.354 + 33 * 2400 * px)) / px, abs=1e-6)
    assert row == pytest.approx((10007554.677 - 11 * 2400 * px - y) / px, abs=1e-6)
    assert (int(col), int(row)) == (936, 376)


def test_struct_metadata_is_parsed_and_checked(archive, tmp_path):
    path = archive.h5(archive.ids[0])
    tr, pixels, grid = hdf5.granule_grid(path, dataset="500 m 16 days NDVI", tile=(33, 11))
    assert (pixels, grid) == (2400, "VIIRS_Grid_16Day_VI_500m")
    assert tr == hdf5.tile_grid(33, 11, 2400)
    with h5py.File(path, "r") as f:
        text = f["HDFEOS INFORMATION/StructMetadata.0"][()].decode()
    g = hdf5.struct_metadata(text)["VIIRS_Grid_16Day_VI_500m"]
    assert g["UpperLeftPointMtrs"] == pytest.approx((tr.c, tr.f), abs=1e-6)
    wrong = tmp_path / archive.ids[0].replace("h33v11", "h34v11")
    shutil.copy(path, wrong)  # a granule whose name says another tile than its metadata
    with pytest.raises(DataError, match=r"StructMetadata\.0 places grid .* not on tile h34v11"):
        hdf5.granule_grid(wrong, dataset="500 m 16 days NDVI", tile=(34, 11))


@pytest.mark.parametrize(
    ("name", "dtype", "nodata", "fills"),
    [
        ("500 m 16 days NDVI", "int16", -32768, (-15000, -13000)),
        ("500 m 16 days VI Quality", "uint16", 65535, (65535,)),
        ("500 m 16 days pixel reliability", "int8", -1, (-1, -4)),
    ],
)
def test_convert_keeps_values_and_turns_fills_into_nodata(archive, tmp_path, name, dtype, nodata,
                                                          fills):  # fmt: skip
    path = archive.h5(archive.ids[0])
    stored, attrs = _h5(path, name)
    assert stored.dtype == np.dtype(dtype)
    r0, c0, size = archive.window
    win = Window(c0 - 3, r0 - 3, size + 6, size + 6)
    tr = hdf5.tile_grid(33, 11, 2400)
    out = hdf5.convert(path, name, tmp_path / "a.tif", transform=tr, nodata=nodata, fills=fills,
                       dtype=dtype, window=win)  # fmt: skip
    with rasterio.open(out) as ds:
        got = ds.read(1)
        assert ds.dtypes[0] == dtype and ds.nodata == nodata
        assert ds.crs.to_proj4().startswith("+proj=sinu") and "+R=6371007.181" in ds.crs.to_proj4()
        assert ds.transform.almost_equals(rasterio.windows.transform(win, tr), precision=1e-9)
        assert ds.transform.a == pytest.approx(463.31271652777, abs=1e-8)
    want = stored[r0 - 3 : r0 + size + 3, c0 - 3 : c0 + size + 3]
    is_fill = np.isin(want, list(attrs["_FillValue"]))
    assert is_fill.any() and (~is_fill).any()
    np.testing.assert_array_equal(got[~is_fill], want[~is_fill])  # exactly as stored
    assert (got[is_fill] == nodata).all()


def test_convert_whole_tile_and_wrong_version(archive, tmp_path):
    path = archive.h5(archive.ids[1])
    tr = hdf5.tile_grid(33, 11, 2400)
    out = hdf5.convert(path, "500 m 16 days NDVI", tmp_path / "w.tif", transform=tr,
                       nodata=-32768, fills=(-15000, -13000))  # fmt: skip
    stored, _ = _h5(path, "500 m 16 days NDVI")
    with rasterio.open(out) as ds:
        assert ds.shape == (2400, 2400) and ds.transform.almost_equals(tr)
        np.testing.assert_array_equal(ds.read(1), np.where(stored < -10000, -32768, stored))
    with pytest.raises(DataError, match=r"is int16, the product stores uint16"):
        hdf5.convert(path, "500 m 16 days NDVI", tmp_path / "x.tif", transform=tr, nodata=0,
                     dtype="uint16")  # fmt: skip
    with pytest.raises(DataError, match=r"no dataset '500 m 16 days EVI9'"):
        hdf5.read_layer(path, "500 m 16 days EVI9")


def test_data_asset_is_the_https_h5_not_its_s3_twin(archive):
    item = cmr_items(archive, "https://data.example/lp")[0]
    token = archive.ids[0].rsplit(".", 1)[1]
    assert set(item.assets) == {token, f"s3_{token}", "metadata"}  # cmr-stac's keys
    assert cmr.data_asset(item) == (token, f"https://data.example/lp/{archive.ids[0]}.h5")
    del item.assets[token]
    with pytest.raises(SourceError, match=r"no HDF5 \(\.h5\) data asset .* s3_"):
        cmr.data_asset(item)


def test_converted_item_has_the_pc_modis_shape_and_the_chain_reads_it(archive):
    src = cmr_items(archive, "https://data.example/lp")[0]
    product = viirs.granule_product("VJ113A1_002")
    assert product is not None and viirs.granule_tile(src.id) == (33, 11)
    tr = hdf5.tile_grid(33, 11, 2400)
    grid = (rasterio.crs.CRS.from_wkt(sensors.modis.SINUSOIDAL_WKT), tr, (2400, 2400))
    item = cmr.granule_item(src, collection="VJ113A1_002", product=product, grid=grid,
                            keys=[NDVI, QA])  # fmt: skip
    p = item.properties
    assert p["proj:epsg"] is None and p["proj:shape"] == [2400, 2400]
    assert p["proj:transform"] == pytest.approx(list(tr)[:6])
    assert sensors.tile("VJ113A1_002", p) == "h33v11" and p["platform"] == "noaa-20"
    assert item.assets[NDVI].extra_fields["raster:bands"] == [
        {
            "data_type": "int16",
            "nodata": -32768,
            "spatial_resolution": 500,
            "scale": 1e-4,
            "unit": "NDVI",
        }
    ]
    assert "scale" not in item.assets[QA].extra_fields["raster:bands"][0]
    sensor = sensors.for_collection("VJ113A1_002")
    assert sensor is sensors.VIIRS13A1 and sensor.mask_key == "modis13q1_qa"
    assert indices.bands_for("VJ113A1_002", ["ndvi"]) == ["ndvi", "vi_quality"]
    assert cube.asset_keys([item], ["ndvi", "vi_quality"], collection="VJ113A1_002") == {
        "ndvi": NDVI,
        "vi_quality": QA,
    }
    rule = sensors.values.conversion(item, NDVI, "ndvi", sensor)
    assert (rule.scale, rule.offset, rule.nodata) == (1e-4, 0.0, -32768)


def test_vi_quality_decoding_is_mod13s():
    """The same bits as MOD13Q1: one rule, one recipe key."""
    import xarray as xr

    q = xr.DataArray(np.array([[0b0000_0000_0000_0100, 0b0000_0100_0011_0010, 65535]], "uint16"))
    bad, cloud = sensors.VIIRS13A1.invalid(q)
    ref_bad, ref_cloud = sensors.MODIS13Q1.invalid(q)
    assert bad.values.tolist() == ref_bad.values.tolist() == [[False, True, True]]
    assert cloud.values.tolist() == ref_cloud.values.tolist()


def test_lst_granule_grid_is_the_1km_tile(tmp_path_factory):
    a = generate_viirs_archive(tmp_path_factory.mktemp("viirs-lst"), end="2022-01-08", lst=True)
    assert a.lst is not None and len(a.lst.ids) == 1
    path = a.h5(a.lst.ids[0])
    tr, pixels, grid = hdf5.granule_grid(path, dataset="LST_Day_1KM", tile=(33, 11))
    assert (pixels, grid) == (1200, "VIIRS_Grid_8Day_1km_LST21")
    assert tr.a == pytest.approx(2 * hdf5.tile_grid(33, 11, 2400).a, abs=1e-9)
    out = hdf5.convert(path, "LST_Day_1KM", tmp_path_factory.mktemp("c") / "l.tif",
                       transform=tr, nodata=0, fills=(0,), dtype="uint16")  # fmt: skip
    with h5py.File(path, "r") as f:
        stored = f["HDFEOS/GRIDS/VIIRS_Grid_8Day_1km_LST21/Data Fields/LST_Day_1KM"][()]
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), stored)
        assert ds.nodata == 0 and ds.transform == tr


def test_viirs_lst_sensor_reuses_mod21_qc_and_values():
    """VNP21A2's QC byte has MOD21A2's fields and classes (stactools-viirs): one decoding."""
    import xarray as xr

    lst = sensors.VIIRS21A2
    assert sensors.for_collection("VJ121A2_002") is lst and lst.mask_key == "modis21a2_qa"
    q = xr.DataArray(np.array([[0, 0b1111_0000, 0b0000_0010, 0b0011_0000, 0b1100_1100]], "uint8"))
    for flags in (None, ["cloud"], ["lst_error_2k", "fill"]):
        ours, ref = lst.invalid(q, flags=flags), sensors.MODIS21A2.invalid(q, flags=flags)
        assert ours[0].values.tolist() == ref[0].values.tolist()
        assert ours[1].values.tolist() == ref[1].values.tolist()
    assert lst.attrs("lst_day")["units"] == "K" and lst.qa_for("lst_night") == "qc_night"
    assert lst.scale_offset({}, "lst_day") == (0.02, 0.0)
    assert lst.product_values["emis_14"] == (0.002, 0.49)
    product = viirs.granule_product("VJ121A2_002")
    assert product is not None and product.pixels == 1200
    assert product.layers["Emis_14"].offset == 0.49
