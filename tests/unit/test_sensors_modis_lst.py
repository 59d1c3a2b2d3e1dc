"""MODIS 8-day LST (MOD11A2, MOD21A2): real Planetary Computer items read to the right values,
QC bytes decoded bit by bit against the product guides, night masked by QC_Night.

Expected values are written from the product documentation (tests/data/items/
EVIDENCE-landsat-modis.md), not computed by vegcube's rule code."""

from __future__ import annotations

import numpy as np
import pystac
import pytest
import xarray as xr

from helpers import qa_array
from vegcube import aoi, cube, mask, sensors
from vegcube.recipe.drought import LstSpec
from vegcube.sensors import MODIS11A2, MODIS21A2
from vegcube.testing.modis_lst import generate_modis_lst_archive, mod11_qc, mod21_qc
from vegcube.testing.real import materialise, window_grid

MOD11 = ("planetary-computer", "modis-11A2-061", "MYD11A2.A2025057.h35v10.061.2025066034929")
MOD21 = ("planetary-computer", "modis-21A2-061", "MYD21A2.A2025057.h35v10.061.2025066035722")

#: common band → asset key, as each collection publishes it
ASSETS = {
    "modis-11A2-061": {
        "lst_day": "LST_Day_1km",
        "lst_night": "LST_Night_1km",
        "qc_day": "QC_Day",
        "qc_night": "QC_Night",
        "emis_31": "Emis_31",
        "view_angle_day": "Day_view_angl",
        "view_time_day": "Day_view_time",
    },
    "modis-21A2-061": {
        "lst_day": "LST_Day_1KM",
        "lst_night": "LST_Night_1KM",
        "qc_day": "QC_Day",
        "qc_night": "QC_Night",
        "emis_31": "Emis_31",
        "view_angle_day": "View_Angle_Day",
        "view_time_day": "View_Time_Day",
    },
}

#: band → (DN in the file, storage type, file fill, value by hand); NaN where the DN is fill
VALUES = {
    "lst_day": ([[15000, 0], [14650, 7500]], "uint16", 0, [[300.0, np.nan], [293.0, 150.0]]),
    "lst_night": ([[14500, 65535], [0, 14000]], "uint16", 0, [[290.0, 1310.7], [np.nan, 280.0]]),
    # emissivity = DN × 0.002 + 0.49 (the items declare ×0.002 only)
    "emis_31": ([[240, 0], [255, 1]], "uint8", 0, [[0.97, np.nan], [1.0, 0.492]]),
    # view zenith angle = DN − 65 (the items declare nothing)
    "view_angle_day": ([[65, 255], [95, 0]], "uint8", 255, [[0.0, np.nan], [30.0, -65.0]]),
    "view_time_day": ([[105, 255], [0, 240]], "uint8", 255, [[10.5, np.nan], [0.0, 24.0]]),
}


@pytest.mark.parametrize("which", [MOD11, MOD21], ids=["MOD11A2", "MOD21A2"])
def test_real_items_read_to_the_products_values(tmp_path, real_item, which):
    item = real_item(*which)
    coll = which[1]
    sensor = sensors.for_collection(coll)
    bands = [*VALUES, "qc_day"]
    keys = cube.asset_keys([item], bands, collection=coll)
    assert {b: keys[b] for b in bands} == {b: ASSETS[coll][b] for b in bands}
    assert cube.asset_keys([item], ["qc_night"], collection=coll) == {"qc_night": "QC_Night"}
    dn = {keys[b]: np.array(v[0]) for b, v in VALUES.items()}
    dtype = {keys[b]: v[1] for b, v in VALUES.items()}
    nodata = {keys[b]: v[2] for b, v in VALUES.items()}
    qc = keys["qc_day"]
    dn[qc], dtype[qc], nodata[qc] = np.array([[0, 2], [65, 3]]), "uint8", None
    local = materialise(item, tmp_path, dn, anchor=qc, dtype=dtype, nodata=nodata)
    grid = window_grid(item, qc, 2, anchor=qc)
    ds = cube.load([local], bands, grid=grid, collection=coll, chunk=None)
    for band, (_, _, _, want) in VALUES.items():
        np.testing.assert_allclose(ds[band].values[0], want, rtol=1e-6, atol=1e-6, err_msg=band)
    assert ds.qc_day.dtype == np.uint8 and ds.qc_day.values[0].tolist() == [[0, 2], [65, 3]]
    assert ds.lst_day.attrs["units"] == "K" and sensor.attrs("emis_31")["units"] == "1"
    # composites are dated by their start (PC sets datetime to null)
    assert str(ds.time.values[0])[:10] == item.properties["start_datetime"][:10] == "2025-02-26"


@pytest.mark.parametrize("which", [MOD11, MOD21], ids=["MOD11A2", "MOD21A2"])
def test_rules_supply_what_the_items_omit(real_item, which):
    item = real_item(*which)
    sensor = sensors.for_collection(which[1])
    conv = sensors.values.conversion
    keys = ASSETS[which[1]]
    lst = conv(item, keys["lst_day"], "lst_day", sensor)
    assert (lst.scale, lst.offset, lst.nodata, lst.rule) == (0.02, 0.0, 0, "asset scale/offset")
    emis = conv(item, keys["emis_31"], "emis_31", sensor)
    assert (emis.scale, emis.offset, emis.nodata) == (0.002, 0.49, 0)
    assert emis.conflict is not None and "+0.49" in emis.conflict  # declared ×0.002 +0
    angle = conv(item, keys["view_angle_day"], "view_angle_day", sensor)
    assert (angle.scale, angle.offset, angle.nodata, angle.conflict) == (1.0, -65.0, 255, None)
    qc = conv(item, keys["qc_day"], "qc_day", sensor)
    assert (qc.scale, qc.offset, qc.rule) == (1.0, 0.0, "quality band: not scaled")
    assert qc.nodata == (None if sensor is MODIS11A2 else 0)  # MOD21A2 QC _FillValue 0
    assert sensors.tile(which[1], item.properties) == "h35v10"


def test_mod11_qc_bits_by_hand():
    # bits 0–1 mandatory QA, 2–3 data quality, 4–5 emissivity error, 6–7 LST error
    cases = {
        0b00000000: set(),
        0b00000001: {"unreliable"},
        0b00000010: {"cloud"},
        0b00000011: {"not_produced"},
        0b00000100: {"other_quality"},
        0b00110000: {"emissivity_error_high"},
        0b00100000: set(),  # emissivity error ≤ 0.04
        0b01000001: {"unreliable"},  # LST error ≤ 2 K
        0b10000001: {"unreliable", "lst_error_2k"},  # ≤ 3 K
        0b11000001: {"unreliable", "lst_error_2k", "lst_error_3k"},  # > 3 K
        # no QC fill in MOD11: 255 is read as what its bits say
        255: {
            "not_produced",
            "other_quality",
            "emissivity_error_high",
            "lst_error_2k",
            "lst_error_3k",
        },
    }
    assert mod11_qc(mandatory=1, lst_error=2) == 0b10000001 and mod11_qc(mandatory=3) == 3
    values = list(cases)
    qa = qa_array(values, dtype="uint8")
    for flag in MODIS11A2.qa_flags:
        bad, cloud = MODIS11A2.invalid(qa, flags=[flag])
        assert (bad | cloud).values.tolist() == [flag in cases[v] for v in values], flag
    bad, cloud = MODIS11A2.invalid(qa)  # defaults: cloud, not produced, LST error > 2 K
    assert cloud.values.tolist() == [v & 3 == 2 for v in values]
    assert bad.values.tolist() == [v & 3 == 3 or v >> 6 >= 2 for v in values]


def test_mod21_qc_bits_by_hand():
    # MOD21: accuracy classes run the other way (00 worst), QC 0 is the product's fill
    good = 0b11100000  # produced, good L1B, emissivity accuracy 10, LST accuracy 11 (< 1 K)
    assert mod21_qc() == good == 224
    cases = {
        good: set(),
        0: {"fill"},  # fill only: never cloud, never grown
        good | 1: {"unreliable"},
        good | 2: {"cloud"},
        good | 3: {"not_produced"},
        good | 0b0100: {"missing_pixel"},
        good | 0b1000: {"fairly_calibrated"},
        good | 0b1100: {"poorly_calibrated"},
        good & ~0b110000: {"emissivity_error_high"},  # accuracy 00: > 0.02
        0b10100000: set(),  # LST accuracy 10: 1–1.5 K (good)
        0b01100000: {"lst_error_1_5k"},  # 01: 1.5–2 K (marginal)
        0b00100001: {"unreliable", "lst_error_1_5k", "lst_error_2k"},  # 00: > 2 K (poor)
    }
    values = list(cases)
    qa = qa_array(values, dtype="uint8")
    for flag in MODIS21A2.qa_flags:
        bad, cloud = MODIS21A2.invalid(qa, flags=[flag])
        assert (bad | cloud).values.tolist() == [flag in cases[v] for v in values], flag
    _, cloud = MODIS21A2.invalid(qa, flags=list(MODIS21A2.qa_flags))
    assert not cloud.values[values.index(0)]
    bad, cloud = MODIS21A2.invalid(qa)
    dropped = [v for v, b, c in zip(values, bad.values, cloud.values, strict=True) if b or c]
    assert dropped == [0, good | 2, good | 3, good | 0b0100, good | 0b1100, 0b00100001]


def test_night_band_masked_by_qc_night_not_qc_day():
    assert MODIS11A2.qa_for("lst_night") == "qc_night" and MODIS11A2.qa_for("lst_day") == "qc_day"
    assert MODIS21A2.qa_for("lst_night") == "qc_night"
    ds = xr.Dataset(
        {
            "lst_day": (("time", "y", "x"), np.full((1, 1, 3), 300.0, np.float32)),
            "lst_night": (("time", "y", "x"), np.full((1, 1, 3), 290.0, np.float32)),
            "qc_day": (("time", "y", "x"), np.array([[[0, 2, 0]]], np.uint8)),
            "qc_night": (("time", "y", "x"), np.array([[[2, 0, 0b10000001]]], np.uint8)),
        },
        coords={"sensor": ("time", ["modis11a2"])},
    )
    night = MODIS11A2.qa_for("lst_night")
    ok = mask.valid(ds, qa_band=night, bands=["lst_night"]).values[0, 0].tolist()
    assert ok == [False, True, False]  # cloudy night, clear night, night LST error > 2 K
    ok = mask.valid(ds, qa_band="qc_day", bands=["lst_day"]).values[0, 0].tolist()
    assert ok == [True, False, True]


def test_lst_recipe_accepts_only_temperature_bands():
    assert LstSpec(collection="modis-21A2-061", band="lst_night").band == "lst_night"
    with pytest.raises(ValueError, match=r"'qc_day' is not a temperature band.*lst_day, lst_night"):
        LstSpec(collection="modis-11A2-061", band="qc_day")
    with pytest.raises(ValueError, match="'lwir' is not a band of modis-11A2-061"):
        LstSpec(collection="modis-11A2-061")


@pytest.fixture(scope="module")
def lst_archive(tmp_path_factory):
    return generate_modis_lst_archive(
        tmp_path_factory.mktemp("mod11"), start="2022-02-01", end="2022-02-28", size=8
    )


def test_generated_archive_in_planetary_computers_shape(lst_archive, real_item):
    a = lst_archive
    cat = pystac.Catalog.from_file(str(a.catalog))
    items = sorted(cat.get_items(recursive=True), key=lambda i: i.properties["start_datetime"])
    assert a.n_items == len(items) == 5  # days 025 (Jan 25–Feb 1), 033, 041, 049, 057
    real = real_item(*MOD11)
    for item in items:
        assert item.datetime is None and item.collection_id == "modis-11A2-061"
        assert set(item.properties) == set(real.properties)
        assert set(item.assets) == set(real.assets) - {
            "hdf",
            "metadata",
            "tilejson",
            "rendered_preview",
        }
        for key, asset in item.assets.items():
            want = real.assets[key]
            assert (asset.title, asset.roles) == (want.title, want.roles), key
            rb, want_rb = asset.extra_fields["raster:bands"], want.extra_fields["raster:bands"]
            assert rb == want_rb, key
    grid = aoi.grid(aoi.read_aoi(a.bbox), resolution=1000)
    c = cube.load(items, ["lst_day", "qc_day"], grid=grid, collection=a.collection, chunk=None)
    qc, lst = c.qc_day.values, c.lst_day.values
    produced = (qc & 3) < 2
    assert np.isnan(lst[~produced]).all()  # cloudy and not produced: LST fill 0 → NaN
    assert (qc == 2).any() and (qc == mod11_qc(mandatory=1, lst_error=2)).any()
    kelvin = lst[produced & np.isfinite(lst)]
    assert kelvin.size and kelvin.min() > 285 and kelvin.max() < 305
    ok = mask.valid(c, qa_band="qc_day", bands=["lst_day"]).values
    erred = qc == mod11_qc(mandatory=1, lst_error=2)
    assert not ok[erred].any() and ok[(qc == 0) & np.isfinite(lst)].all()
    # the erred pixels are colder (residual cloud): masking them matters
    assert np.nanmean(lst[erred]) < np.nanmean(lst[(qc == 0)]) - 3
