"""STAC API sources against a real server (rustac) on 127.0.0.1: pages, filters, signing,
duplicates, retries, errors."""

from __future__ import annotations

import datetime as dt
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pystac
import pytest
import xarray as xr

from helpers import query
from vegcube import aoi, catalog, cube
from vegcube.errors import SourceError
from vegcube.testing import serve_stac_api

D = dt.date


PAGE = 5  # 24 scenes → 5 pages


FILTER = "https://api.stacspec.org/v1.0.0/item-search#filter"


def same(a: list[pystac.Item], b: list[pystac.Item]) -> None:
    assert [it.id for it in a] == [it.id for it in b]
    for x, y in zip(a, b, strict=True):
        assert x.datetime == y.datetime
        assert x.properties["eo:cloud_cover"] == y.properties["eo:cloud_cover"]


def add_token(item: pystac.Item) -> pystac.Item:
    for asset in item.assets.values():
        asset.href += "?token=s3cret"
    return item


def test_paged_search_equals_static_search(stac_archive, stac_api):
    mark = len(stac_api.requests)
    found = catalog.search(stac_api.url, **query(stac_archive))
    static = catalog.search(str(stac_archive.catalog), **query(stac_archive))
    assert len(found) == stac_archive.n_items == 24
    same(found, static)
    pages = stac_api.searches[-(stac_archive.n_items // PAGE + 1) :]
    assert len(stac_api.requests) - mark >= 5 + 2  # landing page, collection, five pages
    # vegcube asks for 200 a page; the server pages by 5 and its next links say so
    assert [p.body["limit"] for p in pages] == [200, PAGE, PAGE, PAGE, PAGE]  # type: ignore[index]
    assert [p.body.get("skip") for p in pages] == [None, 5, 10, 15, 20]  # type: ignore[union-attr]
    assert all(p.method == "POST" for p in pages)
    # the server filters dates and bbox: one month, and a box beside the tile
    jan = catalog.search(
        stac_api.url, **query(stac_archive, start=D(2023, 1, 1), end=D(2023, 1, 31))
    )
    same(
        jan,
        catalog.search(
            str(stac_archive.catalog),
            **query(stac_archive, start=D(2023, 1, 1), end=D(2023, 1, 31)),
        ),
    )
    assert len(jan) == 6 and stac_api.searches[-1].body["datetime"].startswith("2023-01-01")  # type: ignore[index]
    assert (
        catalog.search(stac_api.url, **query(stac_archive, bbox=(165.6, -21.5, 165.7, -21.4))) == []
    )


def test_cloud_cover_filtered_and_sent_to_servers_that_filter(stac_archive, stac_api):
    clear = catalog.search(stac_api.url, **query(stac_archive, max_cloud_cover=20))
    every = catalog.search(stac_api.url, **query(stac_archive))
    assert 0 < len(clear) < len(every)
    assert all(it.properties["eo:cloud_cover"] <= 20 for it in clear)
    same(
        clear, catalog.search(str(stac_archive.catalog), **query(stac_archive, max_cloud_cover=20))
    )
    assert "filter" not in stac_api.searches[-1].body  # type: ignore[operator]  # rustac: no filter

    queryables = {"type": "object", "properties": {"eo:cloud_cover": {"type": "number"}}}
    with serve_stac_api(
        stac_archive.catalog, page_size=PAGE, conformance=[FILTER], queryables=queryables
    ) as filtering:
        got = catalog.search(filtering.url, **query(stac_archive, max_cloud_cover=20))
        body = filtering.searches[0].body
        assert body is not None
        assert body["filter"] == {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 20]}
        assert body["filter-lang"] == "cql2-json"
        same(got, clear)  # the client-side net holds whatever the server did
        catalog.search(filtering.url, **query(stac_archive))  # no limit: no filter
        assert "filter" not in filtering.searches[-1].body  # type: ignore[operator]
    # a collection whose items may lack eo:cloud_cover (MODIS): never filtered by the server
    with serve_stac_api(
        stac_archive.catalog, page_size=50, conformance=[FILTER], queryables={"properties": {}}
    ) as lacking:
        catalog.search(lacking.url, **query(stac_archive, max_cloud_cover=20))
        assert "filter" not in lacking.searches[0].body  # type: ignore[operator]
    q = catalog._cloud_params(max_cloud_cover=30, filter_ok=False, query_ok=True, cloud_known=True)
    assert q == {"query": {"eo:cloud_cover": {"lte": 30}}}


def test_signing_applied_and_checked_by_the_asset_server(stac_archive):
    with serve_stac_api(stac_archive.catalog, page_size=PAGE, token="s3cret") as stac_api:
        plain = catalog.search(stac_api.url, **query(stac_archive, end=D(2022, 12, 31)))
        href = plain[0].assets["red"].href
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(href)
        signed = catalog.search(
            stac_api.url, sign=add_token, **query(stac_archive, end=D(2022, 12, 31))
        )
        assert all(a.href.endswith("?token=s3cret") for it in signed for a in it.assets.values())
        grid = aoi.grid(aoi.read_aoi(stac_archive.bbox), resolution=10)
        mark = len(stac_api.asset_requests)
        got = cube.load(signed, ["red", "scl"], grid=grid).compute()
        reads = stac_api.asset_requests[mark:]
        assert reads and all(
            parse_qs(urlsplit(path).query)["token"] == ["s3cret"] for _, path, _ in reads
        )
        assert any(r for _, _, r in reads)  # COG range reads through the signed URLs
    static = catalog.search(str(stac_archive.catalog), **query(stac_archive, end=D(2022, 12, 31)))
    want = cube.load(static, ["red", "scl"], grid=grid).compute()
    xr.testing.assert_equal(got.red, want.red)
    xr.testing.assert_equal(got.scl, want.scl)


def reprocessed(item: pystac.Item, run: int, **props) -> pystac.Item:
    dup = item.clone()
    dup.id = item.id.replace("_0_L2A", f"_{run}_L2A")
    dup.properties.update(props)
    return dup


def test_duplicate_processing_runs_keep_the_newest(stac_archive):
    static = catalog.search(str(stac_archive.catalog), **query(stac_archive))
    first, second = static[3], static[10]
    newer = reprocessed(first, 1, **{"s2:processing_baseline": "05.09"})  # newer baseline wins
    # same baseline, updated later: wins over the original
    later = reprocessed(second, 1, updated="2030-01-01T00:00:00.000Z")
    older = reprocessed(second, 2, updated="2020-01-01T00:00:00.000Z")  # id is greater, older
    with serve_stac_api(
        stac_archive.catalog, page_size=PAGE, items=[newer, later, older]
    ) as stac_api:
        found = catalog.search(stac_api.url, **query(stac_archive))
    ids = [it.id for it in found]
    assert len(found) == len(static) == 24
    assert newer.id in ids and first.id not in ids
    assert later.id in ids and second.id not in ids and older.id not in ids
    assert ids.index(newer.id) == 3 and ids.index(later.id) == 10  # still in time order
    assert catalog.scene_key(newer) == catalog.scene_key(first)
    assert catalog.scene_key(newer) == ("sentinel-2-l2a", "sentinel-2b", "58KEB", "2022-12-18")
    # all else equal, the greatest id (the latest run number) wins
    twin = reprocessed(first, 7)
    assert [it.id for it in catalog.deduplicate([twin, first])] == [twin.id]


def test_429_and_5xx_are_retried_honouring_retry_after(stac_archive, stac_api):
    kw = query(stac_archive, start=D(2023, 2, 1), end=D(2023, 2, 28))
    m0 = len(stac_api.searches)
    want = [it.id for it in catalog.search(stac_api.url, **kw)]
    pages = len(stac_api.searches) - m0
    m1 = len(stac_api.searches)
    stac_api.fail(429, retry_after=1, path="/search")
    stac_api.fail(503, path="/search")
    t0 = time.monotonic()
    got = catalog.search(stac_api.url, **kw)
    assert [it.id for it in got] == want
    assert time.monotonic() - t0 >= 1.0  # waited as Retry-After said
    assert len(stac_api.searches) - m1 == pages + 2  # the two failed requests were sent again
    # the landing page (GET) is retried too; exhausted retries say what the server said
    stac_api.fail(502, times=1, path="/")
    assert [it.id for it in catalog.search(stac_api.url, **kw)] == want
    stac_api.fail(503, times=3, path="/search")
    with pytest.raises(SourceError, match=r"HTTP 503"):
        catalog.search(stac_api.url, retry=catalog.retry_policy(total=2, backoff=0), **kw)


def test_unknown_collection_and_unreachable_catalog(stac_archive, stac_api):
    with pytest.raises(
        SourceError,
        match=r"source\.collection: 'landsat-c2-l2' is not a "
        r"collection of http://127\.0\.0\.1:\d+; it has: sentinel-2-l2a",
    ):
        catalog.search(stac_api.url, **query(stac_archive, collection="landsat-c2-l2"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SourceError, match=r"source\.catalog: cannot reach the STAC API"):
        catalog.search(dead, retry=catalog.retry_policy(connect=0), **query(stac_archive))
