"""Items exactly as the catalogs published them (tests/data/items, provenance in the READMEs
beside them), with pixel files synthesised on each item's own grid: the asset chosen per band,
the exact value of a known DN, NaN on nodata.

The expected values are written here from the catalogs' documented conventions, item by item,
not computed by vegcube's rule code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import S2_OFFSETS
from vegcube import cube, indices, sensors
from vegcube.testing.real import materialise, window_grid

ITEMS = Path(__file__).parents[1] / "data" / "items"


#: asset keys each catalog uses for red, nir and the scene classification
S2_ASSETS = {
    "earth-search": {"red": "red", "nir": "nir", "scl": "scl"},
    "planetary-computer": {"red": "B04", "nir": "B08", "scl": "SCL"},
    "cdse": {"red": "B04_10m", "nir": "B08_10m", "scl": "SCL_20m"},
}


#: surface reflectance on the ground (NaN: the file holds nodata there)
RED = np.array([[0.05, np.nan], [0.15, 0.12]])


NIR = np.array([[0.30, 0.30], [0.25, np.nan]])


def dn(reflectance: np.ndarray, offset: float) -> np.ndarray:
    """The DN a file whose values are reflectance × 10000 − offset × 10000 holds (0: nodata)."""
    return np.where(np.isnan(reflectance), 0, np.rint((reflectance - offset) * 10000))


def test_corpus_covers_every_catalog_and_collection():
    """Every catalog × collection vegcube names has real items with their provenance; the
    Sentinel-2 ones at least two (before and after the baseline switch where one was found)."""
    folders = {(p.parts[-3], p.parts[-2]) for p in ITEMS.glob("*/*/*.json")}
    tested = {k[:2] for k in S2_OFFSETS} | {k[:2] for k in OTHERS} | {k[:2] for k in RADAR}
    assert folders == tested
    for cat, coll in folders:
        files = sorted((ITEMS / cat / coll).glob("*.json"))
        readme = (ITEMS / cat / coll / "README.md").read_text()
        for f in files:
            doc = json.loads(f.read_text())
            assert (doc["id"], doc["collection"]) == (f.stem, coll)
            assert doc["id"] in readme  # its source and licence are written down
        assert len(files) >= (2 if coll.startswith("sentinel-2") else 1)
    # all tested (radar: tests/unit/test_sentinel1_items.py)
    assert len(list(ITEMS.glob("*/*/*.json"))) == len(S2_OFFSETS) + len(OTHERS) + len(RADAR)


@pytest.mark.parametrize(("catalog_name", "collection", "item_id"), sorted(S2_OFFSETS))
def test_sentinel2_reflectance_as_published(tmp_path, catalog_name, collection, item_id, real_item):
    item = real_item(catalog_name, collection, item_id)
    keys = cube.asset_keys([item], ["red", "nir", "scl"], collection=collection)
    assert keys == S2_ASSETS[catalog_name]
    scl = keys["scl"]
    offset = S2_OFFSETS[(catalog_name, collection, item_id)]
    local = materialise(
        item,
        tmp_path,
        {keys["red"]: dn(RED, offset), keys["nir"]: dn(NIR, offset), scl: np.array([[4]])},
        anchor=scl,
        dtype={keys["red"]: "uint16", keys["nir"]: "uint16", scl: "uint8"},
        nodata={keys["red"]: 0, keys["nir"]: 0, scl: 0},
    )
    grid = window_grid(item, keys["red"], 2, anchor=scl)
    ds = cube.load([local], ["red", "nir", "scl"], grid=grid, collection=collection).compute()
    np.testing.assert_allclose(ds.red.values[0], RED, atol=1e-6)
    np.testing.assert_allclose(ds.nir.values[0], NIR, atol=1e-6)
    assert (ds.scl.values == 4).all()
    # the vegetated pixel of the issue (Earth Search: DN red 500, NIR 3000): NDVI 0.71, not 1.67
    ndvi = indices.compute(ds, ["ndvi"]).ndvi.values[0, 0, 0]
    assert ndvi == pytest.approx(0.25 / 0.35, abs=1e-5)


def test_earth_search_contradiction_reported_once(real_item):
    ids = ("S2A_13TDE_20231008_0_L2A", "S2B_24MVV_20250731_0_L2A", "S2A_32TMT_20200302_0_L2A")
    items = [real_item("earth-search", "sentinel-2-l2a", i) for i in ids]
    report = cube.value_rules(items, ["red", "nir", "scl"])
    red = report["rules"]["sentinel-2-l2a"]["red"]
    assert red == {
        "earthsearch:boa_offset_applied: true → ×0.0001 +0, nodata 0.0": 2,
        "asset scale/offset → ×0.0001 +0, nodata 0.0": 1,
    }
    conflicts = {(c["band"], c["items"]) for c in report["conflicts"]}
    assert conflicts == {("red", 2), ("nir", 2)}  # one entry per band, not one per item
    assert all("boa_offset_applied is true" in c["conflict"] for c in report["conflicts"])


def test_baseline_decides_without_asset_scale(real_item):
    """Planetary Computer: nothing on the asset; the baseline, not the date, decides."""
    item = real_item(
        "planetary-computer",
        "sentinel-2-l2a",
        "S2A_MSIL2A_20220728T093601_R036_T46XER_20220729T131138",
    )
    old = item.clone()
    old.properties["s2:processing_baseline"] = "03.01"  # a (hypothetical) older processing
    rule = sensors.values.conversion(old, "B04", "red", sensors.SENTINEL2)
    assert (rule.scale, rule.offset, rule.rule) == (1e-4, 0.0, "processing baseline 03.01")
    del old.properties["s2:processing_baseline"]
    rule = sensors.values.conversion(old, "B04", "red", sensors.SENTINEL2)
    assert rule.offset == -0.1 and rule.rule.startswith("acquisition date")


def test_earth_search_false_flag_on_new_baseline_is_flagged(real_item):
    """earth-search#71: `S2B_33UXP_20250302_0_L2A` says `boa_offset_applied: false` (baseline
    05.11) but its COGs are harmonised. The declared offset is applied, and the run says so."""
    item = real_item("earth-search", "sentinel-2-l2a", "S2B_24MVV_20250731_0_L2A").clone()
    item.properties["earthsearch:boa_offset_applied"] = False  # as in the reported items
    rule = sensors.values.conversion(item, "red", "red", sensors.SENTINEL2)
    assert (rule.scale, rule.offset, rule.rule) == (1e-4, -0.1, "asset scale/offset")
    assert rule.conflict is not None and "earth-search#66, #71" in rule.conflict
    report = cube.value_rules([item], ["red"])
    assert report["conflicts"][0]["items"] == 1


#: (catalog, collection, item id) → bands the item serves (common names)
OTHERS = {
    ("earth-search", "landsat-c2-l2", "LC08_L2SP_033032_20231008_02_T1"): ["red", "nir", "lwir"],
    ("planetary-computer", "landsat-c2-l2", "LC09_L2SP_090091_20250310_02_T1"): [
        "red",
        "nir",
        "lwir",
    ],
    ("planetary-computer", "landsat-c2-l2", "LC09_L2SR_084082_20250722_02_T1"): ["red", "nir"],
    # stactools' example of what Planetary Computer publishes for Landsat 7 (thermal `lwir`)
    ("planetary-computer", "landsat-c2-l2", "LE07_L2SP_021030_20100109_02_T1"): [
        "red",
        "nir",
        "lwir",
    ],
    ("planetary-computer", "modis-13Q1-061", "MOD13Q1.A2025049.h35v10.061.2025070114834"): [
        "ndvi",
        "red",
    ],
    ("planetary-computer", "modis-13Q1-061", "MYD13Q1.A2025041.h35v10.061.2025058201044"): [
        "ndvi",
        "red",
    ],
    ("planetary-computer", "modis-09A1-061", "MYD09A1.A2025057.h35v10.061.2025066034638"): [
        "red",
        "nir",
    ],
    ("planetary-computer", "modis-09A1-061", "MOD09A1.A2022033.h19v10.061"): ["red", "nir"],
    ("planetary-computer", "modis-11A2-061", "MYD11A2.A2025057.h35v10.061.2025066034929"): [
        "lst_day",
        "lst_night",
    ],
    ("planetary-computer", "modis-21A2-061", "MYD21A2.A2025057.h35v10.061.2025066035722"): [
        "lst_day",
        "lst_night",
    ],
    ("planetary-computer", "modis-13A1-061", "MOD13A1.A2025049.h35v10.061.2025070114721"): [
        "ndvi",
        "red",
    ],
}


#: radar items (linear γ⁰ in float32, no QA band): their values are tested in
#: tests/unit/test_sentinel1_items.py
RADAR = {
    ("planetary-computer", "sentinel-1-rtc", i): ["vv", "vh"]
    for i in (
        "S1A_IW_GRDH_1SDV_20240419T045904_20240419T045916_053498_067DF2_rtc",
        "S1A_IW_GRDH_1SDV_20250311T044231_20250311T044249_058252_073302_rtc",
    )
}


#: asset each catalog uses per common band
OTHER_ASSETS = {
    "landsat-c2-l2": {"red": "red", "nir": "nir08", "qa_pixel": "qa_pixel"},
    "modis-13Q1-061": {
        "ndvi": "250m_16_days_NDVI",
        "red": "250m_16_days_red_reflectance",
        "vi_quality": "250m_16_days_VI_Quality",
    },
    "modis-13A1-061": {
        "ndvi": "500m_16_days_NDVI",
        "red": "500m_16_days_red_reflectance",
        "vi_quality": "500m_16_days_VI_Quality",
    },
    "modis-11A2-061": {"lst_day": "LST_Day_1km", "lst_night": "LST_Night_1km", "qc_day": "QC_Day"},
    "modis-21A2-061": {"lst_day": "LST_Day_1KM", "lst_night": "LST_Night_1KM", "qc_day": "QC_Day"},
    "modis-09A1-061": {
        "red": "sur_refl_b01",
        "nir": "sur_refl_b02",
        "state_qa": "sur_refl_state_500m",
    },
}


#: (DN array, storage type, fill, value by hand) per kind of band: USGS C2 L2 SR/ST and MODIS
#: C6.1 conventions (Landsat fill 0; MOD13 VI fill −3000; MOD09 reflectance fill −28672)
LANDSAT_SR = (np.array([[9091, 0], [12000, 15000]]), "uint16", 0, lambda d: d * 2.75e-5 - 0.2)


LANDSAT_ST = (np.array([[40000, 0], [41000, 42000]]), "uint16", 0, lambda d: d * 0.00341802 + 149)


MOD13_VI = (np.array([[7000, -3000], [2500, 100]]), "int16", -3000, lambda d: d * 1e-4)


MOD13_REFL = (np.array([[500, -1000], [1500, 1200]]), "int16", -1000, lambda d: d * 1e-4)


MOD09_REFL = (np.array([[500, -28672], [1500, 1200]]), "int16", -28672, lambda d: d * 1e-4)


#: MOD11A2/MOD21A2 LST: K = DN × 0.02, fill 0 (the items declare neither nodata nor offset)
MODIS_LST = (np.array([[15000, 0], [14650, 7500]]), "uint16", 0, lambda d: d * 0.02)


def _kind(collection: str, band: str):
    if collection == "landsat-c2-l2":
        return LANDSAT_ST if band == "lwir" else LANDSAT_SR
    if collection in ("modis-13Q1-061", "modis-13A1-061"):
        return MOD13_VI if band == "ndvi" else MOD13_REFL
    if collection in ("modis-11A2-061", "modis-21A2-061"):
        return MODIS_LST
    return MOD09_REFL


@pytest.mark.parametrize(("catalog_name", "collection", "item_id"), sorted(OTHERS))
def test_landsat_and_modis_values_as_published(
    tmp_path, catalog_name, collection, item_id, real_item
):
    item = real_item(catalog_name, collection, item_id)
    sensor = sensors.for_collection(collection)
    bands = [*OTHERS[(catalog_name, collection, item_id)], sensor.qa_band]
    keys = cube.asset_keys([item], bands, collection=collection)
    for band, key in OTHER_ASSETS[collection].items():
        assert keys.get(band, key) == key
    qa = keys[sensor.qa_band]
    dn, dtype, nodata = (
        {qa: np.zeros((2, 2))},
        {qa: sensor.storage(sensor.qa_band)["data_type"]},
        {},
    )
    nodata[qa] = sensor.storage(sensor.qa_band)["nodata"]
    for band in bands[:-1]:
        arr, typ, fill, _ = _kind(collection, band)
        dn[keys[band]], dtype[keys[band]], nodata[keys[band]] = arr, typ, fill
    local = materialise(item, tmp_path, dn, anchor=qa, dtype=dtype, nodata=nodata)
    grid = window_grid(item, qa, 2, anchor=qa)
    ds = cube.load([local], bands, grid=grid, collection=collection).compute()
    for band in bands[:-1]:
        arr, _, fill, by_hand = _kind(collection, band)
        expected = np.where(arr == fill, np.nan, by_hand(arr.astype(float)))
        np.testing.assert_allclose(ds[band].values[0], expected, rtol=1e-6, atol=1e-6)


def test_modis_fill_is_no_data_although_the_items_do_not_declare_it(real_item):
    """Planetary Computer MODIS `raster:bands` give a scale but no nodata (−3000 for NDVI)."""
    item = real_item(
        "planetary-computer", "modis-13Q1-061", "MOD13Q1.A2025049.h35v10.061.2025070114834"
    )
    assert "nodata" not in item.assets["250m_16_days_NDVI"].extra_fields["raster:bands"][0]
    rule = sensors.values.conversion(item, "250m_16_days_NDVI", "ndvi", sensors.MODIS13Q1)
    assert (rule.scale, rule.offset, rule.nodata) == (1e-4, 0.0, -3000)
