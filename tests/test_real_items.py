"""Items exactly as the catalogs published them (tests/data/items, provenance in the READMEs
beside them), with pixel files synthesised on each item's own grid: the asset chosen per band,
the exact value of a known DN, NaN on nodata, one acquisition used once, and a search of them.

The expected values are written here from the catalogs' documented conventions, item by item,
not computed by vegcube's rule code.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pystac
import pytest
import yaml

from vegcube import catalog, cube, indices, sensors
from vegcube.testing.real import materialise, window_grid

ITEMS = Path(__file__).parent / "data" / "items"

#: (catalog, collection, item id) → reflectance offset a DN must get, and why
S2_OFFSETS = {
    # Earth Search v1 sentinel-2-l2a: `earthsearch:boa_offset_applied: true` → the COGs are
    # already harmonised (DN / 10000) although raster:bands says offset -0.1 (earth-search#9)
    ("earth-search", "sentinel-2-l2a", "S2A_13TDE_20231008_0_L2A"): 0.0,  # 05.09, flag true
    ("earth-search", "sentinel-2-l2a", "S2B_24MVV_20250731_0_L2A"): 0.0,  # 05.11, flag true
    ("earth-search", "sentinel-2-l2a", "S2A_32TMT_20200302_1_L2A"): 0.0,  # 05.00 reprocessed
    ("earth-search", "sentinel-2-l2a", "S2A_32TMT_20200302_0_L2A"): 0.0,  # 02.14, flag false
    # Earth Search v1 sentinel-2-c1-l2a: not harmonised; raster:bands -0.1 is right
    ("earth-search", "sentinel-2-c1-l2a", "S2A_T37WDS_20240419T090557_L2A"): -0.1,
    ("earth-search", "sentinel-2-c1-l2a", "S2B_T24MVV_20250731T130245_L2A"): -0.1,
    # Planetary Computer: no scale/offset in the items, s2:processing_baseline decides
    (
        "planetary-computer",
        "sentinel-2-l2a",
        "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531",
    ): 0.0,
    (
        "planetary-computer",
        "sentinel-2-l2a",
        "S2A_MSIL2A_20220728T093601_R036_T46XER_20220729T131138",
    ): -0.1,
    (
        "planetary-computer",
        "sentinel-2-l2a",
        "S2A_MSIL2A_20240228T025651_R032_T51UYV_20240228T070801",
    ): -0.1,
    # CDSE (STAC 1.1): raster:scale/raster:offset on each asset; the 2020 scene was reprocessed
    # to baseline 05.00, so its offset is -0.1 although it was acquired before 2022-01-25
    (
        "cdse",
        "sentinel-2-l2a",
        "S2A_MSIL2A_20200301T090901_N0500_R050_T35UPU_20230630T033416",
    ): -0.1,
    (
        "cdse",
        "sentinel-2-l2a",
        "S2A_MSIL2A_20241107T113311_N0511_R080_T32VKR_20241107T123948",
    ): -0.1,
}

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


def real_item(catalog_name: str, collection: str, item_id: str) -> pystac.Item:
    path = ITEMS / catalog_name / collection / f"{item_id}.json"
    return pystac.Item.from_dict(json.loads(path.read_text()))


def test_corpus_covers_every_catalog_and_collection():
    """Every catalog × collection vegcube names has real items with their provenance; the
    Sentinel-2 ones at least two (before and after the baseline switch where one was found)."""
    folders = {(p.parts[-3], p.parts[-2]) for p in ITEMS.glob("*/*/*.json")}
    tested = {k[:2] for k in S2_OFFSETS} | {k[:2] for k in OTHERS}
    assert folders == tested
    for cat, coll in folders:
        files = sorted((ITEMS / cat / coll).glob("*.json"))
        readme = (ITEMS / cat / coll / "README.md").read_text()
        for f in files:
            doc = json.loads(f.read_text())
            assert (doc["id"], doc["collection"]) == (f.stem, coll)
            assert doc["id"] in readme  # its source and licence are written down
        assert len(files) >= (2 if coll.startswith("sentinel-2") else 1)
    assert len(list(ITEMS.glob("*/*/*.json"))) == len(S2_OFFSETS) + len(OTHERS)  # all tested


@pytest.mark.parametrize(("catalog_name", "collection", "item_id"), sorted(S2_OFFSETS))
def test_sentinel2_reflectance_as_published(tmp_path, catalog_name, collection, item_id):
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


def test_earth_search_contradiction_reported_once():
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


def test_baseline_decides_without_asset_scale():
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


def test_one_acquisition_used_once_across_earth_search_collections():
    """The same S2B acquisition of 2025-07-31 (tile 24MVV) in both Earth Search collections."""
    l2a = real_item("earth-search", "sentinel-2-l2a", "S2B_24MVV_20250731_0_L2A")
    c1 = real_item("earth-search", "sentinel-2-c1-l2a", "S2B_T24MVV_20250731T130245_L2A")
    other = real_item("earth-search", "sentinel-2-c1-l2a", "S2A_T37WDS_20240419T090557_L2A")
    kept, dropped = catalog.one_per_acquisition(
        [l2a, c1, other], preference=["sentinel-2-c1-l2a", "sentinel-2-l2a"]
    )
    assert [it.id for it in kept] == [other.id, c1.id]
    assert dropped == {l2a.id: c1.id}
    kept, dropped = catalog.one_per_acquisition(
        [c1, l2a], preference=["sentinel-2-l2a", "sentinel-2-c1-l2a"]
    )
    assert [it.id for it in kept] == [l2a.id] and dropped == {c1.id: l2a.id}
    months = catalog.monthly_summary(kept)
    july = next(m for m in months if m.month == "2025-07")
    cloud = l2a.properties["eo:cloud_cover"]
    assert july.scenes == 1 and july.clear_equivalent == pytest.approx(1 - cloud / 100, abs=1e-3)


def test_reprocessed_scene_kept_once_newest_baseline():
    old = real_item("earth-search", "sentinel-2-l2a", "S2A_32TMT_20200302_0_L2A")
    new = real_item("earth-search", "sentinel-2-l2a", "S2A_32TMT_20200302_1_L2A")
    kept, dropped = catalog.one_per_acquisition([new, old])
    assert [it.id for it in kept] == [new.id] and dropped == {old.id: new.id}


def _hours(later: str, earlier: str) -> float:
    def t(s: str) -> dt.datetime:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))

    return (t(later) - t(earlier)).total_seconds() / 86400


def test_latency_from_the_fields_each_catalog_fills():
    es = [
        real_item("earth-search", "sentinel-2-l2a", i)
        for i in ("S2A_13TDE_20231008_0_L2A", "S2B_24MVV_20250731_0_L2A")
    ]
    cdse = [real_item("cdse", "sentinel-2-l2a", i[2]) for i in S2_OFFSETS if i[0] == "cdse"]
    pc = [
        real_item("planetary-computer", "sentinel-2-l2a", i[2])
        for i in S2_OFFSETS
        if i[0] == "planetary-computer"
    ]
    # Earth Search fills `created` (no `published`), CDSE `published`; Planetary Computer neither
    lat = catalog.latency([*es, *pc])
    assert set(lat) == {"sentinel-2-l2a"} and lat["sentinel-2-l2a"]["field"] == "created"
    days = sorted(_hours(it.properties["created"], it.properties["datetime"]) for it in es)
    assert lat["sentinel-2-l2a"]["items"] == 2
    assert lat["sentinel-2-l2a"]["median_days"] == pytest.approx(sum(days) / 2, abs=0.01)
    lat = catalog.latency(cdse)["sentinel-2-l2a"]
    assert lat["field"] == "published"
    days = sorted(_hours(it.properties["published"], it.properties["datetime"]) for it in cdse)
    assert lat["min_days"] == pytest.approx(days[0], abs=0.01)  # a 2024 scene: hours
    assert lat["max_days"] == pytest.approx(days[1], abs=0.01)  # reprocessed 2020 scene: years
    assert lat["min_days"] < 1 < 1000 < lat["max_days"]


def _static_catalog(folder: Path, items: list[pystac.Item]) -> Path:
    root = pystac.Catalog("real", "real items with synthetic pixels")
    for coll_id in sorted({it.collection_id for it in items}):
        members = [it for it in items if it.collection_id == coll_id]
        coll = pystac.Collection(
            coll_id,
            coll_id,
            pystac.Extent(
                pystac.SpatialExtent([[-180, -90, 180, 90]]),
                pystac.TemporalExtent([[None, None]]),
            ),
        )
        for it in members:
            clone = it.clone()
            clone.clear_links()
            coll.add_item(clone)
        root.add_child(coll)
    root.normalize_hrefs(str(folder))
    root.save(pystac.CatalogType.SELF_CONTAINED)
    return folder / "catalog.json"


def test_search_finds_real_items_in_a_static_catalog(tmp_path):
    l2a = real_item("earth-search", "sentinel-2-l2a", "S2B_24MVV_20250731_0_L2A")
    c1 = real_item("earth-search", "sentinel-2-c1-l2a", "S2B_T24MVV_20250731T130245_L2A")
    far = real_item("earth-search", "sentinel-2-c1-l2a", "S2A_T37WDS_20240419T090557_L2A")
    root = _static_catalog(tmp_path / "cat", [l2a, c1, far])
    from shapely.geometry import shape

    lon, lat = shape(l2a.geometry).representative_point().coords[0]
    recipe = {
        "name": "real",
        "aoi": {"bbox": [lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01]},
        "time": {"start": "2025-07-01", "end": "2025-08-31"},
        "source": {"catalog": str(root), "collection": ["sentinel-2-l2a", "sentinel-2-c1-l2a"]},
        "indices": ["ndvi"],
        "output": {"dir": str(tmp_path / "out")},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    res = subprocess.run(
        [sys.executable, "-m", "vegcube", "search", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    found = [f["id"] for f in json.loads(res.stdout)["features"]]
    assert found == [l2a.id]  # the c1 copy of the same acquisition is used once, as listed first
    assert not (tmp_path / "out").exists()


def test_earth_search_false_flag_on_new_baseline_is_flagged():
    """earth-search#71: `S2B_33UXP_20250302_0_L2A` says `boa_offset_applied: false` (baseline
    05.11) but its COGs are harmonised. The declared offset is applied, and the run says so."""
    item = real_item("earth-search", "sentinel-2-l2a", "S2B_24MVV_20250731_0_L2A").clone()
    item.properties["earthsearch:boa_offset_applied"] = False  # as in the reported items
    rule = sensors.values.conversion(item, "red", "red", sensors.SENTINEL2)
    assert (rule.scale, rule.offset, rule.rule) == (1e-4, -0.1, "asset scale/offset")
    assert rule.conflict is not None and "earth-search#66, #71" in rule.conflict
    report = cube.value_rules([item], ["red"])
    assert report["conflicts"][0]["items"] == 1


# --- Landsat and MODIS ---------------------------------------------------------------------

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
}

#: asset each catalog uses per common band
OTHER_ASSETS = {
    "landsat-c2-l2": {"red": "red", "nir": "nir08", "qa_pixel": "qa_pixel"},
    "modis-13Q1-061": {
        "ndvi": "250m_16_days_NDVI",
        "red": "250m_16_days_red_reflectance",
        "vi_quality": "250m_16_days_VI_Quality",
    },
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


def _kind(collection: str, band: str):
    if collection == "landsat-c2-l2":
        return LANDSAT_ST if band == "lwir" else LANDSAT_SR
    if collection == "modis-13Q1-061":
        return MOD13_VI if band == "ndvi" else MOD13_REFL
    return MOD09_REFL


@pytest.mark.parametrize(("catalog_name", "collection", "item_id"), sorted(OTHERS))
def test_landsat_and_modis_values_as_published(tmp_path, catalog_name, collection, item_id):
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


def test_modis_fill_is_no_data_although_the_items_do_not_declare_it():
    """Planetary Computer MODIS `raster:bands` give a scale but no nodata (−3000 for NDVI)."""
    item = real_item(
        "planetary-computer", "modis-13Q1-061", "MOD13Q1.A2025049.h35v10.061.2025070114834"
    )
    assert "nodata" not in item.assets["250m_16_days_NDVI"].extra_fields["raster:bands"][0]
    rule = sensors.values.conversion(item, "250m_16_days_NDVI", "ndvi", sensors.MODIS13Q1)
    assert (rule.scale, rule.offset, rule.nodata) == (1e-4, 0.0, -3000)


def test_requester_pays_bucket_read_with_the_request_payer(tmp_path, monkeypatch):
    """Earth Search `landsat-c2-l2` assets are `s3://usgs-landsat/…` with
    `storage:requester_pays: true`: read with AWS_REQUEST_PAYER=requester; without it the
    error says access was denied (requester pays), not that the file is corrupt."""
    from odc.stac import configure_rio

    from vegcube.errors import AccessError
    from vegcube.testing.server import serve_s3

    item = real_item("earth-search", "landsat-c2-l2", "LC08_L2SP_033032_20231008_02_T1")
    assert catalog.requester_pays(item, "red")
    bands = ["red", "qa_pixel"]
    arr, _, _, by_hand = LANDSAT_SR
    local = materialise(
        item,
        tmp_path / "files",
        {"red": arr, "qa_pixel": np.zeros((2, 2))},
        anchor="qa_pixel",
        dtype={"red": "uint16", "qa_pixel": "uint16"},
        nodata={"red": 0, "qa_pixel": 1},
    )
    bucket = tmp_path / "s3"
    s3_item = local.clone()
    for key in ("red", "qa_pixel"):  # the bucket holds each file under its published key
        href = item.assets[key].href
        assert href.startswith("s3://usgs-landsat/")
        target = bucket / href.removeprefix("s3://")
        target.parent.mkdir(parents=True, exist_ok=True)
        Path(local.assets[key].href).rename(target)
        s3_item.assets[key].href = href
    grid = window_grid(item, "qa_pixel", 2, anchor="qa_pixel")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_HTTPS", "NO")
    monkeypatch.setenv("AWS_VIRTUAL_HOSTING", "FALSE")
    try:
        for payer in (False, True):  # a new server each time: GDAL caches answers per URL
            with serve_s3(bucket, requester_pays=("usgs-landsat",)) as served:
                monkeypatch.setenv("AWS_S3_ENDPOINT", served.endpoint)
                env = catalog.storage_env([s3_item]) if payer else {}
                assert env == ({"AWS_REQUEST_PAYER": "requester"} if payer else {})
                configure_rio(cloud_defaults=True, **env)  # as `vegcube run` does
                ds = cube.load([s3_item], bands, grid=grid, collection="landsat-c2-l2")
                if not payer:
                    with pytest.raises(AccessError, match="requester-pays") as err:
                        ds.compute()
                    assert "corrupt" not in str(err.value)
                    continue
                red = ds.red.compute().values[0]
                np.testing.assert_allclose(red, np.where(arr == 0, np.nan, by_hand(arr)), atol=1e-6)
                assert any(p.startswith("/usgs-landsat/") for _, p, _ in served.requests)
    finally:
        configure_rio(cloud_defaults=True)


def test_scenes_without_thermal_asset_left_out_of_lst(tmp_path):
    """Landsat L2SR (surface reflectance only) next to L2SP: the LST series uses the L2SP scene
    and the run says how many were left out."""
    from vegcube import journal, runner

    sp = real_item("planetary-computer", "landsat-c2-l2", "LC09_L2SP_090091_20250310_02_T1")
    sr = real_item("planetary-computer", "landsat-c2-l2", "LC09_L2SR_084082_20250722_02_T1")
    assert "lwir11" not in sr.assets and sr.properties["landsat:correction"] == "L2SR"
    root = _static_catalog(tmp_path / "cat", [sp, sr])
    from shapely.geometry import shape
    from shapely.ops import unary_union

    w, s, e, n = unary_union([shape(sp.geometry), shape(sr.geometry)]).bounds
    recipe = {
        "name": "lst",
        "aoi": {"bbox": [w, s, e, n]},
        "time": {"start": "2025-03-01", "end": "2025-07-31"},
        "source": {"catalog": str(root), "collection": "landsat-c2-l2"},
        "lst": {"band": "lwir"},
        "grid": {"crs": "EPSG:3857", "resolution": 5000},
        "indices": ["ndvi"],
        "indicators": [],
        "output": {"dir": str(tmp_path / "out")},
    }
    p = runner.plan(recipe)
    assert [it.id for it in p.items] == [sp.id, sr.id]  # reflectance: both scenes
    assert [it.id for it in p.lst_items] == [sp.id]
    assert p.lst_without_band == [sr.id]
    meta = journal.meta(p.recipe, p)
    assert meta["lst"] == {"without_band": [sr.id]}
    assert meta["values"]["rules"]["landsat-c2-l2"]["red"] == {
        "asset scale/offset → ×2.75e-05 -0.2, nodata 0.0": 2
    }
