"""`vegcube search` and `vegcube run` against a real STAC API (rustac) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import socket
from pathlib import Path

import numpy as np
import pystac
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

import vegcube
from helpers import query
from vegcube import catalog
from vegcube.cli import app

D = dt.date


def recipe_file(stac_archive, url: str, out: Path, **source) -> Path:
    r = stac_archive.recipe(out / "out")
    r["source"] = {**r["source"], "catalog": url, **source}
    r.pop("reference")
    r.update(indicators=[], indices=["ndvi"])
    r["output"]["formats"] = ["zarr"]
    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(r, sort_keys=False))
    return path


def cli(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160"})


def test_cli_search_table_json_geojson(stac_archive, stac_api, tmp_path):
    path = recipe_file(stac_archive, stac_api.url, tmp_path, max_cloud_cover=60)
    want = catalog.search(stac_api.url, **query(stac_archive, max_cloud_cover=60))
    assert 0 < len(want) < 24

    res = cli("search", str(path), "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == [it.id for it in want]
    assert pystac.ItemCollection.from_dict(doc).items[0].assets["red"].href.startswith(stac_api.url)

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


def test_cli_search_bad_source_exits_2(stac_archive, stac_api, tmp_path):
    path = recipe_file(stac_archive, stac_api.url, tmp_path, collection="sentinel-2-c1-l2a")
    res = cli("search", str(path))
    assert res.exit_code == 2
    assert "source.collection: 'sentinel-2-c1-l2a' is not a collection" in res.stderr
    assert "sentinel-2-l2a" in res.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    res = cli("search", str(recipe_file(stac_archive, dead, tmp_path)))
    assert res.exit_code == 2
    assert "source.catalog: cannot reach the STAC API at " + dead in res.stderr


@pytest.mark.slow
def test_run_from_the_api_equals_the_static_run(stac_archive, stac_api, tmp_path):
    (tmp_path / "api").mkdir()
    (tmp_path / "static").mkdir()
    from_api = vegcube.run(
        yaml.safe_load(recipe_file(stac_archive, stac_api.url, tmp_path / "api").read_text())
    )
    static = vegcube.run(
        yaml.safe_load(
            recipe_file(stac_archive, str(stac_archive.catalog), tmp_path / "static").read_text()
        )
    )
    a = xr.open_zarr(from_api.outputs["composites"]).load()
    b = xr.open_zarr(static.outputs["composites"]).load()
    xr.testing.assert_identical(a, b)
    assert a.sizes["time"] == 12 and np.isfinite(a.ndvi).any()
    used = json.loads((from_api.out / "run.json").read_text())
    assert stac_api.url in json.dumps(used)
