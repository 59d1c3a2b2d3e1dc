"""Monthly summaries of scenes and publication latency."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import S2_OFFSETS, query
from vegcube import catalog


def _hours(later: str, earlier: str) -> float:
    def t(s: str) -> dt.datetime:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))

    return (t(later) - t(earlier)).total_seconds() / 86400


def test_latency_from_the_fields_each_catalog_fills(real_item):
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


D = dt.date


def test_monthly_summary_counts_clear_equivalents(stac_archive):
    items = catalog.search(str(stac_archive.catalog), **query(stac_archive))
    months = catalog.monthly_summary(items, start=D(2022, 11, 1), end=D(2023, 4, 30))
    assert [m.month for m in months] == [
        "2022-11",
        "2022-12",
        "2023-01",
        "2023-02",
        "2023-03",
        "2023-04",
    ]
    assert [m.scenes for m in months] == [0, 6, 6, 6, 6, 0]
    for m in months:
        clouds = [
            it.properties["eo:cloud_cover"] for it in items if f"{it.datetime:%Y-%m}" == m.month
        ]
        assert m.clear_equivalent == pytest.approx(sum(1 - c / 100 for c in clouds), abs=1e-3)
    assert 0 < months[1].clear_equivalent < 6
    no_cloud = items[0].clone()
    del no_cloud.properties["eo:cloud_cover"]
    (one,) = catalog.monthly_summary([no_cloud])
    assert (one.scenes, one.clear_equivalent, one.unknown_cloud) == (1, 0.0, 1)
