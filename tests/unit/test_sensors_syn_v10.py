"""Sentinel-3 SYNERGY V10: the real items, collection, NetCDF stubs and flag definitions
(tests/data/items/planetary-computer/sentinel-3-synergy-v10-l2-netcdf, provenance in the README
there) against vegcube's sensor, by hand; and the generated archive against their shape."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import netCDF4
import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr

from vegcube import cube, indices, sensors
from vegcube.errors import DataError, InputError, RecipeError
from vegcube.recipe import load_recipe
from vegcube.sensors import values
from vegcube.sensors.syn_v10 import (
    COLLECTION,
    SM_FLAGS,
    SYN_V10,
    VARIABLES,
    gdal_path,
    readable,
    status_value,
)
from vegcube.testing.syn_v10 import dekads, generate_syn_v10_archive

HERE = Path(__file__).parents[1] / "data" / "items" / "planetary-computer" / COLLECTION
EUROPE = HERE / "stactools" / "S3A_SY_2_V10_20210911T000000_20210920T235959_EUROPE.json"
ISLANDS = (
    HERE
    / "stactools"
    / (
        "S3A_SY_2_V10____20191216T110000_20191226T110000_20200105T114106_ASIAN_ISLANDS_____LN2_O_NT"
        "_002.json"
    )
)
STUBS = next((HERE / "stactools").glob("*.SEN3"))
TEMPLATE = HERE / "pctasks" / "template.json"
MAPPING = HERE / "eopf" / "S3SYNV10_mapping.json"
UTC = dt.timezone.utc
BANDS = ["ndvi", "status_map", "blue", "red", "nir", "swir16"]


def _item(path: Path) -> pystac.Item:
    return pystac.Item.from_dict(json.loads(path.read_text()))


def _mapping(variable: str) -> dict:
    entries = json.loads(MAPPING.read_text())["data_mapping"]
    return next(e["attributes"] for e in entries if e.get("source_path", "").endswith(variable))


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[list[pystac.Item], object]:
    archive = generate_syn_v10_archive(
        tmp_path_factory.mktemp("synv10"), start="2021-09-01", end="2021-09-30"
    )
    cat = pystac.Catalog.from_file(str(archive.catalog))
    return sorted(cat.get_items(recursive=True), key=lambda i: i.id), archive


def test_registered_with_its_recipe_key():
    assert sensors.for_collection(COLLECTION) is SYN_V10
    assert SYN_V10 in sensors.SENSORS and "status_map" in sensors.qa_bands()
    assert indices.bands_for(COLLECTION, ["ndvi"]) == ["ndvi", "status_map"]  # ready-made
    assert indices.bands_for(COLLECTION, ["ndwi"]) == ["nir", "swir16", "status_map"]
    rc = {
        "name": "syn-v10",
        "aoi": {"bbox": [165.4, -21.6, 165.5, -21.5]},
        "time": {"start": "2021-01-01", "end": "2021-03-31"},
        "source": {"catalog": "catalog.json", "collection": COLLECTION},
        "mask": {"syn_v10_qa": ["unfilled", "cloud"]},
        "output": {"dir": "out"},
    }
    assert load_recipe(rc).mask.qa_flags["syn_v10"] == ["unfilled", "cloud"]
    with pytest.raises(RecipeError, match=r"mask.syn_v10_qa.*unfilled, cloud, uncertain"):
        load_recipe({**rc, "mask": {"syn_v10_qa": ["clouds"]}})


def test_real_items_resolve_their_assets():
    europe, islands = _item(EUROPE), _item(ISLANDS)
    keys = cube.asset_keys([europe], BANDS, collection=COLLECTION)
    assert keys == {
        "ndvi": "ndvi",
        "status_map": "sm",
        "blue": "b0",
        "red": "b2",
        "nir": "b3",
        "swir16": "mir",
    }
    item_assets = json.loads(TEMPLATE.read_text())["item_assets"]
    assert set(europe.assets) == set(item_assets)  # the stactools item is PC's shape
    for band, key in keys.items():
        file = europe.assets[key].href.rsplit("/", 1)[1]
        assert file.split(".")[0].upper() == VARIABLES[band][1]  # NDVI.nc:NDVI, sm.nc:SM, …
        assert europe.assets[key].extra_fields["s3:shape"] == [5601, 8176]
    assert "raster:bands" not in europe.assets["ndvi"].extra_fields
    assert not any(k.startswith("proj:") for k in europe.properties)
    # the 2021 stactools keys (camelCase) are aliases too
    old = cube.asset_keys([islands], ["ndvi", "status_map"], collection=COLLECTION)
    assert old == {"ndvi": "ndviData", "status_map": "smData"}


def test_dated_in_the_period_of_the_start_day():
    europe, islands = _item(EUROPE), _item(ISLANDS)
    assert europe.datetime == dt.datetime(2021, 9, 15, 23, 59, 59, 500000, tzinfo=UTC)
    clone = readable(europe, ["ndvi", "status_map"])
    assert clone.datetime == dt.datetime(2021, 9, 11, 12, tzinfo=UTC)  # dekad 2 of September
    assert europe.datetime.day == 15  # the original is untouched
    # an early product's window (16 Dec 11:00 → 26 Dec 11:00, midpoint the 21st, dekad 3)
    # counts in the dekad of its start, the second of December
    assert readable(islands, ["ndvi"]).datetime == dt.datetime(2019, 12, 16, 12, tzinfo=UTC)


def test_assets_become_gdal_subdatasets_with_the_crs():
    clone = readable(_item(EUROPE), ["ndvi", "status_map"])
    href = clone.assets["ndvi"].href
    assert href.startswith('vrt://NETCDF:"') and href.endswith('NDVI.nc":NDVI?a_srs=EPSG:4326')
    assert clone.assets["sm"].href.endswith('sm.nc":SM?a_srs=EPSG:4326')
    assert clone.assets["ndvi"].extra_fields["gsd"] == 1000.0  # s3:spatial_resolution
    assert clone.assets["b0"].href == _item(EUROPE).assets["b0"].href  # not asked for
    url = "https://sentinel3euwest.blob.core.windows.net/sentinel-3/x.SEN3/NDVI.nc"
    assert gdal_path(url, "NDVI") == f'vrt://NETCDF:"/vsicurl/{url}":NDVI?a_srs=EPSG:4326'
    assert gdal_path("s3://b/k/sm.nc", "SM") == 'vrt://NETCDF:"/vsis3/b/k/sm.nc":SM?a_srs=EPSG:4326'
    with pytest.raises(DataError, match="query string"):  # vrt:// would cut it at '?'
        gdal_path(url + "?st=2024&sig=x", "NDVI")


def test_dn_to_value_by_hand():
    item = _item(EUROPE)
    ndvi = values.conversion(item, "ndvi", "ndvi", SYN_V10)
    assert (ndvi.scale, ndvi.offset, ndvi.nodata) == (0.004, -0.08, 255)
    attrs = _mapping("NDVI.nc:NDVI")  # the product's own packing
    assert np.float32(attrs["scale_factor"]) == np.float32(ndvi.scale)
    assert np.float32(attrs["add_offset"]) == np.float32(ndvi.offset)
    assert attrs["_FillValue"] == ndvi.nodata and attrs["valid_max"] == 250
    dn = np.array([0, 20, 145, 250], np.float32)
    got = dn * np.float32(ndvi.scale) + np.float32(ndvi.offset)
    np.testing.assert_allclose(got, [-0.08, 0.0, 0.5, 0.92], atol=1e-6)
    red = values.conversion(item, "b2", "red", SYN_V10)
    assert (red.scale, red.offset, red.nodata) == (1e-4, 0.0, -10000)
    assert _mapping("B2.nc:B2")["_FillValue"] == red.nodata
    sm = values.conversion(item, "sm", "status_map", SYN_V10)
    assert (sm.scale, sm.offset, sm.nodata) == (1.0, 0.0, 1)
    assert _mapping("sm.nc:SM")["_FillValue"] == sm.nodata


def test_status_map_flags_are_the_products():
    attrs = _mapping("sm.nc:SM")
    meanings = attrs["flag_meanings"].split()
    assert list(SM_FLAGS) == meanings
    assert [SM_FLAGS[m] for m in meanings] == list(
        zip(attrs["flag_masks"], attrs["flag_values"], strict=True)
    )


def test_status_map_decoding_by_hand():
    clear = status_value()  # clear land, all four channels good
    assert clear == 8 + 16 + 32 + 64 + 128 == 248
    words = {
        "clear": clear,
        "cloud": clear | 3,
        "uncertain": clear | 2,
        "fill": 1,
        "snow": clear | 4,
        "water": clear & ~8,
        "bad_red": clear & ~64,
        "bad_blue": clear & ~128,
        "ndvi_saturated": clear | 256,
    }
    assert status_value(cloud="cloud") == words["cloud"]
    assert status_value(land=False) == words["water"]
    assert status_value(good=("B0", "B3", "MIR")) == words["bad_red"]
    assert status_value(saturated=("NDVI",)) == words["ndvi_saturated"]
    qa = xr.DataArray(np.array(list(words.values()), np.uint16), dims="x")
    bad, cloudy = SYN_V10.invalid(qa)  # the defaults
    got = dict(
        zip(words, zip(bad.values.tolist(), cloudy.values.tolist(), strict=True), strict=True)
    )
    assert got == {
        "clear": (False, False),
        "cloud": (False, True),  # cloud-like: grown by dilate_m
        "uncertain": (False, True),
        "fill": (True, False),  # unfilled only: never cloud, water or bad radiometry
        "snow": (True, False),
        "water": (True, False),
        "bad_red": (True, False),
        "bad_blue": (False, False),  # B0 is not behind the NDVI
        "ndvi_saturated": (False, False),
    }
    bad, cloudy = SYN_V10.invalid(qa, flags=["ndvi_saturated", "not_b0_good", "not_land"])
    assert bad.values.tolist() == [False, False, False, False, False, True, False, True, True]
    assert not cloudy.any()
    bad, _ = SYN_V10.invalid(qa.astype("float32"), flags=["unfilled"])  # float QA (concat)
    assert bad.values.tolist() == [k == "fill" for k in words]
    with pytest.raises(InputError, match="unknown SYN V10 status map flag 'snow'"):
        SYN_V10.invalid(qa, flags=["snow"])


def test_real_netcdf_stubs_and_generated_files_share_their_layout(generated):
    items, _ = generated
    files = {"NDVI": STUBS / "NDVI.nc", "SM": STUBS / "sm.nc"}
    keys = {"NDVI": "ndvi", "SM": "sm"}
    for var, stub in files.items():
        with netCDF4.Dataset(stub) as real:
            dims = {k: len(v) for k, v in real.dimensions.items()}
            assert dims == {"crs": 1, "latitude": 5601, "longitude": 8176, "vertices": 2}
            real_attrs = set(real.ncattrs())
            title = real.getncattr("title")
        href = items[0].assets[keys[var]].get_absolute_href()
        assert href is not None
        with netCDF4.Dataset(href) as nc:
            assert set(nc.dimensions) == set(dims)
            assert set(nc.ncattrs()) == real_attrs
            assert nc.getncattr("title") == title
            v = nc[var]
            assert v.dimensions == ("latitude", "longitude")
            want = _mapping(f"{stub.name}:{var}")
            for name in ("_FillValue", "flag_meanings", "valid_max", "standard_name"):
                if name in want:
                    assert np.all(np.asarray(v.getncattr(name)) == np.asarray(want[name])), name
            assert nc["latitude"].getncattr("bounds") == "lat_bnds"


def test_generated_items_and_files_read_as_the_product(generated):
    items, archive = generated
    assert [it.id.split("_")[4] for it in items] == [
        "20210901T000000",
        "20210911T000000",
        "20210921T000000",
    ]
    first = items[0]
    assert first.properties["end_datetime"] == "2021-09-10T23:59:59Z"
    assert first.datetime == dt.datetime(2021, 9, 5, 23, 59, 59, 500000, tzinfo=UTC)
    assert set(first.assets) <= set(json.loads(TEMPLATE.read_text())["item_assets"]) | {"tg"}
    real = _item(EUROPE)
    assert set(real.properties) == set(first.properties)
    href = first.assets["ndvi"].get_absolute_href()
    assert href is not None
    with rasterio.open(gdal_path(href, "NDVI")) as src:
        assert src.crs.to_epsg() == 4326 and src.nodata == 255 and src.dtypes[0] == "uint8"
        assert src.scales[0] == pytest.approx(0.004) and src.offsets[0] == pytest.approx(-0.08)
        with netCDF4.Dataset(href) as nc:
            lon, lat = nc["longitude"][:], nc["latitude"][:]
            stored = nc["NDVI"]
            stored.set_auto_maskandscale(False)
            np.testing.assert_array_equal(src.read(1), stored[:])
        step = archive.step_deg  # type: ignore[attr-defined]
        assert src.transform.c == pytest.approx(lon[0] - step / 2, abs=1e-12)  # centres
        assert src.transform.f == pytest.approx(lat[0] + step / 2, abs=1e-12)
        assert np.allclose(np.asarray(lon) / step, np.round(np.asarray(lon) / step))


def test_dekads():
    got = dekads(dt.date(2021, 1, 25), dt.date(2021, 2, 28))
    assert got == [
        (dt.date(2021, 1, 21), dt.date(2021, 1, 31)),
        (dt.date(2021, 2, 1), dt.date(2021, 2, 10)),
        (dt.date(2021, 2, 11), dt.date(2021, 2, 20)),
        (dt.date(2021, 2, 21), dt.date(2021, 2, 28)),
    ]
