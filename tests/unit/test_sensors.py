"""The sensor registry: one record per sensor, bands, tiles, attributes, scale and offset."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from vegcube import indices, sensors
from vegcube.errors import RecipeError, SourceError
from vegcube.recipe import MaskSpec, load_recipe
from vegcube.sensors import LANDSAT, MODIS09A1, MODIS13Q1, SENTINEL2


def qa_array(values, dtype="uint16") -> xr.DataArray:
    return xr.DataArray(np.array(values, dtype=dtype), dims="x")


def test_unknown_flags_list_accepted_names():
    with pytest.raises(ValueError, match="accepted: fill, dilated_cloud"):
        LANDSAT.invalid(qa_array([1]), flags=["clouds"])
    with pytest.raises(RecipeError, match=r"mask\.landsat_qa: .*'clouds'.*accepted: fill"):
        load_recipe(_recipe(mask={"landsat_qa": ["fill", "clouds"]}))
    with pytest.raises(RecipeError, match=r"mask\.modis13q1_qa: .*accepted: .*mixed_clouds"):
        load_recipe(_recipe(mask={"modis13q1_qa": ["haze"]}))


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
    assert indices.bands_for("landsat-c2-l2", ["ndvi", "ndwi"]) == [
        "nir",
        "red",
        "swir16",
        "qa_pixel",
    ]
    assert indices.bands_for("modis-13Q1-061", ["ndvi"]) == ["ndvi", "vi_quality"]
    with pytest.raises(SourceError, match=r"known: sentinel-2-l2a.*landsat-c2-l2.*modis-13Q1-061"):
        sensors.for_collection("viirs-13a1")
    names = [s.name for s in (*sensors.SENSORS, *sensors.AUXILIARY)]
    assert len(set(names)) == len(names)
    mask_keys = set(MaskSpec.model_fields)
    for sensor in sensors.SENSORS:  # the common record, consistent with itself
        assert isinstance(sensor, sensors.Sensor)
        assert set(sensor.default_flags) <= set(sensor.qa_flags)
        assert set(sensor.qa_flags) >= sensor.cloud_flags
        assert set(sensor.index_bands.values()) <= set(sensor.asset_aliases)
        if not sensor.qa_band:  # no quality band (Sentinel-1 RTC): nothing to flag
            assert not (sensor.qa_bands or sensor.qa_flags or sensor.mask_key)
            continue
        assert sensor.qa_band in sensor.qa_bands and sensor.qa_band in sensor.asset_aliases
        assert sensor.mask_key in mask_keys  # each sensor's flags have a recipe key


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
