"""`vegcube serve`'s openEO API over FastAPI's TestClient, on the `small` generated archive:
capabilities, collection metadata, authentication, openEO errors, load_collection's values
(against the COGs read raw), output formats, validation and signed downloads."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
import rioxarray  # noqa: F401 - the .rio accessor
import xarray as xr
from rasterio.windows import Window

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # starlette's note on httpx versions: not ours
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from vegcube.serve.app import ServeConfig, create_app
from vegcube.serve.collections import Backend, demo_sources
from vegcube.serve.errors import OpenEOError

#: a 440 m square inside the `small` tile (x 550420..551020, y 7614380..7614980, EPSG:32758),
#: on the 20 m grid of SCL too: rows/cols 4..48 of the 10 m COGs, 2..24 of the 20 m ones
BBOX = {"west": 550460, "south": 7614500, "east": 550900, "north": 7614940, "crs": 32758}
ROW0, SIDE = 4, 44


def _cc(op: str, y: float) -> dict[str, Any]:
    node = {"process_id": op, "arguments": {"x": {"from_parameter": "value"}, "y": y}}
    return {"process_graph": {"cc": {**node, "result": True}}}


def _load(**args: Any) -> dict[str, Any]:
    base = {"id": "SENTINEL2_L2A", "spatial_extent": BBOX, "temporal_extent": None}
    return {"process_id": "load_collection", "arguments": {**base, **args}}


def _graph(load: dict[str, Any], fmt: str = "netCDF", **options: Any) -> dict[str, Any]:
    save = {"data": {"from_node": "load"}, "format": fmt}
    if options:
        save["options"] = options
    return {
        "process": {
            "process_graph": {
                "load": load,
                "save": {"process_id": "save_result", "arguments": save, "result": True},
            }
        }
    }


@pytest.fixture(scope="module")
def items(small) -> list[pystac.Item]:
    root = pystac.Catalog.from_file(str(small.catalog))
    found = list(next(iter(root.get_all_collections())).get_items(recursive=True))
    return sorted(found, key=lambda it: str(it.properties["datetime"]))


@pytest.fixture(scope="module")
def client(small, tmp_path_factory):
    state = tmp_path_factory.mktemp("serve-state")
    config = ServeConfig(sources=demo_sources(small.catalog), state=state, chunk=32)
    with TestClient(create_app(config)) as c:
        yield c


def _raw(item: pystac.Item, asset: str, scale: int = 1) -> np.ndarray:
    """The asset's DN over `BBOX` at 10 m (20 m assets repeated), as stored."""
    r0, n = ROW0 // scale, SIDE // scale
    with rasterio.open(item.assets[asset].get_absolute_href()) as src:
        arr = src.read(1, window=Window(r0, r0, n, n))
    return np.repeat(np.repeat(arr, scale, axis=0), scale, axis=1)


def _delivered(item: pystac.Item, asset: str) -> np.ndarray:
    """What the Copernicus Data Space delivers: DN with the baseline offset removed, NaN
    where the DN is nodata (0)."""
    dn = _raw(item, asset).astype("float64")
    offset = item.assets[asset].extra_fields["raster:bands"][0]["offset"] * 10000
    return np.where(dn == 0, np.nan, dn + offset)


def _nc(resp: Any, tmp: Path) -> xr.Dataset:
    """The netCDF a response holds, opened from a file (netCDF4 reads files)."""
    assert resp.status_code == 200, resp.text
    path = tmp / f"r{len(list(tmp.iterdir()))}.nc"
    path.write_bytes(resp.content)
    return xr.open_dataset(path, engine="netcdf4", decode_coords="all").load()


def _error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"id", "code", "message", "links"}
    assert body["code"] == code, body
    return dict(body)


# --------------------------------------------------------------------------- discovery


def test_capabilities_list_every_endpoint_once_with_its_methods(client) -> None:
    doc = client.get("/").json()
    assert doc["api_version"] == "1.2.0"
    assert doc["stac_version"] == "1.0.0" and doc["type"] == "Catalog"
    for key in ("id", "title", "description", "backend_version", "links"):
        assert doc[key]
    paths = [e["path"] for e in doc["endpoints"]]
    assert len(paths) == len(set(paths)) and "/" not in paths
    methods = {e["path"]: e["methods"] for e in doc["endpoints"]}
    assert methods["/result"] == ["POST"]
    assert methods["/jobs"] == ["GET", "POST"]
    assert methods["/jobs/{job_id}"] == ["GET", "PATCH", "DELETE"]
    assert methods["/jobs/{job_id}/results"] == ["GET", "POST", "DELETE"]
    assert methods["/collections/{collection_id}"] == ["GET"]
    assert methods["/credentials/basic"] == ["GET"]
    assert client.get("/udf_runtimes").json() == client.get("/service_types").json() == {}
    assert client.get("/conformance").json()["conformsTo"] == doc["conformsTo"]
    known = client.get("/.well-known/openeo").json()["versions"]
    assert known == [{"url": "http://testserver/", "api_version": "1.2.0", "production": False}]


def test_file_formats_offer_netcdf_and_gtiff_for_rasters(client) -> None:
    out = client.get("/file_formats").json()["output"]
    assert "raster" in out["netCDF"]["gis_data_types"]
    assert out["GTiff"]["gis_data_types"] == ["raster"]
    assert set(out["GTiff"]["parameters"]) >= {"tiled", "compress"}


def test_collection_metadata_has_cube_dimensions_and_cdse_band_names(client, small) -> None:
    listed = client.get("/collections").json()["collections"]
    assert [c["id"] for c in listed] == ["SENTINEL2_L2A"]
    doc = client.get("/collections/SENTINEL2_L2A").json()
    dims = doc["cube:dimensions"]
    assert {d: dims[d]["type"] for d in dims} == {
        "x": "spatial",
        "y": "spatial",
        "t": "temporal",
        "bands": "bands",
    }
    # the demo archive holds these assets only: the bands are narrowed to them
    assert dims["bands"]["values"] == ["B02", "B03", "B04", "B08", "B11", "B12", "SCL"]
    assert dims["x"]["step"] == 10 and dims["x"]["axis"] == "x"
    common = {b["name"]: b.get("common_name") for b in doc["summaries"]["eo:bands"]}
    assert common["B04"] == "red" and common["B08"] == "nir" and common["SCL"] is None
    w, s, e, n = doc["extent"]["spatial"]["bbox"][0]
    assert w <= small.bbox[0] < small.bbox[2] <= e and s <= small.bbox[1] < small.bbox[3] <= n
    assert dims["x"]["extent"] == [w, e] and dims["y"]["extent"] == [s, n]
    assert dims["t"]["extent"][0].startswith("2021-11-0")
    assert doc["stac_version"] == "1.0.0" and doc["license"]


def test_unknown_collection_is_collection_not_found(client) -> None:
    body = _error(client.get("/collections/NOPE"), 404, "CollectionNotFound")
    assert "SENTINEL2_L2A" in body["message"]
    _error(client.get("/no/such/path"), 404, "NotFound")


# --------------------------------------------------------------------------- authentication


def test_basic_auth_guards_every_non_public_endpoint(small, tmp_path) -> None:
    config = ServeConfig(demo_sources(small.catalog), tmp_path, basic_auth=("alice", "s3cret"))
    with TestClient(create_app(config)) as c:
        assert c.get("/").status_code == 200
        assert c.get("/collections/SENTINEL2_L2A").status_code == 200
        _error(c.get("/me"), 401, "AuthenticationRequired")
        _error(c.get("/jobs"), 401, "AuthenticationRequired")
        _error(c.post("/result", json={}), 401, "AuthenticationRequired")
        wrong = base64.b64encode(b"alice:nope").decode()
        _error(
            c.get("/credentials/basic", headers={"Authorization": f"Basic {wrong}"}),
            403,
            "CredentialsInvalid",
        )
        right = base64.b64encode(b"alice:s3cret").decode()
        token = c.get("/credentials/basic", headers={"Authorization": f"Basic {right}"}).json()
        bearer = {"Authorization": f"Bearer basic//{token['access_token']}"}
        assert c.get("/me", headers=bearer).json()["user_id"] == "alice"
        assert c.get("/jobs", headers=bearer).json() == {"jobs": [], "links": []}
        _error(c.get("/me", headers={"Authorization": "Bearer basic//forged"}), 403, "TokenInvalid")


def test_without_basic_auth_anyone_is_accepted(client) -> None:
    assert client.get("/me").json()["user_id"] == "anonymous"
    anyone = base64.b64encode(b"bob:whatever").decode()
    token = client.get("/credentials/basic", headers={"Authorization": f"Basic {anyone}"})
    assert token.status_code == 200 and token.json()["access_token"]


# --------------------------------------------------------------------------- errors


def test_process_errors_are_openeo_json_with_4xx(client) -> None:
    _error(client.post("/result", json={"process": {}}), 400, "ProcessGraphMissing")
    unknown = {"process": {"process_graph": {"x": {"process_id": "warp_drive", "result": True}}}}
    _error(client.post("/result", json=unknown), 400, "ProcessUnsupported")
    nope = _load(id="NOPE", temporal_extent=["2022-01-01", "2022-02-01"])
    _error(client.post("/result", json=_graph(nope)), 404, "CollectionNotFound")
    png = _graph(_load(temporal_extent=["2022-01-01", "2022-01-10"], bands=["B04"]), "PNG")
    _error(client.post("/result", json=png), 400, "FormatUnsupported")
    empty = _load(temporal_extent=["2024-01-01", "2024-02-01"], bands=["B04"])
    body = _error(client.post("/result", json=_graph(empty)), 400, "NoDataAvailable")
    assert "2024-01-01" in body["message"]
    b99 = _load(temporal_extent=["2022-01-01", "2022-01-10"], bands=["B04", "B99"])
    body = _error(client.post("/result", json=_graph(b99)), 400, "ProcessParameterInvalid")
    assert "B99" in body["message"] and "B08" in body["message"]


def test_vegcube_input_errors_become_400_with_their_message() -> None:
    from vegcube.errors import BandError, DataError
    from vegcube.serve.errors import as_openeo

    err = as_openeo(BandError("no asset named B99", band="B99"))
    assert (err.status, err.code, err.message) == (400, "BandError", "no asset named B99")
    assert as_openeo(DataError("no scenes to load: the search found no items")).code == (
        "NoDataAvailable"
    )
    crash = as_openeo(ZeroDivisionError("boom"))
    assert crash.status == 500 and crash.code == "Internal" and "boom" in crash.message


def test_a_catalog_that_does_not_answer_is_a_503(tmp_path) -> None:
    from helpers import free_port
    from vegcube.serve.collections import Source

    down = f"http://127.0.0.1:{free_port()}/stac"  # nothing listens there
    sources = {"SENTINEL2_L2A": Source("SENTINEL2_L2A", down, "sentinel-2-l2a", "down")}
    config = ServeConfig(sources=sources, state=tmp_path, chunk=32)
    with TestClient(create_app(config)) as c:
        body = _error(c.post("/result", json=_graph(_load())), 503, "ServiceUnavailable")
    assert down in body["message"]


def test_validation_reports_unknown_processes_collections_and_formats(client) -> None:
    good = _graph(_load(temporal_extent=["2022-01-01", "2022-02-01"]))["process"]
    assert client.post("/validation", json=good).json() == {"errors": []}
    bad = _graph(_load(id="NOPE"), "PNG")["process"]
    bad["process_graph"]["load"]["arguments"]["properties"] = {"eo:cloud_cover": _cc("lte", 50)}
    bad["process_graph"]["extra"] = {
        "process_id": "apply",
        "arguments": {"process": {"process_graph": {"w": {"process_id": "warp", "result": True}}}},
    }
    codes = sorted(e["code"] for e in client.post("/validation", json=bad).json()["errors"])
    assert codes == ["CollectionNotFound", "FormatUnsupported", "ProcessUnsupported"]


# --------------------------------------------------------------------------- load_collection


def test_result_netcdf_holds_the_bands_as_cdse_delivers_them(client, items, tmp_path) -> None:
    # a scene before the baseline switch (DN as is) and one after (DN − 1000)
    start, end = "2022-01-17T00:00:00Z", "2022-01-31T00:00:00Z"
    graph = _graph(_load(temporal_extent=[start, end], bands=["B08", "B04", "SCL"]))
    resp = client.post("/result", json=graph)
    assert resp.headers["content-type"] == "application/x-netcdf"
    ds = _nc(resp, tmp_path)
    assert list(ds.data_vars) == ["B08", "B04", "SCL"]
    assert ds.rio.crs.to_epsg() == 32758
    assert (ds.sizes["y"], ds.sizes["x"]) == (SIDE, SIDE)
    assert float(ds.x[0]) == BBOX["west"] + 5 and float(ds.y[0]) == BBOX["north"] - 5
    t0, t1 = np.datetime64("2022-01-17"), np.datetime64("2022-01-31")
    inside = [it for it in items if t0 <= np.datetime64(it.datetime.replace(tzinfo=None)) < t1]
    assert len(inside) == ds.sizes["t"] == 3
    offsets = {it.assets["red"].extra_fields["raster:bands"][0]["offset"] for it in inside}
    assert offsets == {0.0, -0.1}  # both sides of the processing-baseline switch
    for k, item in enumerate(inside):
        got = ds.isel(t=k)
        np.testing.assert_array_equal(got.B04.values, _delivered(item, "red"))
        np.testing.assert_array_equal(got.B08.values, _delivered(item, "nir"))
        np.testing.assert_array_equal(got.SCL.values, _raw(item, "scl", scale=2))


def test_cloud_cover_filters_pick_exactly_the_matching_scenes(small, items) -> None:
    backend = Backend(demo_sources(small.catalog), chunk=32)
    span = ["2021-11-01", "2022-04-01"]
    covers = np.array([it.properties["eo:cloud_cover"] for it in items])
    assert 0 < (covers <= 20).sum() < (covers <= 60).sum() < len(items)  # the test can fail

    def times(**properties: Any) -> int:
        da = backend.load_collection(
            "SENTINEL2_L2A",
            spatial_extent=BBOX,
            temporal_extent=span,
            bands=["B04"],
            properties=properties,
        )
        return int(da.sizes["t"])

    assert times(**{"eo:cloud_cover": _cc("lte", 20)}) == (covers <= 20).sum()
    assert times(**{"eo:cloud_cover": _cc("gt", 60)}) == (covers > 60).sum()
    between = {
        "process_graph": {
            "b": {
                "process_id": "between",
                "result": True,
                "arguments": {"x": {"from_parameter": "value"}, "min": 20, "max": 60},
            }
        }
    }
    assert times(**{"eo:cloud_cover": between}) == ((covers >= 20) & (covers <= 60)).sum()
    platform = {
        "process_graph": {
            "p": {
                "process_id": "eq",
                "result": True,
                "arguments": {"x": {"from_parameter": "value"}, "y": "sentinel-2a"},
            }
        }
    }
    assert times(platform=platform) == sum(
        it.properties["platform"] == "sentinel-2a" for it in items
    )


def test_properties_through_the_evaluator_filter_the_scenes(client, items, tmp_path) -> None:
    span = ["2021-11-01", "2022-04-01"]
    load = _load(temporal_extent=span, bands=["B04"], properties={"eo:cloud_cover": _cc("lt", 30)})
    reduce = {
        "process_id": "reduce_dimension",
        "arguments": {
            "data": {"from_node": "load"},
            "dimension": "bands",
            "reducer": {
                "process_graph": {
                    "m": {
                        "process_id": "mean",
                        "result": True,
                        "arguments": {"data": {"from_parameter": "data"}},
                    }
                }
            },
        },
    }
    graph = _graph(load)
    graph["process"]["process_graph"]["red"] = reduce
    graph["process"]["process_graph"]["save"]["arguments"]["data"] = {"from_node": "red"}
    ds = _nc(client.post("/result", json=graph), tmp_path)
    want = [it.datetime for it in items if it.properties["eo:cloud_cover"] < 30]
    got = [dt.datetime.fromisoformat(str(t)[:26]) for t in ds.t.values]
    assert [w.replace(tzinfo=None, microsecond=0) for w in want] == [
        g.replace(microsecond=0) for g in got
    ]


def test_projected_bbox_gives_its_pixels_exactly_or_covers_it(small) -> None:
    backend = Backend(demo_sources(small.catalog), chunk=32)

    def grid(w: float, s: float, crs: Any = 32758) -> tuple[int, int, float, float]:
        box = {"west": w, "south": s, "east": w + 100, "north": s + 100, "crs": crs}
        da = backend.load_collection(
            "SENTINEL2_L2A", spatial_extent=box, temporal_extent=["2022-01-01", "2022-01-10"],
            bands=["B04"], properties=None,
        )  # fmt: skip
        return da.sizes["y"], da.sizes["x"], float(da.x[0]), float(da.y[0])

    assert grid(550500, 7614500) == (10, 10, 550505.0, 7614595.0)  # 100 m: 10 × 10 pixels
    assert grid(550500, 7614500, "EPSG:32758") == (10, 10, 550505.0, 7614595.0)
    assert grid(550503, 7614507) == (11, 11, 550505.0, 7614605.0)  # off-grid: covered


def test_temporal_extent_excludes_its_end(small, items) -> None:
    backend = Backend(demo_sources(small.catalog), chunk=32)
    a, b = items[3].datetime.isoformat(), items[6].datetime.isoformat()
    da = backend.load_collection(
        "SENTINEL2_L2A",
        spatial_extent=BBOX,
        temporal_extent=[a, b],
        bands=["B04"],
        properties=None,
    )
    want = [np.datetime64(it.datetime.replace(tzinfo=None), "us") for it in items[3:6]]
    assert list(da.t.values.astype("datetime64[us]")) == want


def test_geojson_extent_is_nan_outside_its_polygon(small) -> None:
    from shapely.geometry import Point, shape

    backend = Backend(demo_sources(small.catalog), chunk=32)
    w, s, e, n = small.bbox
    tri = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [w, n], [w, s]]]}
    da = backend.load_collection(
        "SENTINEL2_L2A",
        spatial_extent=tri,
        temporal_extent=["2021-12-01", "2021-12-20"],
        bands=["red", "nir"],
        properties=None,
    )
    assert list(da.bands.values) == ["red", "nir"]
    assert list(da.common_name.values) == ["red", "nir"]
    from pyproj import Transformer

    to_ll = Transformer.from_crs(32758, 4326, always_xy=True)
    xx, yy = np.meshgrid(da.x.values, da.y.values)
    lon, lat = to_ll.transform(xx, yy)
    poly = shape(tri)
    inside = np.array(
        [
            [poly.contains(Point(a, b)) for a, b in zip(r1, r2, strict=True)]
            for r1, r2 in zip(lon, lat, strict=True)
        ]
    )
    assert 0.3 < inside.mean() < 0.7
    values = da.isel(t=0).sel(bands="red").values
    assert np.isnan(values[~inside]).all()
    assert np.isfinite(values[inside]).mean() > 0.5  # inside: data (scene nodata edges aside)


# --------------------------------------------------------------------------- formats


def test_gtiff_result_is_one_georeferenced_file_per_date(client, items) -> None:
    one = items[10].datetime
    span = [one.isoformat(), (one + dt.timedelta(seconds=1)).isoformat()]
    graph = _graph(_load(temporal_extent=span, bands=["B04", "SCL"]), "GTiff", compress="LZW")
    resp = client.post("/result", json=graph)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("image/tiff")
    assert f"openEO_{one:%Y-%m-%d}Z.tif" in resp.headers["content-disposition"]
    with rasterio.MemoryFile(resp.content) as mem, mem.open() as tif:
        assert tif.crs.to_epsg() == 32758 and tif.count == 2
        assert tif.profile["compress"] == "lzw" and tif.profile["tiled"]
        assert tif.descriptions == ("B04", "SCL")
        assert (tif.transform.c, tif.transform.f) == (BBOX["west"], BBOX["north"])
        np.testing.assert_array_equal(tif.read(1), _delivered(items[10], "red"))
    several = _graph(_load(temporal_extent=["2022-01-01", "2022-02-01"], bands=["B04"]), "gtiff")
    body = _error(client.post("/result", json=several), 400, "FormatUnsuitable")
    assert "batch job" in body["message"]
    opts = _graph(_load(temporal_extent=span, bands=["B04"]), "GTiff", quality=3)
    body = _error(client.post("/result", json=opts), 400, "ProcessParameterInvalid")
    assert "quality" in body["message"] and "compress" in body["message"]


def test_a_graph_without_save_result_answers_json_for_values(client) -> None:
    graph = {
        "process": {
            "process_graph": {
                "s": {"process_id": "add", "arguments": {"x": 2, "y": 3}, "result": True}
            }
        }
    }
    resp = client.post("/result", json=graph)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    assert json.loads(resp.content) == 5


def test_download_needs_the_signed_secret(client) -> None:
    _error(client.get("/download/abc/def/openEO.nc"), 404, "FileNotFound")
    with pytest.raises(OpenEOError):
        client.app.state.store.asset("../etc", "x", "passwd")


def test_collections_file_is_checked_whole(tmp_path: Path) -> None:
    from vegcube.errors import InputError
    from vegcube.serve.collections import read_sources

    good = tmp_path / "ok.yaml"
    (tmp_path / "arch").mkdir()
    good.write_text(
        "S2: {catalog: arch/catalog.json, collection: sentinel-2-l2a, resolution: 20}\n"
        "L8: {catalog: https://example.test/stac, collection: landsat-c2-l2}\n"
    )
    found = read_sources(good)
    assert found["S2"].catalog == str(tmp_path / "arch" / "catalog.json")
    assert found["S2"].resolution == 20 and found["L8"].sensor == "landsat"
    bad = tmp_path / "bad.yaml"
    bad.write_text("A: {catalog: x}\nB: {catalog: y, collection: sentinel-2-l2a, colour: red}\n")
    with pytest.raises(InputError) as err:
        read_sources(bad)
    assert "A: missing collection" in str(err.value) and "B: unknown key(s) colour" in str(
        err.value
    )


# --------------------------------------------------------------------------- the command


def test_serve_command_checks_its_options_before_serving(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from vegcube.cli import app

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["serve", "--state", str(tmp_path), *args])

    res = run("--basic-auth", "nocolon")
    assert res.exit_code == 2 and "--basic-auth: expected USER:PASS" in res.output
    res = run("--demo", "--collections", str(tmp_path / "c.yaml"))
    assert res.exit_code == 2 and "give one of them" in res.output
    res = run("--collections", str(tmp_path / "missing.yaml"))
    assert res.exit_code == 2 and "missing.yaml" in res.output
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # the `serve` extra is not installed
    res = run()
    assert res.exit_code == 1 and "pip install 'vegcube[serve]'" in res.output


def test_netcdf_layout_is_the_one_openeo_readers_expect(tmp_path: Path) -> None:
    """A variable per band (a single band too), `var` for a cube without bands, the CRS as a
    grid-mapping variable: `open_dataset(...).to_dataarray()` gives the cube's dimensions back
    and text labels (renamed times) survive."""
    from vegcube.serve.formats import write_result
    from vegcube.serve.processes import SaveResult

    cube = xr.DataArray(
        np.arange(2 * 3 * 4, dtype="float32").reshape(1, 2, 3, 4),
        dims=("t", "bands", "y", "x"),
        coords={"t": [np.datetime64("2022-06-01")], "bands": ["B04", "B08"],
                "y": [5151915.0, 5151905.0, 5151895.0], "x": [679725.0, 679735.0, 679745.0,
                                                              679755.0]},
    ).rio.write_crs(32632)  # fmt: skip
    one = cube.sel(bands=["B04"])
    flat = cube.isel(bands=0, drop=True).assign_coords(t=["first_date"])
    for name, da in (("one", one), ("flat", flat)):
        (w,) = write_result(SaveResult(da, "netCDF", {"filename_prefix": name}), tmp_path)
        with pytest.raises(ValueError):  # not a single DataArray: the bands are the data
            xr.open_dataarray(w.path)
        with xr.open_dataset(w.path, decode_coords="all") as ds:
            assert ds.rio.crs.to_epsg() == 32632
            if name == "one":
                assert list(ds.data_vars) == ["B04"]
                back = ds.to_dataarray(dim="bands")
                assert back.dims == ("bands", "t", "y", "x") and back.shape == (1, 1, 3, 4)
                np.testing.assert_array_equal(back.values[0], one.values[:, 0])
            else:
                assert list(ds.data_vars) == ["var"] and ds["var"].dims == ("t", "y", "x")
                assert ds["t"].values.tolist() == ["first_date"]
