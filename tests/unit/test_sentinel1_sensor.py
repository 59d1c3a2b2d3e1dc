"""Sentinel-1 RTC: the sensor record, the recipe keys (orbit direction, speckle filter), the
radar indices, composites in linear power delivered in dB, and the generated archive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr

from vegcube import composite, indices, planning, sensors
from vegcube.errors import RecipeError
from vegcube.recipe import load_recipe
from vegcube.testing.sentinel1 import ASCENDING_OFFSET_DB, generate_sentinel1_archive

BBOX = [165.3, -21.6, 165.6, -21.4]


def _recipe(tmp_path, **over):
    rc = {
        "name": "s1",
        "aoi": {"bbox": BBOX},
        "time": {"start": "2020-01-01", "end": "2020-12-31"},
        "source": {"catalog": "x", "collection": "sentinel-1-rtc", "orbit_state": "descending"},
        "indices": ["vv_db", "vh_db", "rvi"],
        "output": {"dir": str(tmp_path / "out")},
    }
    rc.update(over)
    return rc


def test_sensor_has_no_qa_band_and_reads_linear_power():
    s1 = sensors.for_collection("sentinel-1-rtc")
    assert s1 is sensors.SENTINEL1 and s1 in sensors.SENSORS
    assert (s1.qa_band, s1.qa_bands, s1.mask_key) == ("", (), "")
    assert s1.storage("vv") == {"data_type": "float32", "nodata": -32768.0}
    assert s1.scale_offset({}, "vv") == (1.0, 0.0)
    assert indices.bands_for("sentinel-1-rtc", ["rvi", "vv_db"]) == ["vh", "vv"]


def test_orbit_state_required_for_radar_and_refused_elsewhere(tmp_path):
    rc = _recipe(tmp_path)
    assert load_recipe(rc).source.orbit_state == "descending"
    rc["source"] = {"catalog": "x", "collection": "sentinel-1-rtc"}
    with pytest.raises(RecipeError, match=r"orbit_state: sentinel-1-rtc holds ascending and"):
        load_recipe(rc)
    rc["source"] = {"catalog": "x", "collection": "sentinel-2-l2a", "orbit_state": "ascending"}
    with pytest.raises(RecipeError, match=r"orbit_state: only radar collections"):
        load_recipe(rc)
    rc["source"] = {"catalog": "x", "collection": "sentinel-1-rtc", "orbit_state": "both"}
    with pytest.raises(RecipeError, match=r"source.orbit_state.*'ascending' or 'descending'"):
        load_recipe(rc)


def test_speckle_options_validated_by_name(tmp_path):
    sp = load_recipe(_recipe(tmp_path, mask={"speckle": {}})).mask.speckle
    assert (sp.filter, sp.size, sp.looks) == ("refined_lee", 7, 4.4)
    assert load_recipe(_recipe(tmp_path)).mask.speckle is None
    bad = {"filter": "frost", "size": 6, "looks": 0, "window": 3}
    with pytest.raises(RecipeError) as err:
        load_recipe(_recipe(tmp_path, mask={"speckle": bad}))
    text = str(err.value)
    for field in ("filter", "size", "looks", "window"):
        assert f"mask.speckle.{field}" in text
    assert "'lee' or 'refined_lee'" in text and "6 is even" in text


def test_speckle_on_an_optical_source_is_refused_before_any_search(tmp_path):
    rc = _recipe(tmp_path, mask={"speckle": {}})
    rc["source"] = {"catalog": "earth-search", "collection": "sentinel-2-l2a"}
    rc["indices"] = ["ndvi"]
    with pytest.raises(RecipeError, match=r"mask.speckle: filters radar backscatter"):
        planning.plan(rc)


def test_percent_of_normal_of_decibels_is_refused(tmp_path):
    rc = _recipe(tmp_path, reference={"start": "2020-01-01", "end": "2020-12-31", "min_years": 1})
    rc["indicators"] = ["anomaly", "pct_normal"]
    with pytest.raises(RecipeError, match=r"indicators: pct_normal .* dB \(vv_db, vh_db\)"):
        planning.plan(rc)


def test_radar_indices_linear_per_scene_and_db_once_composited():
    vv = np.array([0.1, 0.02, 0.0, np.nan], "float32").reshape(1, 2, 2)
    vh = np.array([0.02, 0.005, 0.01, 0.01], "float32").reshape(1, 2, 2)
    ds = xr.Dataset({"vv": (("time", "y", "x"), vv), "vh": (("time", "y", "x"), vh)})
    out = indices.compute(ds, ["vv", "vv_db", "vh_vv", "rvi", "DpRVIVV"])
    np.testing.assert_allclose(out.vv_db.values, vv)  # still linear per scene
    np.testing.assert_allclose(out.rvi.values, 4 * vh / (vv + vh), rtol=1e-6)
    np.testing.assert_allclose(out.rvi.values, out.DpRVIVV.values, rtol=1e-6)  # spyndex's
    np.testing.assert_allclose(out.vh_vv.values[0, 0], [0.2, 0.25], rtol=1e-6)
    done = indices.finish(out, ["vv", "vv_db", "rvi"])
    assert done.vv_db.attrs["units"] == "dB" and done.vv.attrs["units"] == "1"
    np.testing.assert_allclose(done.vv_db.values[0, 0], [-10, 10 * np.log10(0.02)], rtol=1e-6)
    assert np.isnan(done.vv_db.values[0, 1]).all()  # no power (0) and no data: no dB
    np.testing.assert_array_equal(done.rvi.values, out.rvi.values)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("s1")
    return generate_sentinel1_archive(root, start="2022-01-01", end="2022-03-31", size=32)


def _read(item, key):
    with rasterio.open(item.assets[key].get_absolute_href()) as src:
        a = src.read(1)
        return np.where(a == src.nodata, np.nan, a)


def test_generated_items_in_pc_shape_both_orbits_and_speckle_of_known_looks(archive):
    import pystac

    items = list(pystac.Catalog.from_file(str(archive.catalog)).get_items(recursive=True))
    states = {it.properties["sat:orbit_state"] for it in items}
    assert states == {"ascending", "descending"} and len(items) == sum(archive.n_items.values())
    it = next(i for i in items if i.properties["sat:orbit_state"] == "descending")
    (rb,) = it.assets["vv"].extra_fields["raster:bands"]
    assert rb == {"nodata": -32768, "data_type": "float32", "spatial_resolution": 10.0}
    assert it.properties["sar:looks_equivalent_number"] == 4.4
    assert " " in it.properties["start_datetime"]  # as PC writes it
    vv = _read(it, "vv")
    assert vv.dtype == np.float32 and np.nanmin(vv) > 0
    # water (constant −22 dB) shows gamma speckle of 4.4 looks: CV 1/√4.4
    with rasterio.open(archive.landcover) as src:
        water = vv[src.read(1) == 4]
    assert water.size > 30
    assert np.std(water) / np.mean(water) == pytest.approx(1 / np.sqrt(4.4), rel=0.25)
    asc = [i for i in items if i.properties["sat:orbit_state"] == "ascending"]
    edges = [np.isnan(_read(i, "vh")).any() for i in asc]
    assert any(edges) and not all(edges)  # some passes end at the swath edge


def test_generated_items_have_the_published_items_fields(archive, real_item):
    import pystac

    real = real_item(
        "planetary-computer",
        "sentinel-1-rtc",
        "S1A_IW_GRDH_1SDV_20250311T044231_20250311T044249_058252_073302_rtc",
    )
    made = next(iter(pystac.Catalog.from_file(str(archive.catalog)).get_items(recursive=True)))
    assert set(made.properties) == set(real.properties)
    assert set(made.stac_extensions) == set(real.stac_extensions)
    for key in ("vv", "vh"):
        mine, theirs = made.assets[key], real.assets[key]
        assert mine.extra_fields["raster:bands"] == theirs.extra_fields["raster:bands"]
        assert (mine.title, mine.description, mine.roles) == (
            theirs.title,
            theirs.description,
            theirs.roles,
        )
        assert mine.href.endswith(f"measurement/iw-{key}.rtc.tiff")


def test_composites_equal_mean_linear_power_per_period_then_db(archive):
    """The chain's step (indices per scene, the mean reducer, `finish`) against numpy alone."""
    import pystac

    items = [
        it
        for it in pystac.Catalog.from_file(str(archive.catalog)).get_items(recursive=True)
        if it.properties["sat:orbit_state"] == "descending"
    ]
    items.sort(key=lambda i: i.datetime)
    vv = np.stack([_read(i, "vv") for i in items])
    vh = np.stack([_read(i, "vh") for i in items])
    times = pd.DatetimeIndex([i.datetime.replace(tzinfo=None) for i in items])
    ds = xr.Dataset(
        {"vv": (("time", "y", "x"), vv), "vh": (("time", "y", "x"), vh)},
        coords={"time": times, "y": np.arange(vv.shape[1]), "x": np.arange(vv.shape[2])},
    )
    idx = indices.per_scene(ds, ["vv_db", "vh_db", "rvi"])
    out = composite.get("mean")(idx, period="month", start=pd.Timestamp("2022-01-01").date(),
                                end=pd.Timestamp("2022-03-31").date())  # fmt: skip
    out = indices.finish(out, ["vv_db", "vh_db", "rvi"])
    for k, month in enumerate((1, 2, 3)):
        sel = times.month == month
        assert int(out.vv_db_count.values[k].max()) == sel.sum()
        np.testing.assert_allclose(
            out.vv_db.values[k], 10 * np.log10(np.nanmean(vv[sel], axis=0)), rtol=1e-5
        )
        np.testing.assert_allclose(
            out.vh_db.values[k], 10 * np.log10(np.nanmean(vh[sel], axis=0)), rtol=1e-5
        )
        rvi = np.nanmean(4 * vh[sel] / (vv[sel] + vh[sel]), axis=0)
        np.testing.assert_allclose(out.rvi.values[k], rvi, rtol=1e-5)
    # and not the mean of dB, which speckle biases low (−0.5 dB for 4.4 looks, less over a
    # month's 2–3 scenes, whose dB of the mean is itself biased low)
    mean_db = np.nanmean(10 * np.log10(vv[times.month == 1]), axis=0)
    assert np.nanmean(out.vv_db.values[0] - mean_db) > 0.15


def test_ascending_passes_differ_from_descending_ones(archive):
    import pystac

    items = list(pystac.Catalog.from_file(str(archive.catalog)).get_items(recursive=True))
    mean = {
        s: 10 * np.log10(np.nanmean([_read(i, "vv") for i in items
                                     if i.properties["sat:orbit_state"] == s]))
        for s in ("ascending", "descending")
    }  # fmt: skip
    assert mean["ascending"] - mean["descending"] == pytest.approx(ASCENDING_OFFSET_DB, abs=0.5)
