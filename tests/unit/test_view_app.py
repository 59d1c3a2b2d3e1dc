"""`vegcube view`'s server: tiles coloured as the legend says (checked against the COG and Zarr
values read with rasterio/xarray and the colour maps named here), series equal to the outputs,
errors as JSON naming what was wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from typer.testing import CliRunner

pytest.importorskip("fastapi", reason="the 'serve' extra (FastAPI) is not installed")
pytest.importorskip("rio_tiler", reason="the 'serve' extra (rio-tiler) is not installed")

from fastapi.testclient import TestClient
from rio_tiler.colormap import cmap

from vegcube.report import CLASS_COLOURS, NODATA_COLOUR
from vegcube.view.app import ViewConfig, create_app

DAY = "2023-03-01"  # in the demo's drought
#: variable → (rio-tiler colour map, min, max) the legend promises (None: drought classes)
EXPECTED = {"ndvi_drought_class": None, "ndvi_vci": ("rdylgn", 0, 100),
            "ndvi_anomaly": ("brbg", -0.3, 0.3), "ndvi_zscore": ("brbg", -3, 3),
            "ndvi": ("rdylgn", -0.2, 1.0)}  # fmt: skip


@pytest.fixture(scope="module")
def view_run(tmp_path_factory) -> Path:
    """A small demo run (40 × 40 pixels, 2020–2023, NDVI): Zarr stores, COGs, zonal table;
    made once per test session (the unit and browser tests of the viewer share it)."""
    import vegcube
    from vegcube.testing import generate_archive

    base = tmp_path_factory.getbasetemp() / "view-run"
    out = base / "out"
    if (out / "run.json").exists() and json.loads((out / "run.json").read_text())[
        "status"
    ] == "done":
        return out
    archive = generate_archive(base / "archive", size=40, start="2020-01-01", end="2023-12-31",
                               revisit_days=10)  # fmt: skip
    rc = archive.demo_recipe(out)
    rc.pop("alerts")
    rc["indices"] = ["ndvi"]
    rc["output"].update(formats=["zarr", "cog"], report=False)
    vegcube.run(rc)
    return out


@pytest.fixture(scope="module")
def client(view_run):
    return TestClient(create_app(ViewConfig(out=view_run)))


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def _expected(var: str, v: float) -> tuple[int, int, int]:
    """The colour of value `v` of `var`, from the colour map itself."""
    spec = EXPECTED.get(var, ("viridis", 0, 10))
    if spec is None:
        return _rgb(CLASS_COLOURS[int(v)][1]) if np.isfinite(v) and v != -1 else _rgb(NODATA_COLOUR)
    if not np.isfinite(v):
        return _rgb(NODATA_COLOUR)
    name, lo, hi = spec
    i = int(np.clip(np.floor((v - lo) / (hi - lo) * 256), 0, 255))
    return tuple(cmap.get(name)[i][:3])  # type: ignore[return-value]


def _tile_of(path):
    """A zoom-17 tile over the middle of the raster at `path`."""
    import morecantile

    with rasterio.open(path) as src:
        west, south, east, north = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    return morecantile.tms.get("WebMercatorQuad").tile((west + east) / 2, (south + north) / 2, 17)


def _check_tile(png: bytes, tile, crs, transform, sample, var: str) -> int:
    """Compare each tile pixel (away from source-pixel edges) with the colour of the source
    value under its centre; returns how many pixels were compared."""
    import morecantile
    from pyproj import Transformer

    with rasterio.io.MemoryFile(png) as mem, mem.open() as img:
        rgba = img.read()
    tms = morecantile.tms.get("WebMercatorQuad")
    b = tms.xy_bounds(tile)
    step = (b.right - b.left) / 256
    cols, rows = np.meshgrid(np.arange(256), np.arange(256))
    mx, my = b.left + (cols + 0.5) * step, b.top - (rows + 0.5) * step
    x, y = Transformer.from_crs("EPSG:3857", crs, always_xy=True).transform(mx, my)
    fc, fr = ~transform * (x, y)
    inside = (fc >= 0) & (fr >= 0) & (fc < sample.shape[1]) & (fr < sample.shape[0])
    assert (rgba[3][~inside] == 0).all(), "outside the raster, tiles are transparent"
    away = inside & (np.abs(fc % 1 - 0.5) < 0.4) & (np.abs(fr % 1 - 0.5) < 0.4)
    n = 0
    for r, c in zip(*np.nonzero(away), strict=True):
        v = float(sample[int(fr[r, c]), int(fc[r, c])])
        assert tuple(rgba[:3, r, c]) == _expected(var, v), (r, c, v)
        assert rgba[3, r, c] == 255
        n += 1
    return n


def _cog(view_run, var):
    """The COG of `var` on `DAY`, or on the first date it has mostly values (composites)."""
    paths = [view_run / "cog" / var / f"{DAY}.tif", *sorted((view_run / "cog" / var).glob("*"))]
    for path in paths:
        with rasterio.open(path) as src:
            values = src.read(1, masked=True).astype("float64").filled(np.nan)
        if np.isfinite(values).mean() > 0.5 and len(np.unique(values)) > 1:
            return path
    raise AssertionError(f"no COG of {var} with values")


@pytest.mark.parametrize("var", list(EXPECTED))
def test_tile_colours_are_the_colour_map_of_the_cog_values(client, view_run, var):
    path = _cog(view_run, var)
    day = path.stem
    tile = _tile_of(path)
    r = client.get(f"/tiles/{var}/{day}/{tile.z}/{tile.x}/{tile.y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    with rasterio.open(path) as src:
        values = src.read(1).astype("float64")
        if src.nodata is not None and not np.isnan(src.nodata):
            values[values == src.nodata] = np.nan
        n = _check_tile(r.content, tile, src.crs, src.transform, values, var)
    assert n > 1000
    with rasterio.io.MemoryFile(r.content) as mem, mem.open() as img:
        colours = {tuple(p) for p in img.read().reshape(4, -1).T if p[3]}
    assert len(colours) >= 2, "the tile is not blank"


def test_variables_without_cogs_are_read_from_zarr(client, view_run):
    ds = xr.open_zarr(view_run / "composites.zarr")
    days = [f"{t:%Y-%m-%d}" for t in pd.DatetimeIndex(ds.time.values)]
    values = ds["ndvi_count"].isel(time=days.index(DAY)).values.astype("float64")
    ref = next((view_run / "cog" / "ndvi").glob("*.tif"))
    tile = _tile_of(ref)
    r = client.get(f"/tiles/ndvi_count/{DAY}/{tile.z}/{tile.x}/{tile.y}.png")
    assert r.status_code == 200
    with rasterio.open(ref) as src:
        assert _check_tile(r.content, tile, src.crs, src.transform, values, "ndvi_count") > 1000


def test_provisional_tiles_are_revalidated(client, view_run):
    periods = client.get("/api/run").json()["periods"]
    last, before = periods[-1]["time"], periods[-2]["time"]
    tile = _tile_of(view_run / "cog" / "ndvi_vci" / f"{last}.tif")
    for day, cache in ((last, "no-cache"), (before, "max-age=3600")):
        r = client.get(f"/tiles/ndvi_vci/{day}/{tile.z}/{tile.x}/{tile.y}.png")
        assert cache in r.headers["cache-control"]


def test_a_tile_away_from_the_area_is_transparent(client):
    r = client.get(f"/tiles/ndvi_vci/{DAY}/10/0/0.png")
    assert r.status_code == 200
    with rasterio.io.MemoryFile(r.content) as mem, mem.open() as img:
        assert (img.read(4) == 0).all()


def test_run_metadata(client, view_run):
    meta = client.get("/api/run").json()
    ind = xr.open_zarr(view_run / "indicators.zarr")
    assert [p["time"] for p in meta["periods"]] == [
        f"{t:%Y-%m-%d}" for t in pd.DatetimeIndex(ind.time.values)
    ]
    assert [p["provisional"] for p in meta["periods"]] == list(ind["provisional"].values)
    assert meta["periods"][-1]["provisional"]
    layers = {la["name"]: la for la in meta["layers"]}
    assert layers["ndvi_vci"]["cog"] and DAY in layers["ndvi_vci"]["dates"]
    assert not layers["ndvi_count"]["cog"]
    legend = layers["ndvi_drought_class"]["legend"]
    entries = {e["label"]: e["colour"] for e in legend["entries"]}
    assert entries["not monitorable"] == CLASS_COLOURS[-2][1]
    assert entries["no data"] == NODATA_COLOUR and entries["extreme"] == CLASS_COLOURS[4][1]
    assert layers["ndvi_zscore"]["legend"]["min"] == -3
    assert meta["default_layer"] == "ndvi_drought_class"
    west, south, east, north = meta["bounds"]
    assert west < east and south < north


def test_region_series_are_the_zonal_rows(client, view_run):
    zonal = pd.read_parquet(view_run / "zonal.parquet")
    region = sorted(zonal["region"].unique())[0]
    s = client.get("/api/series/region", params={"region": region, "index": "ndvi"}).json()
    rows = zonal[(zonal["region"] == region) & (zonal["variable"] == "ndvi")]
    rows = rows.assign(time=pd.to_datetime(rows["time"])).sort_values("time")
    assert s["time"] == [f"{t:%Y-%m-%d}" for t in rows["time"]]
    np.testing.assert_allclose(np.array(s["mean"], float), rows["mean"], equal_nan=True)
    np.testing.assert_allclose(np.array(s["valid_fraction"], float), rows["valid_fraction"])
    kept = rows["mean"].where(rows["valid_fraction"] >= 0.5)
    np.testing.assert_allclose(np.array(s["value"], float), kept, equal_nan=True)
    lo, hi = np.array(s["ref_min"], float), np.array(s["ref_max"], float)
    assert np.nanmin(hi - lo) >= 0 and np.isfinite(lo).sum() > len(lo) / 2
    assert s["provisional"][-1] and not s["provisional"][0]
    features = client.get("/api/regions").json()["features"]
    assert sorted(f["id"] for f in features) == sorted(zonal["region"].unique())


def test_pixel_series_are_the_zarr_values(client, view_run):
    from pyproj import Transformer

    comp = xr.open_zarr(view_run / "composites.zarr")
    filled = xr.open_zarr(view_run / "gapfilled.zarr")
    ref = xr.open_zarr(view_run / "reference.zarr")
    row, col = 11, 23
    x, y = float(comp.x[col]), float(comp.y[row])
    to_wgs84 = Transformer.from_crs(comp.spatial_ref.attrs["crs_wkt"], "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(x, y)
    s = client.get("/api/series/pixel", params={"lon": lon, "lat": lat, "index": "ndvi"}).json()
    assert (s["row"], s["col"]) == (row, col)
    for key, values in (("composite", comp.ndvi), ("filled", filled.ndvi)):
        want = values[:, row, col].values
        np.testing.assert_allclose(np.array(s[key], float), want, equal_nan=True)
    poy = comp.period_of_year.values
    want = ref.ndvi_mean[:, row, col].sel(period_of_year=poy).values
    np.testing.assert_allclose(np.array(s["ref_mean"], float), want, equal_nan=True)
    assert len(s["time"]) == comp.sizes["time"]


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        (f"/tiles/nope/{DAY}/15/0/0.png", 404, ["'nope'", "ndvi_vci"]),
        ("/tiles/ndvi_vci/1999-01-01/15/0/0.png", 404, ["1999-01-01", "2020-01-01"]),
        (f"/tiles/ndvi_vci/{DAY}/3/8/0.png", 400, ["3/8/0"]),
        (f"/tiles/ndvi_vci/{DAY}/3/x/0.png", 400, ["x:"]),
        ("/api/series/region?region=Atlantis&index=ndvi", 404, ["'Atlantis'", "Poe"]),
        ("/api/series/region?region=Poe&index=evi", 404, ["'evi'", "ndvi"]),
        ("/api/series/pixel?lon=10&lat=10&index=ndvi", 404, ["outside"]),
        ("/api/series/pixel?lon=500&lat=10&index=ndvi", 400, ["lon"]),
        ("/api/series/pixel?lat=10&index=ndvi", 400, ["lon"]),
        ("/nowhere", 404, ["no such page"]),
    ],
)
def test_errors_are_json_naming_what_was_wrong(client, url, status, words):
    r = client.get(url)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"code", "message"}
    for w in words:
        assert w in body["message"]


def test_the_page_and_its_libraries_are_served_locally(client):
    html = client.get("/").text
    assert "static/vendor/leaflet/leaflet.js" in html and "static/view.js" in html
    assert "://" not in html  # no CDN: every script and style comes from this server
    vendor = ("leaflet/leaflet.js", "leaflet/leaflet.css", "uplot/uPlot.iife.min.js")
    for path in ("static/view.js", "static/view.css", *(f"static/vendor/{v}" for v in vendor)):
        assert client.get(f"/{path}").status_code == 200, path
    assert "://" not in client.get("/static/view.js").text


def test_cli_refuses_a_folder_without_a_run(tmp_path):
    from vegcube.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["view", str(tmp_path)])
    assert r.exit_code == 2 and "run.json" in r.output
    (tmp_path / "run.json").write_text(json.dumps({"recipe": {"name": "x"}}))
    r = runner.invoke(app, ["view", str(tmp_path)])
    assert r.exit_code == 2 and "cog/" in r.output and "indicators.zarr" in r.output


def test_no_base_layer_unless_asked(client, view_run):
    assert client.get("/api/run").json()["basemap"] is None  # offline by default
    url = "https://tiles.example/{z}/{x}/{y}.png"
    online = TestClient(create_app(ViewConfig(out=view_run, basemap=url)))
    assert online.get("/api/run").json()["basemap"] == url
