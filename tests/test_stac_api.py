"""STAC API sources against a real server (rustac) on 127.0.0.1: pages, filters, signing,
duplicates, retries, errors, `vegcube search`, and a run equal to the static-catalog run."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pystac
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

import vegcube
from vegcube import aoi, catalog, cube
from vegcube.cli import app
from vegcube.errors import SourceError
from vegcube.testing import generate_archive, serve_stac_api

pytest.importorskip("rustac", reason="the STAC API tests need `rustac` (pip install vegcube[test])")

D = dt.date
PAGE = 5  # 24 scenes → 5 pages
FILTER = "https://api.stacspec.org/v1.0.0/item-search#filter"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Four months of a 400 m tile, a scene every 5 days (24 items) across the drought's start."""
    return generate_archive(
        tmp_path_factory.mktemp("api_archive"), size=40, start="2022-12-01", end="2023-03-31"
    )


@pytest.fixture(scope="module")
def api(archive):
    with serve_stac_api(archive.catalog, page_size=PAGE) as served:
        yield served


def query(archive, **kw):
    args = {
        "collection": "sentinel-2-l2a",
        "bbox": archive.bbox,
        "start": D(2022, 12, 1),
        "end": D(2023, 3, 31),
    }
    return {**args, **kw}


def same(a: list[pystac.Item], b: list[pystac.Item]) -> None:
    assert [it.id for it in a] == [it.id for it in b]
    for x, y in zip(a, b, strict=True):
        assert x.datetime == y.datetime
        assert x.properties["eo:cloud_cover"] == y.properties["eo:cloud_cover"]


def add_token(item: pystac.Item) -> pystac.Item:
    for asset in item.assets.values():
        asset.href += "?token=s3cret"
    return item


# --------------------------------------------------------------------------- search


def test_paged_search_equals_static_search(archive, api):
    mark = len(api.requests)
    found = catalog.search(api.url, **query(archive))
    static = catalog.search(str(archive.catalog), **query(archive))
    assert len(found) == archive.n_items == 24
    same(found, static)
    pages = api.searches[-(archive.n_items // PAGE + 1) :]
    assert len(api.requests) - mark >= 5 + 2  # landing page, collection, five pages
    # vegcube asks for 200 a page; the server pages by 5 and its next links say so
    assert [p.body["limit"] for p in pages] == [200, PAGE, PAGE, PAGE, PAGE]  # type: ignore[index]
    assert [p.body.get("skip") for p in pages] == [None, 5, 10, 15, 20]  # type: ignore[union-attr]
    assert all(p.method == "POST" for p in pages)
    # the server filters dates and bbox: one month, and a box beside the tile
    jan = catalog.search(api.url, **query(archive, start=D(2023, 1, 1), end=D(2023, 1, 31)))
    same(
        jan,
        catalog.search(
            str(archive.catalog), **query(archive, start=D(2023, 1, 1), end=D(2023, 1, 31))
        ),
    )
    assert len(jan) == 6 and api.searches[-1].body["datetime"].startswith("2023-01-01")  # type: ignore[index]
    assert catalog.search(api.url, **query(archive, bbox=(165.6, -21.5, 165.7, -21.4))) == []


def test_cloud_cover_filtered_and_sent_to_servers_that_filter(archive, api):
    clear = catalog.search(api.url, **query(archive, max_cloud_cover=20))
    every = catalog.search(api.url, **query(archive))
    assert 0 < len(clear) < len(every)
    assert all(it.properties["eo:cloud_cover"] <= 20 for it in clear)
    same(clear, catalog.search(str(archive.catalog), **query(archive, max_cloud_cover=20)))
    assert "filter" not in api.searches[-1].body  # type: ignore[operator]  # rustac: no filter

    queryables = {"type": "object", "properties": {"eo:cloud_cover": {"type": "number"}}}
    with serve_stac_api(
        archive.catalog, page_size=PAGE, conformance=[FILTER], queryables=queryables
    ) as filtering:
        got = catalog.search(filtering.url, **query(archive, max_cloud_cover=20))
        body = filtering.searches[0].body
        assert body is not None
        assert body["filter"] == {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 20]}
        assert body["filter-lang"] == "cql2-json"
        same(got, clear)  # the client-side net holds whatever the server did
        catalog.search(filtering.url, **query(archive))  # no limit: no filter
        assert "filter" not in filtering.searches[-1].body  # type: ignore[operator]
    # a collection whose items may lack eo:cloud_cover (MODIS): never filtered by the server
    with serve_stac_api(
        archive.catalog, page_size=50, conformance=[FILTER], queryables={"properties": {}}
    ) as lacking:
        catalog.search(lacking.url, **query(archive, max_cloud_cover=20))
        assert "filter" not in lacking.searches[0].body  # type: ignore[operator]
    q = catalog._cloud_params(max_cloud_cover=30, filter_ok=False, query_ok=True, cloud_known=True)
    assert q == {"query": {"eo:cloud_cover": {"lte": 30}}}


def test_signing_applied_and_checked_by_the_asset_server(archive):
    with serve_stac_api(archive.catalog, page_size=PAGE, token="s3cret") as api:
        plain = catalog.search(api.url, **query(archive, end=D(2022, 12, 31)))
        href = plain[0].assets["red"].href
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(href)
        signed = catalog.search(api.url, sign=add_token, **query(archive, end=D(2022, 12, 31)))
        assert all(a.href.endswith("?token=s3cret") for it in signed for a in it.assets.values())
        grid = aoi.grid(aoi.read_aoi(archive.bbox), resolution=10)
        mark = len(api.asset_requests)
        got = cube.load(signed, ["red", "scl"], grid=grid).compute()
        reads = api.asset_requests[mark:]
        assert reads and all(
            parse_qs(urlsplit(path).query)["token"] == ["s3cret"] for _, path, _ in reads
        )
        assert any(r for _, _, r in reads)  # COG range reads through the signed URLs
    static = catalog.search(str(archive.catalog), **query(archive, end=D(2022, 12, 31)))
    want = cube.load(static, ["red", "scl"], grid=grid).compute()
    xr.testing.assert_equal(got.red, want.red)
    xr.testing.assert_equal(got.scl, want.scl)


def reprocessed(item: pystac.Item, run: int, **props) -> pystac.Item:
    dup = item.clone()
    dup.id = item.id.replace("_0_L2A", f"_{run}_L2A")
    dup.properties.update(props)
    return dup


def test_duplicate_processing_runs_keep_the_newest(archive):
    static = catalog.search(str(archive.catalog), **query(archive))
    first, second = static[3], static[10]
    newer = reprocessed(first, 1, **{"s2:processing_baseline": "05.09"})  # newer baseline wins
    # same baseline, updated later: wins over the original
    later = reprocessed(second, 1, updated="2030-01-01T00:00:00.000Z")
    older = reprocessed(second, 2, updated="2020-01-01T00:00:00.000Z")  # id is greater, older
    with serve_stac_api(archive.catalog, page_size=PAGE, items=[newer, later, older]) as api:
        found = catalog.search(api.url, **query(archive))
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


def test_429_and_5xx_are_retried_honouring_retry_after(archive, api):
    kw = query(archive, start=D(2023, 2, 1), end=D(2023, 2, 28))
    m0 = len(api.searches)
    want = [it.id for it in catalog.search(api.url, **kw)]
    pages = len(api.searches) - m0
    m1 = len(api.searches)
    api.fail(429, retry_after=1, path="/search")
    api.fail(503, path="/search")
    t0 = time.monotonic()
    got = catalog.search(api.url, **kw)
    assert [it.id for it in got] == want
    assert time.monotonic() - t0 >= 1.0  # waited as Retry-After said
    assert len(api.searches) - m1 == pages + 2  # the two failed requests were sent again
    # the landing page (GET) is retried too; exhausted retries say what the server said
    api.fail(502, times=1, path="/")
    assert [it.id for it in catalog.search(api.url, **kw)] == want
    api.fail(503, times=3, path="/search")
    with pytest.raises(SourceError, match=r"HTTP 503"):
        catalog.search(api.url, retry=catalog.retry_policy(total=2, backoff=0), **kw)


def test_unknown_collection_and_unreachable_catalog(archive, api):
    with pytest.raises(
        SourceError,
        match=r"source\.collection: 'landsat-c2-l2' is not a "
        r"collection of http://127\.0\.0\.1:\d+; it has: sentinel-2-l2a",
    ):
        catalog.search(api.url, **query(archive, collection="landsat-c2-l2"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SourceError, match=r"source\.catalog: cannot reach the STAC API"):
        catalog.search(dead, retry=catalog.retry_policy(connect=0), **query(archive))


# --------------------------------------------------------------------------- named catalogs


def test_named_catalogs_signers_and_credentials(monkeypatch):
    assert catalog.resolve_catalog("planetary-computer") == (
        "https://planetarycomputer.microsoft.com/api/stac/v1"
    )
    assert catalog.resolve_catalog("cdse") == "https://stac.dataspace.copernicus.eu/v1"
    assert catalog.KNOWN_CATALOGS["earth-search"] == "https://earth-search.aws.element84.com/v1"
    assert catalog.signer_for("earth-search") is None and catalog.signer_for("cdse") is None
    try:
        import planetary_computer
    except ImportError:
        with pytest.raises(SourceError, match=r"vegcube\[planetary-computer\]"):
            catalog.signer_for("planetary-computer")
    else:
        assert catalog.signer_for(catalog.CATALOGS["planetary-computer"].url) is (
            planetary_computer.sign_inplace
        )
    assert catalog.asset_env("earth-search") == {}
    monkeypatch.delenv("CDSE_S3_ACCESS_KEY", raising=False)
    monkeypatch.setenv("CDSE_S3_SECRET_KEY", "very-secret-value")
    with pytest.raises(SourceError, match=r"not set: CDSE_S3_ACCESS_KEY \(create") as err:
        catalog.asset_env("cdse")
    assert "very-secret-value" not in str(err.value)
    monkeypatch.setenv("CDSE_S3_ACCESS_KEY", "my-key-id")
    env = catalog.asset_env("cdse")
    assert env["AWS_S3_ENDPOINT"] == "eodata.dataspace.copernicus.eu"
    assert env["AWS_SECRET_ACCESS_KEY"] == "very-secret-value"
    assert "very-secret-value" not in repr(env) and "my-key-id" not in f"{env}"


def test_monthly_summary_counts_clear_equivalents(archive):
    items = catalog.search(str(archive.catalog), **query(archive))
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


# --------------------------------------------------------------------------- CLI and run


def recipe_file(archive, url: str, out: Path, **source) -> Path:
    r = archive.recipe(out / "out")
    r["source"] = {**r["source"], "catalog": url, **source}
    r.pop("reference")
    r.update(indicators=[], indices=["ndvi"])
    r["output"]["formats"] = ["zarr"]
    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(r, sort_keys=False))
    return path


def cli(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160"})


def test_cli_search_table_json_geojson(archive, api, tmp_path):
    path = recipe_file(archive, api.url, tmp_path, max_cloud_cover=60)
    want = catalog.search(api.url, **query(archive, max_cloud_cover=60))
    assert 0 < len(want) < 24

    res = cli("search", str(path), "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == [it.id for it in want]
    assert pystac.ItemCollection.from_dict(doc).items[0].assets["red"].href.startswith(api.url)

    res = cli("search", str(path), "--format", "geojson")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    f0 = doc["features"][0]
    assert f0["geometry"]["type"] == "Polygon" and "assets" not in f0
    assert f0["properties"]["tile"] == "58KEB"
    assert f0["properties"]["eo:cloud_cover"] == want[0].properties["eo:cloud_cover"]

    res = cli("search", str(path))
    assert res.exit_code == 0, res.output
    for it in want:
        assert it.id in res.stdout
    months = catalog.monthly_summary(want, start=D(2022, 12, 1), end=D(2023, 3, 31))
    for m in months:
        row = next(line for line in res.stdout.splitlines() if f" {m.month} " in line)
        cells = [c.strip() for c in row.split("│")[1:4]]
        assert cells == [m.month, str(m.scenes), f"{m.clear_equivalent:.1f}"], row


def test_cli_search_bad_source_exits_2(archive, api, tmp_path):
    path = recipe_file(archive, api.url, tmp_path, collection="sentinel-2-c1-l2a")
    res = cli("search", str(path))
    assert res.exit_code == 2
    assert "source.collection: 'sentinel-2-c1-l2a' is not a collection" in res.stderr
    assert "sentinel-2-l2a" in res.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    res = cli("search", str(recipe_file(archive, dead, tmp_path)))
    assert res.exit_code == 2
    assert "source.catalog: cannot reach the STAC API at " + dead in res.stderr


@pytest.mark.slow
def test_run_from_the_api_equals_the_static_run(archive, api, tmp_path):
    (tmp_path / "api").mkdir()
    (tmp_path / "static").mkdir()
    from_api = vegcube.run(
        yaml.safe_load(recipe_file(archive, api.url, tmp_path / "api").read_text())
    )
    static = vegcube.run(
        yaml.safe_load(recipe_file(archive, str(archive.catalog), tmp_path / "static").read_text())
    )
    a = xr.open_zarr(from_api.outputs["composites"]).load()
    b = xr.open_zarr(static.outputs["composites"]).load()
    xr.testing.assert_identical(a, b)
    assert a.sizes["time"] == 12 and np.isfinite(a.ndvi).any()
    used = json.loads((from_api.out / "run.json").read_text())
    assert api.url in json.dumps(used)
