"""The day a scene counts in: local solar day of an acquisition, start day of a composite
(real items: Planetary Computer's MODIS 13Q1 has `datetime` null; Earth Search's Landsat)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pystac

from vegcube import catalog

ITEMS = Path(__file__).parents[1] / "data" / "items"


def test_a_composite_counts_on_its_start_day_at_every_longitude():
    item = pystac.Item.from_file(
        ITEMS / "planetary-computer/modis-13Q1-061/MYD13Q1.A2025041.h35v10.061.2025058201044.json"
    )
    assert item.datetime is None  # as published: the 16-day span only
    assert catalog.acquired(item) == dt.datetime(2025, 2, 10, tzinfo=dt.timezone.utc)
    # 00:00 UTC is still 9 February west of Greenwich: the composite is not a February 9 scene
    for lon in (-170.0, -100.0, 0.0, 165.0):
        assert catalog.scene_day(item, lon) == dt.date(2025, 2, 10)


def test_an_acquisition_counts_on_its_local_solar_day():
    item = pystac.Item.from_file(
        ITEMS / "earth-search/landsat-c2-l2/LC08_L2SP_033032_20231008_02_T1.json"
    )
    assert catalog.acquired(item) == item.datetime  # 2023-10-08T17:37Z over Colorado
    assert catalog.scene_day(item, -104.2) == dt.date(2023, 10, 8)  # 10:37 local
    # the same instant east of the date line is the next local day (as odc-stac groups it)
    assert catalog.scene_day(item, 165.0) == dt.date(2023, 10, 9)
    assert catalog.scene_day(item, 90.0) == dt.date(2023, 10, 8)  # 23:37: whole hours, 6 h
