"""Sentinel-1 RTC items exactly as Planetary Computer published them (tests/data/items,
provenance in the README beside them), with pixel files synthesised on each item's own grid:
the asset chosen per polarisation, γ⁰ read as stored (linear power, float32), NaN on the
declared nodata −32768, the orbit direction and number of looks read from the properties.

The expected values are written here from the items' `raster:bands` (float32, nodata −32768,
no scale or offset) and the collection's description (calibrated intensity), not computed by
vegcube's rule code."""

from __future__ import annotations

import numpy as np
import pytest

from vegcube import cube, sensors
from vegcube.sensors import sentinel1
from vegcube.testing.real import materialise, window_grid

ITEMS = [
    "S1A_IW_GRDH_1SDV_20240419T045904_20240419T045916_053498_067DF2_rtc",
    "S1A_IW_GRDH_1SDV_20250311T044231_20250311T044249_058252_073302_rtc",
]
#: γ⁰ on the ground, linear power (−32768: the file's nodata); 0.0123 ≈ −19.1 dB
VV = np.array([[0.0851, -32768.0], [0.2, 0.0123]], dtype="float32")
VH = np.array([[0.0123, 0.0031], [-32768.0, 0.0502]], dtype="float32")


@pytest.fixture(params=ITEMS)
def item(request, real_item):
    return real_item("planetary-computer", "sentinel-1-rtc", request.param)


def test_published_items_declare_float32_power_and_nodata(item):
    assert sensors.for_collection(item.collection_id) is sensors.SENTINEL1
    for key in ("vv", "vh"):
        (rb,) = item.assets[key].extra_fields["raster:bands"]
        assert rb == {"nodata": -32768, "data_type": "float32", "spatial_resolution": 10.0}
        assert "gamma naught" in item.assets[key].description
    assert sentinel1.orbit_state(item.properties) == "descending"
    assert sentinel1.equivalent_looks(item.properties) == 4.4
    assert item.properties["sar:polarizations"] == ["VV", "VH"]
    # PC writes start/end with a space and +00:00; both still parse
    assert " " in item.properties["start_datetime"]
    assert item.common_metadata.start_datetime < item.datetime < item.common_metadata.end_datetime
    assert sensors.tile(item.collection_id, item.properties) is None  # each slice its own scene


def test_published_items_resolve_assets_and_values(tmp_path, item):
    keys = cube.asset_keys([item], ["vv", "vh"], collection="sentinel-1-rtc")
    assert keys == {"vv": "vv", "vh": "vh"}
    local = materialise(
        item, tmp_path, {"vv": VV, "vh": VH}, anchor="vv",
        dtype={"vv": "float32", "vh": "float32"}, nodata={"vv": -32768.0, "vh": -32768.0},
    )  # fmt: skip
    grid = window_grid(item, "vv", 2)
    ds = cube.load([local], ["vv", "vh"], grid=grid, collection="sentinel-1-rtc").compute()
    for band, stored in (("vv", VV), ("vh", VH)):
        assert ds[band].dtype == np.float32
        expected = np.where(stored == -32768.0, np.nan, stored)
        np.testing.assert_array_equal(ds[band].values[0], expected)
        assert ds[band].attrs["units"] == "1" and "linear power" in ds[band].attrs["long_name"]
    assert list(ds.sensor.values) == ["sentinel1"]


def test_value_rule_is_linear_power_with_the_declared_nodata(item):
    rules = cube.value_rules([item], ["vv", "vh"], collection="sentinel-1-rtc")
    assert rules["conflicts"] == []
    for band in ("vv", "vh"):
        ((text, count),) = rules["rules"]["sentinel-1-rtc"][band].items()
        assert count == 1 and "×1 +0, nodata -32768" in text and "linear power" in text
