"""`vegcube serve` for real: uvicorn in a child process on 127.0.0.1, collections from a STAC
API (rustac, 127.0.0.1) and a static catalog, driven with plain httpx as the official openEO
client drives it. The tutorial workflow (load_collection with a bbox, dates, B04/B08/SCL and
``eo:cloud_cover`` ≤ 50; SCL 8/9 masked; NDVI; monthly means; netCDF) runs synchronously and
as a batch job, and its numbers are checked against NDVI recomputed from the raw COGs."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
import rioxarray  # noqa: F401 - the .rio accessor
import xarray as xr
from rasterio.windows import Window

from helpers import running_server

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

START, END = "2022-12-01", "2023-04-01"  # the end is excluded
MAX_CC = 50
USER, PASSWORD = "scientist", "tutorial"
#: the area inside the tile, in metres from its north-west corner: 40 … 360 (20 m aligned)
INSET, SIDE = 40, 320


@pytest.fixture(scope="module")
def server(stac_api, small, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """`vegcube serve` over the STAC API (SENTINEL2_L2A) and `small`'s static catalog."""
    work = tmp_path_factory.mktemp("serve-e2e")
    collections = work / "collections.yaml"
    collections.write_text(
        f"SENTINEL2_L2A: {{catalog: '{stac_api.url}', collection: sentinel-2-l2a}}\n"
        f"S2_STATIC: {{catalog: '{small.catalog}', collection: sentinel-2-l2a}}\n"
    )
    args = ["--collections", str(collections), "--basic-auth", f"{USER}:{PASSWORD}"]
    with running_server(work, args) as info:
        yield info


@pytest.fixture(scope="module")
def http(server) -> Iterator[Any]:
    """An httpx client authenticated as the openEO client does (Basic → bearer token)."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    with httpx.Client(base_url=server["url"], timeout=300) as c:
        token = c.get("/credentials/basic", headers={"Authorization": f"Basic {basic}"})
        assert token.status_code == 200, token.text
        c.headers["Authorization"] = f"Bearer basic//{token.json()['access_token']}"
        yield c


def _tile(stac_archive) -> tuple[float, float]:
    """The north-west corner (x, y) of the archive's tile, from an item's red asset."""
    root = pystac.Catalog.from_file(str(stac_archive.catalog))
    item = next(iter(next(iter(root.get_all_collections())).get_items(recursive=True)))
    tr = item.assets["red"].extra_fields["proj:transform"]
    return tr[2], tr[5]


def _bbox(stac_archive) -> dict[str, Any]:
    x0, y0 = _tile(stac_archive)
    w, n = x0 + INSET, y0 - INSET
    return {"west": w, "south": n - SIDE, "east": w + SIDE, "north": n, "crs": 32758}


def tutorial(bbox: dict[str, Any], collection: str = "SENTINEL2_L2A") -> dict[str, Any]:
    """The tutorial's process graph, as the openEO Python client writes it."""
    lte = {"process_id": "lte", "arguments": {"x": {"from_parameter": "value"}, "y": MAX_CC}}
    scl = {"process_id": "array_element",
           "arguments": {"data": {"from_parameter": "data"}, "label": "SCL"}}  # fmt: skip
    cloud = {
        "arrayelement1": scl,
        "eq1": {"process_id": "eq", "arguments": {"x": {"from_node": "arrayelement1"}, "y": 8}},
        "eq2": {"process_id": "eq", "arguments": {"x": {"from_node": "arrayelement1"}, "y": 9}},
        "or1": {"process_id": "or", "arguments": {"x": {"from_node": "eq1"},
                                                  "y": {"from_node": "eq2"}}, "result": True},
    }  # fmt: skip
    mean = {"mean1": {"process_id": "mean", "arguments": {"data": {"from_parameter": "data"}},
                      "result": True}}  # fmt: skip
    graph = {
        "loadcollection1": {"process_id": "load_collection", "arguments": {
            "id": collection, "spatial_extent": bbox, "temporal_extent": [START, END],
            "bands": ["B04", "B08", "SCL"],
            "properties": {"eo:cloud_cover": {"process_graph": {"lte1": {**lte, "result": True}}}},
        }},
        "reducedimension1": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "loadcollection1"}, "dimension": "bands",
            "reducer": {"process_graph": cloud},
        }},
        "mask1": {"process_id": "mask", "arguments": {
            "data": {"from_node": "loadcollection1"}, "mask": {"from_node": "reducedimension1"},
        }},
        "ndvi1": {"process_id": "ndvi", "arguments": {"data": {"from_node": "mask1"}}},
        "aggregatetemporalperiod1": {"process_id": "aggregate_temporal_period", "arguments": {
            "data": {"from_node": "ndvi1"}, "period": "month", "reducer": {"process_graph": mean},
        }},
        "saveresult1": {"process_id": "save_result", "arguments": {
            "data": {"from_node": "aggregatetemporalperiod1"}, "format": "netCDF", "options": {},
        }, "result": True},
    }  # fmt: skip
    return {"process_graph": graph}


def recompute(stac_archive) -> tuple[list[np.datetime64], np.ndarray]:
    """Monthly mean NDVI from the raw COGs in numpy: DN harmonised (offset removed), DN 0
    no data, SCL 8/9 masked; months labelled by their first day."""
    root = pystac.Catalog.from_file(str(stac_archive.catalog))
    items = list(next(iter(root.get_all_collections())).get_items(recursive=True))
    t0 = dt.datetime.fromisoformat(START).replace(tzinfo=dt.timezone.utc)
    t1 = dt.datetime.fromisoformat(END).replace(tzinfo=dt.timezone.utc)
    kept = [it for it in items if t0 <= it.datetime < t1]
    kept = [it for it in kept if it.properties["eo:cloud_cover"] <= MAX_CC]
    assert 0 < len(kept) < len([it for it in items if t0 <= it.datetime < t1])
    r0, n = INSET // 10, SIDE // 10

    def read(item: pystac.Item, key: str, scale: int) -> np.ndarray:
        with rasterio.open(item.assets[key].get_absolute_href()) as src:
            a = src.read(1, window=Window(r0 // scale, r0 // scale, n // scale, n // scale))
        return np.repeat(np.repeat(a, scale, axis=0), scale, axis=1).astype("float64")

    months: dict[tuple[int, int], list[np.ndarray]] = {}
    masked = 0
    for item in sorted(kept, key=lambda it: it.datetime):
        bands = {}
        for key in ("red", "nir"):
            dn = read(item, key, 1)
            offset = item.assets[key].extra_fields["raster:bands"][0]["offset"] * 10000
            bands[key] = np.where(dn == 0, np.nan, dn + offset)
        scl = read(item, "scl", 2)
        cloudy = (scl == 8) | (scl == 9)
        masked += int(cloudy.sum())
        with np.errstate(all="ignore"):
            ndvi = (bands["nir"] - bands["red"]) / (bands["nir"] + bands["red"])
        ndvi[cloudy] = np.nan
        months.setdefault((item.datetime.year, item.datetime.month), []).append(ndvi)
    assert masked > 0  # the test would miss a mask that does nothing
    labels = [np.datetime64(f"{y}-{m:02d}-01") for y, m in sorted(months)]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
        means = np.stack([np.nanmean(np.stack(months[k]), axis=0) for k in sorted(months)])
    return labels, means


def _check(path: Path, stac_archive) -> None:
    labels, want = recompute(stac_archive)
    with xr.open_dataset(path, engine="netcdf4", decode_coords="all") as ds:
        assert list(ds.data_vars) == ["var"]
        got = ds["var"].transpose("t", "y", "x")
        assert list(got.t.values.astype("datetime64[D]")) == labels
        assert ds.rio.crs.to_epsg() == 32758
        bbox = _bbox(stac_archive)
        assert float(ds.x.min()) == bbox["west"] + 5 and float(ds.y.max()) == bbox["north"] - 5
        np.testing.assert_allclose(got.values, want, rtol=1e-6, atol=1e-9, equal_nan=True)
        assert np.isfinite(got.values).mean() > 0.8


def test_capabilities_and_metadata_over_http(server, http) -> None:
    caps = http.get("/").json()
    assert caps["api_version"] == "1.2.0"
    anonymous = httpx.get(f"{server['url']}/jobs")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "AuthenticationRequired"
    doc = http.get("/collections/SENTINEL2_L2A").json()
    assert doc["cube:dimensions"]["bands"]["values"] == [
        "B02",
        "B03",
        "B04",
        "B08",
        "B11",
        "B12",
        "SCL",
    ]
    assert doc["extent"]["temporal"]["interval"][0][0].startswith("2022-12")
    assert http.get("/collections").json()["collections"][1]["id"] == "S2_STATIC"


def test_tutorial_workflow_synchronously(server, http, stac_archive, tmp_path) -> None:
    resp = http.post("/result", json={"process": tutorial(_bbox(stac_archive))})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/x-netcdf"
    path = tmp_path / "sync.nc"
    path.write_bytes(resp.content)
    _check(path, stac_archive)
    assert not list((server["cwd"] / "state" / "tmp").iterdir())  # the temporary file is gone


def test_tutorial_workflow_as_a_batch_job(server, http, stac_archive, tmp_path) -> None:
    made = http.post("/jobs", json={"title": "tutorial", "process": tutorial(_bbox(stac_archive))})
    assert made.status_code == 201, made.text
    job_id = made.headers["OpenEO-Identifier"]
    assert made.headers["Location"].endswith(f"/jobs/{job_id}")
    assert http.post(f"/jobs/{job_id}/results").status_code == 202
    deadline = time.monotonic() + 240
    while (status := http.get(f"/jobs/{job_id}").json()["status"]) in ("queued", "running"):
        assert time.monotonic() < deadline, "the batch job did not finish"
        time.sleep(0.5)
    assert status == "finished", http.get(f"/jobs/{job_id}/logs").json()
    assets = http.get(f"/jobs/{job_id}/results").json()["assets"]
    (asset,) = assets.values()
    # as the openEO client downloads: HEAD, then HTTP ranges of the file
    head = http.head(asset["href"])
    size = int(head.headers["content-length"])
    assert head.headers["accept-ranges"] == "bytes" and size == asset["file:size"]
    parts = []
    for start in range(0, size, 4096):
        r = http.get(
            asset["href"], headers={"Range": f"bytes={start}-{min(start + 4095, size - 1)}"}
        )
        assert r.status_code == 206
        parts.append(r.content)
    path = tmp_path / "batch.nc"
    path.write_bytes(b"".join(parts))
    _check(path, stac_archive)
    logs = http.get(f"/jobs/{job_id}/logs").json()["logs"]
    assert any("results written" in e["message"] for e in logs)
    # every file the server and its worker wrote is under --state
    assert sorted(p.name for p in server["cwd"].iterdir()) == ["state"]


def test_static_catalog_collection_and_errors_over_http(http, small) -> None:
    root = pystac.Catalog.from_file(str(small.catalog))
    item = next(iter(next(iter(root.get_all_collections())).get_items(recursive=True)))
    x0, y0 = item.assets["red"].extra_fields["proj:transform"][2::3][:2]
    bbox = {"west": x0 + 40, "south": y0 - 240, "east": x0 + 240, "north": y0 - 40, "crs": 32758}
    graph = tutorial(bbox, "S2_STATIC")
    graph["process_graph"]["loadcollection1"]["arguments"]["temporal_extent"] = [
        "2021-12-01", "2022-02-01",
    ]  # fmt: skip
    resp = http.post("/result", json={"process": graph})
    assert resp.status_code == 200, resp.text
    graph["process_graph"]["loadcollection1"]["arguments"]["temporal_extent"] = [
        "2030-01-01", "2030-02-01",
    ]  # fmt: skip
    resp = http.post("/result", json={"process": graph})
    assert resp.status_code == 400 and resp.json()["code"] == "NoDataAvailable"
