"""The demo's drought alert (`vegcube demo`): raised in the district holding the drought,
while it lasts, and nowhere else; shown first in the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import vegcube
from helpers import alert_scores
from vegcube.testing.world import drought_weight


def test_the_drought_district_is_on_alert_during_the_drought_and_no_other(demo, demo_run):
    events = pd.read_parquet(demo_run / "alerts.parquet")
    zonal = pd.read_parquet(demo_run / "zonal.parquet")
    truth = {f["properties"]["name"]: f["properties"]["drought"]
             for f in json.loads(demo.regions.read_text())["features"]}  # fmt: skip
    dekads = pd.DatetimeIndex(sorted(zonal["time"].unique()))
    # the injected drought, its 14-day onset and recovery ramps included: any day of the dekad
    inside = np.array([
        any(drought_weight((t + pd.Timedelta(days=d)).date()) > 0 for d in range(10))
        for t in dekads
    ])  # fmt: skip
    expected = {region: inside & in_drought for region, in_drought in truth.items()}
    tp, fp, fn = alert_scores(events, dekads, expected)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, events)
    rc = vegcube.load_recipe(json.loads((demo_run / "run.json").read_text())["recipe"])
    assert set(zonal["variable"]) == set(rc.zonal_variables())  # what alerts may name
    page = (demo_run / "report" / "index.html").read_text(encoding="utf-8")
    assert page.index("<h2>Alerts") < page.index("<h2>Latest period")


def test_updates_raise_and_end_the_alert(demo, tmp_path):
    """Dekad by dekad, as a service runs it: the update entering the drought raises the
    alert, the one after it says it ended; both as a full run would have them."""

    def recipe(end: str) -> dict:
        rc = demo.recipe(tmp_path / "out")
        rc["aoi"] = {"bbox": list(demo.drought_bbox)}  # the drought's place, in Poe
        rc.update(indices=["ndvi"], indicators=["vci", "drought_class"])
        rc["gapfill"] = {"method": "linear"}
        rc["time"] = {"start": "2021-01-01", "end": end}
        rc["reference"] = {"start": "2021-01-01", "end": "2022-12-31", "min_years": 2}
        rc["regions"] = {"path": str(demo.regions), "id": "name"}
        rc["alerts"] = [{"name": "low", "variable": "ndvi_drought_share", "above": 0.5,
                         "periods": 2, "min_valid_fraction": 0.0}]  # fmt: skip
        rc["output"]["formats"] = ["zarr"]
        return rc

    vegcube.run(recipe("2023-01-10"))
    raised: list[str] = []
    vegcube.update(recipe("2023-03-31"), log=raised.append)
    ended: list[str] = []
    vegcube.update(recipe("2023-06-30"), log=ended.append)
    assert (
        [m for m in raised if m.startswith("alert ")]
        == [m for m in raised if m.startswith("alert raised: low in Poe since 2023-01")]
        != []
    )
    assert (
        [m for m in ended if m.startswith("alert ")]
        == [m for m in ended if m.startswith("alert ended: low in Poe (last period 2023-0")]
        != []
    )
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    first, second = run["updates"]
    assert first["alerts"]["raised"][0]["region"] == "Poe" and not first["alerts"]["ended"]
    assert second["alerts"]["ended"][0]["region"] == "Poe" and not second["alerts"]["raised"]
    full = tmp_path / "full"
    rc = recipe("2023-06-30")
    rc["output"]["dir"] = str(full)
    vegcube.run(rc)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "out" / "alerts.parquet"),
        pd.read_parquet(full / "alerts.parquet"),
    )
