"""Alert rules on per-region series: runs of consecutive periods, unjudged periods, changes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS, Transformer

import vegcube
from vegcube import alerts
from vegcube.zonal import Regions

T = pd.date_range("2023-01-01", periods=8, freq="10D")
RULE = {"name": "dry", "variable": "sm_pctl", "below": 20, "periods": 2}


def _table(series: dict[str, list[float]], valid: dict[str, list[float]] | None = None):
    rows = []
    for region, values in series.items():
        fractions = (valid or {}).get(region, [1.0] * len(values))
        for t, v, f in zip(T, values, fractions, strict=True):
            rows.append({"region": region, "time": t, "variable": "sm_pctl", "mean": v,
                         "std": 1.0, "count": 10.0, "valid_fraction": f})  # fmt: skip
    rows.append({"region": "A", "time": T[0], "variable": "other", "mean": 0.0, "std": 0.0,
                 "count": 1.0, "valid_fraction": 1.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_runs_of_consecutive_periods_make_events():
    nan = float("nan")
    table = _table({
        "A": [50, 15, 12, 40, 18, 10, 5, 30],   # two runs: periods 1-2, 4-6
        "B": [50, 10, 50, 10, 50, 10, 50, 10],  # never two in a row
        "C": [30, 30, 30, 30, 30, 19, nan, 8],  # ongoing: a NaN period does not break it
    })  # fmt: skip
    ev = alerts.evaluate(table, [RULE])
    assert list(ev.columns) == list(alerts.COLUMNS)
    assert ev["region"].tolist() == ["A", "A", "C"]
    a1, a2, c = (ev.iloc[i] for i in range(3))
    assert (a1.start, a1.raised, a1.end, a1.periods) == (T[1], T[2], T[2], 2)
    assert (a2.start, a2.raised, a2.end, a2.periods, a2.peak) == (T[4], T[5], T[6], 3, 5.0)
    assert not a1.ongoing and not a2.ongoing
    assert (c.start, c.raised, c.end, c.periods, c.peak, c.ongoing) == (
        T[5],
        T[7],
        T[7],
        2,
        8.0,
        True,
    )
    # above: the same runs, the other way
    up = alerts.evaluate(table, [{**RULE, "below": None, "above": 45}])
    assert up[up.region == "B"]["periods"].tolist() == []
    assert up[up.region == "A"]["periods"].tolist() == []


def test_a_cloudy_period_neither_confirms_nor_breaks_a_run():
    table = _table({"A": [10, 5, 10, 50, 50, 50, 50, 50]}, {"A": [1, 0.2, 1, 1, 1, 1, 1, 1]})
    (ev,) = alerts.evaluate(table, [RULE]).itertuples(index=False)
    assert (ev.start, ev.end, ev.periods) == (T[0], T[2], 2)  # period 1 (20 % valid) skipped
    none = alerts.evaluate(table, [{**RULE, "periods": 3}])
    assert none.empty


def test_changes_name_the_alerts_raised_and_ended():
    before = alerts.evaluate(_table({"A": [50] * 6 + [10, 10], "B": [10] * 8}), [RULE])
    after = alerts.evaluate(_table({"A": [50] * 8, "B": [10] * 8}), [RULE])
    later = alerts.evaluate(_table({"A": [50] * 6 + [10, 10], "B": [10] * 6 + [50, 50]}), [RULE])
    assert alerts.changes(before, after) == {
        "raised": [], "ended": [{"rule": "dry", "region": "A", "last": "2023-03-12"}]
    }  # fmt: skip
    assert alerts.changes(after, later) == {
        "raised": [{"rule": "dry", "region": "A", "since": "2023-03-02"}],
        "ended": [{"rule": "dry", "region": "B", "last": "2023-02-20"}],
    }
    assert alerts.changes(None, before)["raised"] == [
        {"rule": "dry", "region": "A", "since": "2023-03-02"},
        {"rule": "dry", "region": "B", "since": "2023-01-01"},
    ]


def test_write_gives_the_tables_and_the_regions_on_alert_in_lon_lat(tmp_path):
    utm = CRS.from_epsg(32758)
    boxes = {"A": shapely.box(550_000, 7_614_000, 551_000, 7_615_000),
             "B": shapely.box(551_000, 7_614_000, 552_000, 7_615_000)}  # fmt: skip
    regions = Regions(tuple(boxes), tuple(boxes.values()), utm)
    ev = alerts.evaluate(_table({"A": [50] * 6 + [10, 10], "B": [10, 10] + [50] * 6}), [RULE])
    parquet, csv, geojson = alerts.write(ev, regions, tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), ev)
    assert pd.read_csv(csv)["start"].tolist() == ["2023-03-02", "2023-01-01"]
    (feat,) = json.loads(geojson.read_text())["features"]  # B's alert ended
    assert feat["properties"] == {"region": "A", "rule": "dry", "variable": "sm_pctl",
                                  "since": "2023-03-02", "periods": 2, "peak": 10.0}  # fmt: skip
    lon, lat = Transformer.from_crs(utm, 4326, always_xy=True).transform(550_000, 7_614_000)
    ring = np.asarray(feat["geometry"]["coordinates"][0])
    assert np.min(np.hypot(ring[:, 0] - lon, ring[:, 1] - lat)) < 1e-9


def test_recipe_alerts_are_checked_before_any_work():
    base = {
        "name": "t",
        "aoi": {"bbox": [165.3, -21.6, 165.6, -21.4]},
        "time": {"start": "2021-01-01", "end": "2022-12-31"},
        "source": {"catalog": "earth-search"},
        "reference": {"start": "2021-01-01", "end": "2022-12-31", "min_years": 1},
        "indicators": ["zscore", "drought_class"],
        "regions": {"path": "districts.geojson"},
        "output": {"dir": "out"},
    }
    rule = {"name": "z", "variable": "ndvi_zscore", "below": -1.5}
    rc = vegcube.load_recipe({**base, "alerts": [rule]})
    assert rc.alerts[0].periods == 2 and rc.alerts[0].min_valid_fraction == 0.5
    with pytest.raises(vegcube.RecipeError, match=r"alerts: need a `regions"):
        vegcube.load_recipe({**base, "regions": None, "alerts": [rule]})
    with pytest.raises(vegcube.RecipeError, match=r"alerts\.0\.variable: 'ndvi_vci' is not a"):
        vegcube.load_recipe({**base, "alerts": [{**rule, "variable": "ndvi_vci"}]})
    with pytest.raises(vegcube.RecipeError, match="give exactly one of below or above"):
        vegcube.load_recipe({**base, "alerts": [{**rule, "above": 1}]})
    with pytest.raises(vegcube.RecipeError, match="rule names must be unique"):
        vegcube.load_recipe({**base, "alerts": [rule, rule]})
