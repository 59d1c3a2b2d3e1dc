"""`vegcube download` of VIIRS HDF5 granules over 127.0.0.1: a CMR-STAC-shaped STAC API, a
granule server demanding an Earthdata bearer token, conversion to COGs, then the chain on the
mirror. Expected values are read from the HDF5 files with h5py."""

from __future__ import annotations

import json

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr
import yaml
from pyproj import Transformer
from typer.testing import CliRunner

import vegcube
from helpers import FAST
from vegcube import cube, sensors
from vegcube.cli import app
from vegcube.download import TOKEN_ENV, download
from vegcube.download.hdf5 import tile_grid
from vegcube.errors import SourceError
from vegcube.sensors.modis import SINUSOIDAL_PROJ4
from vegcube.testing.viirs import generate_viirs_archive, serve_viirs

h5py = pytest.importorskip("h5py")

COLL = "VJ113A1_002"
NDVI, QA = "500_m_16_days_NDVI", "500_m_16_days_VI_Quality"
FIELDS = "HDFEOS/GRIDS/VIIRS_Grid_16Day_VI_500m/Data Fields"
PIXEL = 20015109.354 / 18 / 2400


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return generate_viirs_archive(tmp_path_factory.mktemp("viirs"), end="2022-01-31", lst=True)


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def recipe(archive, catalog: str, out) -> dict:
    return {
        "name": "viirs-ndvi",
        "aoi": {"bbox": list(archive.bbox)},
        "time": {"start": "2022-01-01", "end": "2022-01-31"},
        "source": {"catalog": catalog, "collection": COLL},
        "grid": {"crs": SINUSOIDAL_PROJ4, "resolution": PIXEL},  # the tile's own grid
        "indices": ["ndvi"],
        "composite": {"period": "dekad", "reducer": "median"},
        "output": {"dir": str(out), "formats": ["zarr"]},
    }


def stored(archive, gid: str, name: str) -> np.ndarray:
    with h5py.File(archive.h5(gid), "r") as f:
        return f[f"{FIELDS}/{name}"][()]


def cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def test_download_needs_the_token_then_mirrors_converted_cogs(archive, tmp_path, monkeypatch):
    with serve_viirs(archive) as served:
        r = recipe(archive, served.url, tmp_path / "out")
        with pytest.raises(SourceError, match=f"HTTP 401.*set {TOKEN_ENV}"):
            download(r, to=tmp_path / "denied", **FAST)
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(r))
        res = cli("download", str(tmp_path / "r.yaml"), "--to", str(tmp_path / "d2"), "-q")
        assert res.exit_code == 2, res.stderr  # a refused credential is bad input
        assert "401" in res.stderr and TOKEN_ENV in res.stderr
        assert not any(q.authorized for q in served.files.requests)

        monkeypatch.setenv(TOKEN_ENV, served.token)
        mirror = download(r, to=tmp_path / "m", **FAST)
        assert {f.mode for f in mirror.files} == {"hdf5"} and len(mirror.files) == 4
        fetched = [q for q in served.files.requests if q.method == "GET" and q.status == 200]
        assert fetched and all(q.authorized for q in fetched)
        seen = len(served.files.requests)
        again = download(r, to=tmp_path / "m", **FAST)  # complete COGs: nothing fetched
        assert {f.mode for f in again.files} == {"skipped"}
        assert len(served.files.requests) == seen

    assert not list((tmp_path / "m").rglob("*.h5"))  # granules removed once converted
    cat = pystac.Catalog.from_file(str(tmp_path / "m" / "catalog.json"))
    items = sorted(cat.get_items(recursive=True), key=lambda it: it.id)
    assert [it.id for it in items] == list(archive.ids)
    full = tile_grid(*archive.tile, 2400)
    for item in items:
        assert item.collection_id == COLL and item.properties.get("proj:epsg") is None
        assert "Sinusoidal" in item.properties["proj:wkt2"]
        assert item.properties["proj:transform"] == pytest.approx(list(full)[:6])
        assert set(item.assets) == {NDVI, QA}
        rb = item.assets[NDVI].extra_fields["raster:bands"][0]
        assert (rb["scale"], rb["nodata"], rb["data_type"]) == (1e-4, -32768, "int16")
        with rasterio.open(item.assets[NDVI].get_absolute_href()) as ds:
            got, tr = ds.read(1), ds.transform
        col0, row0 = (round(v) for v in ~full * (tr.c, tr.f))
        assert tr.almost_equals(full * full.translation(col0, row0), precision=1e-6)
        want = stored(archive, item.id, "500 m 16 days NDVI")[
            row0 : row0 + got.shape[0], col0 : col0 + got.shape[1]
        ]
        np.testing.assert_array_equal(got, np.where(want <= -13000, -32768, want))
        r0, c0, size = archive.window  # the clip holds the modelled pixels and the margin
        assert row0 <= r0 and col0 <= c0 and got.shape[0] >= size


def test_chain_on_the_mirror_gives_the_granules_ndvi(archive, tmp_path, monkeypatch):
    with serve_viirs(archive) as served:
        monkeypatch.setenv(TOKEN_ENV, served.token)
        r = recipe(archive, served.url, tmp_path / "out")
        download(r, to=tmp_path / "m", **FAST)
    r["source"]["catalog"] = str(tmp_path / "m" / "catalog.json")
    result = vegcube.run(r)
    comp = xr.open_zarr(result.outputs["composites"]).compute()
    dekads = ["2022-01-01", "2022-01-11"]  # the granules of 1 and 17 January
    assert [str(t)[:10] for t in comp.time.values] == [*dekads, "2022-01-21"]
    tr = tile_grid(*archive.tile, 2400)
    xx, yy = np.meshgrid(comp.x.values, comp.y.values)
    cols, rows = (np.floor(a).astype(int) for a in ~tr * (xx, yy))
    to_ll = Transformer.from_crs(SINUSOIDAL_PROJ4, 4326, always_xy=True)
    lon, lat = to_ll.transform(xx, yy)
    w, s, e, n = archive.bbox
    inside = (lon > w) & (lon < e) & (lat > s) & (lat < n)
    checked = 0
    for k, gid in enumerate(archive.ids):
        ndvi = stored(archive, gid, "500 m 16 days NDVI")[rows, cols]
        qa = stored(archive, gid, "500 m 16 days VI Quality")[rows, cols]
        good = (ndvi > -13000) & ((qa & 0b11) < 2) & inside
        got = comp.ndvi.sel(time=dekads[k]).values
        np.testing.assert_allclose(got[good], ndvi[good] * 1e-4, rtol=0, atol=1e-6)
        assert np.isnan(got[(ndvi <= -13000) | ((qa & 0b11) == 2)]).all()  # fill, cloud
        checked += int(good.sum())
    assert checked >= 20
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert sorted(run["items"]) == sorted(archive.ids)


def test_lst_granules_are_mirrored_with_the_recipe_and_read_in_kelvin(
    archive, tmp_path, monkeypatch
):
    """``lst: {collection: VJ121A2_002, band: lst_night}``: the night LST and its own QC
    (QC_Night) are fetched, converted on the 1 km grid (926.6 m) and read as DN × 0.02 K."""
    lst = archive.lst
    assert lst is not None
    with serve_viirs(archive) as served:
        monkeypatch.setenv(TOKEN_ENV, served.token)
        r = recipe(archive, served.url, tmp_path / "out")
        r["lst"] = {"collection": lst.collection, "band": "lst_night"}
        download(r, to=tmp_path / "m", **FAST)
    cat = pystac.Catalog.from_file(str(tmp_path / "m" / "catalog.json"))
    items = [it for it in cat.get_items(recursive=True) if it.collection_id == lst.collection]
    assert sorted(it.id for it in items) == sorted(lst.ids)  # 1, 9, 17 and 25 January
    assert all(set(it.assets) == {"LST_Night_1KM", "QC_Night"} for it in items)
    rb = items[0].assets["LST_Night_1KM"].extra_fields["raster:bands"][0]
    assert (rb["scale"], rb["nodata"], rb["data_type"], rb["unit"]) == (0.02, 0, "uint16", "kelvin")
    full = tile_grid(*archive.tile, 1200)
    assert full.a == pytest.approx(926.6254330555556, abs=1e-9)
    r0, c0, size = lst.window
    grid = cube_grid(full, r0, c0, size)
    items.sort(key=lambda it: it.id)
    ds = cube.load(items, ["lst_night", "qc_night"], grid=grid, collection=lst.collection,
                   chunk=None)  # fmt: skip
    assert sensors.for_collection(lst.collection).qa_for("lst_night") == "qc_night"
    for k, item in enumerate(items):
        with h5py.File(archive.h5(item.id), "r") as f:
            fields = f["HDFEOS/GRIDS/VIIRS_Grid_8Day_1km_LST21/Data Fields"]
            dn = fields["LST_Night_1KM"][r0 : r0 + size, c0 : c0 + size]
            qc = fields["QC_Night"][r0 : r0 + size, c0 : c0 + size]
        want = np.where(dn == 0, np.nan, dn * 0.02)
        np.testing.assert_allclose(ds.lst_night.values[k], want, rtol=0, atol=1e-3)
        np.testing.assert_array_equal(ds.qc_night.values[k], qc)
        assert np.isfinite(want).sum() >= 4 and (want[np.isfinite(want)] > 280).all()


def cube_grid(tr, r0: int, c0: int, size: int):
    """The GeoBox of a window of the tile grid `tr` (the mirror's own pixels)."""
    from odc.geo.geobox import GeoBox

    return GeoBox((size, size), tr * tr.translation(c0, r0), SINUSOIDAL_PROJ4)
