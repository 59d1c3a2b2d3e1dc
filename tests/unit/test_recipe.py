"""Recipe validation: every problem named by its key, template valid, files resolved."""

from __future__ import annotations

import pytest

import vegcube
from vegcube.errors import RecipeError
from vegcube.recipe import load_recipe, template


def good(**over):
    r = {
        "name": "t",
        "aoi": {"bbox": [165.3, -21.6, 165.6, -21.4]},
        "time": {"start": "2019-01-01", "end": "2020-12-31"},
        "source": {"catalog": "earth-search"},
        "indices": ["ndvi", "ndwi"],
        "reference": {"start": "2019-01-01", "end": "2019-12-31", "min_years": 1},
        "indicators": ["vci"],
        "output": {"dir": "out"},
    }
    r.update(over)
    return r


def test_valid_recipe_has_defaults():
    rc = load_recipe(good())
    assert rc.composite.period == "dekad" and rc.composite.reducer == "median"
    assert rc.mask.sentinel2_scl == [0, 1, 3, 8, 9, 10]
    assert rc.grid.crs == "auto"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"aoi": {"bbox": [10, 5, 1, 6]}}, "aoi", "west < east"),
        ({"aoi": {}}, "aoi", "exactly one"),
        ({"time": {"start": "2020-01-01", "end": "2019-01-01"}}, "time", "before start"),
        ({"time": {"start": "2020-13-01", "end": "2021-01-01"}}, "time.start", "date"),
        ({"indices": ["ndvx"]}, "indices", "unknown index 'ndvx'"),
        ({"indicators": ["vcii"]}, "indicators.0", "vci"),
        ({"composite": {"period": "week"}}, "composite.period", "dekad"),
        ({"composite": {"reducer": "mode"}}, "composite.reducer", "median"),
        ({"mask": {"sentinel2_scl": [3, 12]}}, "mask.sentinel2_scl", "0..11"),
        ({"mask": {"dilate_m": -5}}, "mask.dilate_m", "greater than or equal"),
        ({"source": {"catalog": "x", "max_cloud_cover": 120}}, "source.max_cloud_cover", "100"),
        ({"output": {"dir": "o", "formats": ["tiff"]}}, "output.formats.0", "cog"),
        ({"colour": 1}, "colour", "unknown key"),
        ({"grid": {"resolution": 0}}, "grid.resolution", "greater than 0"),
        ({"dask": {"scheduler": "localhost:8786"}}, "dask.scheduler", "tcp://"),
        ({"reference": {"start": "2024-01-01", "end": "2025-01-01"}}, "reference", "outside"),
        ({"reference": None}, "indicators", "reference"),
    ],
)
def test_bad_field_is_named(change, field, words):
    with pytest.raises(RecipeError) as err:
        load_recipe(good(**change))
    msg = str(err.value)
    assert f"{field}:" in msg, msg
    assert words in msg, msg


def test_all_problems_reported_together():
    bad = good(composite={"period": "week", "reducer": "mode"}, colour=1)
    with pytest.raises(RecipeError) as err:
        load_recipe(bad)
    assert len(err.value.problems) == 3


def test_yaml_and_toml_files_relative_paths(tmp_path):
    (tmp_path / "r.yaml").write_text(
        "name: t\naoi: {bbox: [1, 2, 3, 4]}\ntime: {start: 2020-01-01, end: 2020-02-01}\n"
        "source: {catalog: cat/catalog.json}\noutput: {dir: out}\n"
    )
    rc = load_recipe(tmp_path / "r.yaml")
    assert rc.output.dir == tmp_path / "out"
    assert rc.source.catalog == str(tmp_path / "cat" / "catalog.json")
    (tmp_path / "r.toml").write_text(
        'name = "t"\n[aoi]\nbbox = [1, 2, 3, 4]\n[time]\nstart = 2020-01-01\nend = 2020-02-01\n'
        '[source]\ncatalog = "earth-search"\n[output]\ndir = "o"\n'
    )
    assert load_recipe(tmp_path / "r.toml").time.end.isoformat() == "2020-02-01"
    assert load_recipe(tmp_path / "r.toml").source.catalog == "earth-search"  # a name stays
    # a folder or a list of files (Copernicus SWI) is the recipe's too, as a catalog.json is
    (tmp_path / "swi").mkdir()
    for catalog, want in (("swi", tmp_path / "swi"), ("files.txt", tmp_path / "files.txt")):
        text = (tmp_path / "r.yaml").read_text().replace("cat/catalog.json", catalog)
        (tmp_path / "s.yaml").write_text(text)
        assert load_recipe(tmp_path / "s.yaml").source.catalog == str(want)


def test_unreadable_recipe_file(tmp_path):
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(tmp_path / "bad.yaml")


def test_template_lists_every_key_and_validates(tmp_path):
    text = template()
    for key in ("max_cloud_cover", "dilate_m", "sentinel2_scl", "min_years", "scheduler"):
        assert f"{key}:" in text
    (tmp_path / "t.yaml").write_text(text)
    assert load_recipe(tmp_path / "t.yaml").name == "bourail-drought"


def test_gapfill_section_validates_parameters_of_its_method():
    rc = load_recipe(good(gapfill={"method": "harmonic", "harmonics": [10, 5, 1]}))
    assert rc.gapfill.params == {"harmonics": [10, 5, 1]}
    with pytest.raises(
        RecipeError,
        match=r"gapfill: lmbda: not a parameter of method 'harmonic'; accepted: harmonics",
    ):
        load_recipe(good(gapfill={"method": "harmonic", "lmbda": 5}))
    with pytest.raises(RecipeError, match=r"gapfill\.method"):
        load_recipe(good(gapfill={"method": "spline"}))
    assert load_recipe(good(gapfill={"method": "whittaker", "lmbda": 5})).gapfill.params


def test_composite_parameters_belong_to_their_reducer():
    """`window_days` of a median was silently ignored: now an error naming the key; each
    reducer's parameters come from the registry, with their types and ranges."""
    from vegcube import composite

    with pytest.raises(RecipeError, match=r"composite: window_days: not a parameter of reducer"):
        load_recipe(good(composite={"reducer": "median", "window_days": 12}))
    with pytest.raises(RecipeError, match=r"sensor_weights"):
        load_recipe(good(composite={"reducer": "max", "sensor_weights": {"sentinel-2b": 0.5}}))
    rc = load_recipe(good(composite={"reducer": "weighted", "window_days": 12}))
    assert rc.composite.params == {"window_days": 12}
    assert composite.get("weighted").reach_days(rc.composite.params) == 6
    # a parameter of bap only, refused for weighted with what weighted accepts
    with pytest.raises(RecipeError, match=r"doy_sigma_days: not a parameter of reducer 'weighted'"
                       r".*accepted: cloud_distance_max_m"):  # fmt: skip
        load_recipe(good(composite={"reducer": "weighted", "doy_sigma_days": 5}))
    bap = {"reducer": "bap", "target": "start", "doy_sigma_days": 5, "sensor_weights": {"s": 1}}
    assert load_recipe(good(composite=bap)).composite.params["target"] == "start"
    for bad, words in (
        ({"window_days": -3}, "window_days: must be a number > 0"),
        ({"window_days": "12"}, "window_days: '12' is not accepted"),
        ({"target": "middle"}, "target: 'middle' is not accepted"),
        ({"sensor_weights": {"sentinel-2a": -1}}, r"sensor_weights\['sentinel-2a'\]: must be"),
        ({"cloud_weight_min": 2}, "cloud_weight_min: not a parameter of reducer 'bap'"),
    ):
        with pytest.raises(RecipeError, match=rf"composite: {words}"):
            load_recipe(good(composite={"reducer": "bap", **bad}))
    assert "#   window_days: 46" in template()  # shown, commented out for the default median
    assert "#   doy_sigma_days: 10" in template()
    # recipes stored whole by earlier versions (run.json) still load
    stored = good(composite={"reducer": "median", "window_days": 46, "sensor_weights": None})
    assert load_recipe(stored).composite.params == {}
    dumped = load_recipe(good()).model_dump(mode="json")
    assert "window_days" not in dumped["composite"] and load_recipe(dumped)
    # the recipe's choices are the registry's
    field = type(load_recipe(good()).composite).model_fields["reducer"]
    assert set(field.annotation.__args__) == set(composite.REDUCERS)


def test_toml_dates_and_midnight_datetimes_are_dates(tmp_path):
    """A TOML date (or datetime at midnight) is what a user writes: read as the same date."""
    head = 'name = "t"\n[aoi]\nbbox = [1, 2, 3, 4]\n[time]\n'
    tail = '[source]\ncatalog = "earth-search"\n[output]\ndir = "o"\n'
    for start, end in (
        ("2020-01-01", "2020-02-01"),
        ("2020-01-01T00:00:00", "2020-02-01T00:00:00Z"),
        ('"2020-01-01"', '"2020-02-01"'),
    ):
        (tmp_path / "r.toml").write_text(f"{head}start = {start}\nend = {end}\n{tail}")
        rc = load_recipe(tmp_path / "r.toml")
        assert (rc.time.start.isoformat(), rc.time.end.isoformat()) == ("2020-01-01", "2020-02-01")
    (tmp_path / "r.toml").write_text(f"{head}start = 2020-01-01T06:00:00\nend = 2020-02-01\n{tail}")
    with pytest.raises(RecipeError, match=r"time\.start: .*zero time.*; write a date: YYYY-MM-DD"):
        load_recipe(tmp_path / "r.toml")


COLLS = ["sentinel-2-l2a", "landsat-c2-l2"]


def test_recipe_collections_and_calibrate_keys():
    base = {
        "name": "t",
        "aoi": {"bbox": [165.3, -21.6, 165.6, -21.4]},
        "time": {"start": "2022-01-01", "end": "2022-02-01"},
        "output": {"dir": "out"},
    }
    one = load_recipe({**base, "source": {"catalog": "earth-search"}})
    assert one.source.collection == "sentinel-2-l2a" and one.source.collections == [
        "sentinel-2-l2a"
    ]
    single = load_recipe({**base, "source": {"catalog": "x", "collection": ["landsat-c2-l2"]}})
    assert single.source.collection == "landsat-c2-l2"
    with pytest.raises(RecipeError, match=r"calibrate\.reference: 'modis-13Q1-061' is not one"):
        load_recipe(
            {
                **base,
                "source": {
                    "catalog": "x",
                    "collection": COLLS,
                    "calibrate": {"reference": "modis-13Q1-061"},
                },
            }
        )
    with pytest.raises(RecipeError, match="needs two or more collections"):
        load_recipe({**base, "source": {"catalog": "x", "calibrate": {"reference": "x"}}})
    with pytest.raises(RecipeError, match=r"source\.collection.*repeated"):
        load_recipe({**base, "source": {"catalog": "x", "collection": COLLS + COLLS[:1]}})
    cal = {"reference": "landsat-c2-l2", "switch": "2022-01-15", "max_days": 8}
    ok = load_recipe({**base, "source": {"catalog": "x", "collection": COLLS, "calibrate": cal}})
    assert ok.source.calibrate is not None and str(ok.source.calibrate.switch) == "2022-01-15"
    for day in ("2022-01-01", "2022-02-02"):  # the switch must fall inside the series
        late = {**cal, "switch": day}
        with pytest.raises(RecipeError, match=rf"source\.calibrate\.switch: {day} is not after"):
            load_recipe(
                {**base, "source": {"catalog": "x", "collection": COLLS, "calibrate": late}}
            )


def test_tci_needs_an_lst_section():
    base = {
        "name": "t",
        "aoi": {"bbox": [165.3, -21.6, 165.6, -21.4]},
        "time": {"start": "2021-01-01", "end": "2022-12-31"},
        "source": {"catalog": "earth-search"},
        "reference": {"start": "2021-01-01", "end": "2021-12-31", "min_years": 1},
        "indicators": ["vci", "vhi"],
        "output": {"dir": "out"},
    }
    with pytest.raises(vegcube.RecipeError, match="tci and vhi need an `lst"):
        vegcube.load_recipe(base)
    with pytest.raises(vegcube.RecipeError, match="lst: band: 'thermal' is not a band"):
        vegcube.load_recipe({**base, "lst": {"band": "thermal"}})
    rc = vegcube.load_recipe({**base, "lst": {"collection": "landsat-c2-l2"}})
    assert rc.lst is not None and rc.lst.band == "lwir" and rc.lst.alpha == 0.5


def test_lst_of_several_collections_is_one_calibrated_series():
    base = {
        "name": "t",
        "aoi": {"bbox": [165.3, -21.6, 165.6, -21.4]},
        "time": {"start": "2021-01-01", "end": "2022-12-31"},
        "source": {"catalog": "earth-search"},
        "output": {"dir": "out"},
    }
    colls = ["modis-21A2-061", "sentinel-3-slstr-lst-l2-netcdf"]
    bands = {"modis-21A2-061": "lst_day", "sentinel-3-slstr-lst-l2-netcdf": "lst"}
    cal = {"reference": "modis-21A2-061", "switch": "2022-07-01", "max_days": 4}
    lst = {"collection": colls, "band": bands, "calibrate": cal}
    rc = vegcube.load_recipe({**base, "lst": lst})
    assert rc.lst is not None and rc.lst.collections == colls
    assert [rc.lst.band_of(c) for c in colls] == ["lst_day", "lst"]
    with pytest.raises(vegcube.RecipeError, match=r"lst: calibrate: several lst collections"):
        vegcube.load_recipe({**base, "lst": {**lst, "calibrate": None}})
    with pytest.raises(vegcube.RecipeError, match=r"lst: band: name a band for each collection"):
        vegcube.load_recipe({**base, "lst": {**lst, "band": {"modis-21A2-061": "lst_day"}}})
    with pytest.raises(vegcube.RecipeError, match=r"'lst_day' is not a band of sentinel-3"):
        vegcube.load_recipe({**base, "lst": {**lst, "band": "lst_day"}})
    late = {**cal, "switch": "2023-01-01"}
    with pytest.raises(vegcube.RecipeError, match=r"lst\.calibrate\.switch: 2023-01-01 is not"):
        vegcube.load_recipe({**base, "lst": {**lst, "calibrate": late}})
