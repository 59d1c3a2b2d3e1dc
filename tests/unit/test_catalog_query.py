"""Catalog search: filters and errors that name the problem."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import items_of
from vegcube import catalog
from vegcube.errors import SourceError

D = dt.date


def test_search_filters_dates_clouds_bbox(small):
    every = items_of(small)
    assert len(every) == small.n_items
    jan = items_of(small, start=D(2022, 1, 1), end=D(2022, 1, 31))
    assert jan and all(it.datetime.date() <= D(2022, 1, 31) for it in jan)
    assert all(it.datetime.date() >= D(2022, 1, 1) for it in jan)
    clear = items_of(small, max_cloud_cover=20)
    assert 0 < len(clear) < len(every)
    assert all(it.properties["eo:cloud_cover"] <= 20 for it in clear)
    assert items_of(small, bbox=(10.0, 10.0, 10.1, 10.1)) == []
    assert [it.id for it in every] == sorted((it.id for it in every), key=lambda i: i[9:17])


def test_search_errors_name_the_problem(small, tmp_path):
    with pytest.raises(SourceError, match=r"source.collection: 'landsat-c2-l2'.*sentinel-2-l2a"):
        items_of(small, collection="landsat-c2-l2")
    with pytest.raises(SourceError, match=r"source\.catalog"):
        catalog.search(
            str(tmp_path / "nope.json"),
            collection="x",
            bbox=small.bbox,
            start=D(2022, 1, 1),
            end=D(2022, 2, 1),
        )
    (tmp_path / "catalog.json").write_text("{not json")
    with pytest.raises(SourceError, match="cannot read static catalog"):
        catalog.search(
            str(tmp_path / "catalog.json"),
            collection="x",
            bbox=small.bbox,
            start=D(2022, 1, 1),
            end=D(2022, 2, 1),
        )
