"""Copernicus SWI: file names, the sensor, the 0.1° grid and the NetCDF → COG conversion from a
folder or a list (no server): values equal the NetCDF files' on the exact cells, fills and DN
above 200 become nodata, and the QA flags mask what they should."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr

from vegcube import indices, sensors
from vegcube.download import download
from vegcube.download.swi import file_grid, list_files
from vegcube.errors import BandError, DataError, RecipeError, SourceError
from vegcube.recipe import load_recipe
from vegcube.sensors.swi import QA, SWI, SWI_SHAPE, SWI_TRANSFORM, parse_name
from vegcube.testing.swi import generate_swi_archive, site_cell

netCDF4 = pytest.importorskip("netCDF4")
FAST = dict(backoff=0.02, poll=0.1, workers=2)


def recipe(a, catalog, *, start="2023-01-01", end="2023-01-31", idx=("swi_010",)) -> dict:
    return {
        "name": "swi",
        "aoi": {"bbox": list(a.bbox)},
        "time": {"start": start, "end": end},
        "source": {"catalog": str(catalog), "collection": a.collection},
        "grid": {"crs": "EPSG:4326", "resolution": 0.1},
        "indices": list(idx),
        "composite": {"period": "dekad", "reducer": "mean"},
        "output": {"dir": "out", "formats": ["zarr"]},
    }


def dn(path, name, rows, cols) -> np.ndarray:
    with netCDF4.Dataset(path) as nc:
        v = nc[name]
        v.set_auto_maskandscale(False)
        return np.asarray(v[0, rows, cols])


def test_names_of_the_real_files_parse_and_others_do_not():
    # names seen in the VITO data pool (EVIDENCE-swi.md)
    f = parse_name("c_gls_SWI10_202103211200_GLOBE_ASCAT_V3.1.1.nc")
    assert (f.product, f.when, f.version) == (
        "SWI10",
        dt.datetime(2021, 3, 21, 12, tzinfo=dt.timezone.utc),
        (3, 1, 1),
    )
    assert f.collection == "copernicus-swi10"
    g = parse_name("c_gls_SWI_201511071200_GLOBE_ASCAT_V3.2.1.nc")
    assert g.product == "SWI" and g.collection == "copernicus-swi"
    assert g.item_id == "c_gls_SWI_201511071200_GLOBE_ASCAT"
    for other in (
        "c_gls_SWI1km_202108181200_CEURO_SCATSAR_V1.0.1.nc",  # Europe 1 km
        "c_gls_SWI10_QL_2016_AFRICA_ASCAT_V3.1.1.tif",
        "c_gls_SWI_20231301.nc",
    ):
        assert parse_name(other) is None


def test_sensor_grid_and_ready_made_indices():
    assert sensors.for_collection("copernicus-swi") is SWI
    assert sensors.for_collection("copernicus-swi10") is SWI
    assert SWI_SHAPE == (1800, 3600)  # CLMS metadata: 1800 rows × 3600 columns of 0.1°
    assert SWI_TRANSFORM * (0, 0) == (-180, 90) and SWI_TRANSFORM * (3600, 1800) == (180, -90)
    # the demo site (165.49 E, 21.57 S) is in row 1115 (21.5..21.6 S), col 3454 (165.4..165.5)
    assert site_cell() == (1115, 3454)
    spec = indices.resolve("swi_040")
    assert spec.bands == ("swi_040",) and "T=40" in spec.long_name
    assert indices.bands_for("copernicus-swi", ["swi_010", "swi_040"]) == ["swi_010", "swi_040", QA]
    assert SWI.scale_offset({}, "swi_010") == (0.5, 0.0)
    assert SWI.band_attrs["swi_100"]["units"] == "%"


def test_qflag_rule_and_the_recipe_key():
    q = xr.DataArray(np.array([[0, 19, 20, 49], [50, 99, 100, 200], [201, 252, 255, 180]],
                              np.uint8), dims=("y", "x"))  # fmt: skip
    bad, cloud = SWI.invalid(q)  # defaults: fill, below_25
    assert not cloud.any()
    assert bad.values.tolist() == [[True, True, True, True], [False, False, False, False],
                                   [True, True, True, False]]  # fmt: skip
    bad, _ = SWI.invalid(q, flags=["below_50"])  # < 50 % = DN < 100; fill never "below"
    assert bad.values.tolist()[1] == [True, True, False, False]
    assert not bad.values[2, :3].any()
    bad, _ = SWI.invalid(q.astype("float32").where(q != 255), flags=["fill"])  # NaN is fill
    assert bad.values[2].tolist() == [True, True, True, False]
    r = load_recipe({**recipe(_A, "x"), "mask": {"swi_qa": ["fill", "below_10"]}})
    assert r.mask.qa_flags["swi"] == ["fill", "below_10"]
    with pytest.raises(RecipeError, match=r"mask.swi_qa.*below_10, below_25"):
        load_recipe({**recipe(_A, "x"), "mask": {"swi_qa": ["cloudy"]}})


class _A:  # a stand-in archive for recipes that are only validated
    bbox, collection = (165.1, -21.8, 165.7, -21.2), "copernicus-swi"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return generate_swi_archive(tmp_path_factory.mktemp("swi"), end="2023-01-06")


def test_folder_to_cogs_equal_to_the_netcdf_cells(archive, tmp_path):
    m = download(recipe(archive, archive.path, end="2023-01-03", idx=("swi_010", "swi_040")),
                 to=tmp_path / "m", margin=2, **FAST)  # fmt: skip
    assert {f.mode for f in m.files} == {"netcdf"} and len(m.files) == 9
    items = sorted(pystac.Catalog.from_file(str(tmp_path / "m" / "catalog.json"))
                   .get_items(recursive=True), key=lambda it: it.id)  # fmt: skip
    assert [it.id for it in items] == [
        f"c_gls_SWI_202301{d:02d}1200_GLOBE_ASCAT" for d in (1, 2, 3)
    ]
    lon, lat = 165.49, -21.57  # the site: global row 1115, col 3454
    for item, path in zip(items, archive.files, strict=False):
        assert item.datetime == dt.datetime(
            2023, 1, int(item.id[16:18]), 12, tzinfo=dt.timezone.utc
        )
        assert item.properties["proj:code"] == "EPSG:4326"
        assert set(item.assets) == {"swi_010", "swi_040", QA}
        rb = item.assets["swi_010"].extra_fields["raster:bands"][0]
        assert (rb["data_type"], rb["nodata"], rb["scale"], rb["unit"]) == ("uint8", 255, 0.5, "%")
        with rasterio.open(item.assets["swi_010"].get_absolute_href()) as ds:
            got, tr = ds.read(1), ds.transform
            assert ds.crs.to_epsg() == 4326 and ds.nodata == 255
            r, c = ds.index(lon, lat)
        c0, r0 = (round(v) for v in ~SWI_TRANSFORM * (tr.c, tr.f))
        assert tr.almost_equals(SWI_TRANSFORM * SWI_TRANSFORM.translation(c0, r0))
        assert (r0 + r, c0 + c) == (1115, 3454)
        # the AOI's 6 cells and 2 of margin: 10 × 10 cells of the global grid
        assert got.shape == (10, 10) and (r0, c0) == (1110, 3449)
        rows, cols = slice(r0, r0 + got.shape[0]), slice(c0, c0 + got.shape[1])
        raw = dn(path, "SWI_010", rows, cols)
        np.testing.assert_array_equal(got, np.where(raw > 200, 255, raw))
        assert got[r, c] == raw[r, c] == dn(path, "SWI_010", 1115, 3454)
        assert (raw == 252).any() or (raw == 255).any()
        with rasterio.open(item.assets[QA].get_absolute_href()) as ds:
            qa = ds.read(1)
        q10, q40 = dn(path, "QFLAG_010", rows, cols), dn(path, "QFLAG_040", rows, cols)
        want = np.where((q10 > 200) | (q40 > 200), 255, np.minimum(q10, q40))
        np.testing.assert_array_equal(qa, want)
    again = download(recipe(archive, archive.path, end="2023-01-03", idx=("swi_010", "swi_040")),
                     to=tmp_path / "m", margin=2, **FAST)  # fmt: skip
    assert {f.mode for f in again.files} == {"skipped"}


def test_a_list_of_paths_and_the_newest_version(archive, tmp_path):
    import shutil

    old = archive.files[0].with_name(archive.files[0].name.replace("V3.2.1", "V3.1.1"))
    shutil.copy(archive.files[1], old)  # an older version of 2023-01-01 holding other values
    try:
        listing = tmp_path / "files.txt"
        listing.write_text(f"# SWI\n{old}\n\n{archive.files[0].name}  # relative\n")
        (tmp_path / archive.files[0].name).symlink_to(archive.files[0])
        found = list_files(str(listing))
        assert [f.version for f in found] == [(3, 1, 1), (3, 2, 1)]
        download(recipe(archive, listing, end="2023-01-01"), to=tmp_path / "m", **FAST)
        cog = next((tmp_path / "m").rglob("swi_010.tif"))
        with rasterio.open(cog) as ds:
            r, c = ds.index(165.49, -21.57)
            want = dn(archive.files[0], "SWI_010", 1115, 3454)
            assert ds.read(1)[r, c] == (255 if want > 200 else want)
    finally:
        old.unlink()


@pytest.mark.parametrize(
    ("catalog", "match"),
    [("missing-folder", "does not exist; give a folder of c_gls_SWI_"),
     ("https://example.org/swi.txt", "is a URL; for Copernicus SWI give"),
     ("cat.json", "is a STAC catalog"),
     ("bad.txt", "line 2: 'notes.nc' is not a global SWI version-3 file name"),
     ("gone.txt", "gone.txt line 1: .*c_gls_SWI_20230102.* does not exist")],
)  # fmt: skip
def test_bad_catalogs_name_the_field(catalog, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cat.json").write_text("{}")
    name = "c_gls_SWI_202301011200_GLOBE_ASCAT_V3.2.1.nc"
    (tmp_path / name).touch()
    (tmp_path / "bad.txt").write_text(f"{name}\nnotes.nc\n")
    (tmp_path / "gone.txt").write_text(name.replace("0101", "0102") + "\n")
    with pytest.raises(SourceError, match=match) as err:
        download(recipe(_A, catalog), to=tmp_path / "m", **FAST)
    assert err.value.field == "source.catalog"


def test_no_file_in_time_nor_a_swi_band(archive, tmp_path):
    with pytest.raises(SourceError, match=r"no SWI files .* dated 2024-01-01\.\.2024-01-31"):
        download(recipe(archive, archive.path, start="2024-01-01", end="2024-01-31"),
                 to=tmp_path / "m", **FAST)  # fmt: skip
    with pytest.raises(
        BandError,
        match="copernicus-swi has no nir, red band for indices ndvi; its indices: swi_001",
    ):
        download(recipe(archive, archive.path, idx=("ndvi",)), to=tmp_path / "m", **FAST)
    with pytest.raises(RecipeError, match=r"Copernicus SWI.*use one recipe each"):
        r = recipe(archive, archive.path)
        r["source"]["collection"] = ["copernicus-swi", "sentinel-2-l2a"]
        download(r, to=tmp_path / "m", **FAST)


def test_ten_daily_items_span_their_dekad(tmp_path):
    a = generate_swi_archive(tmp_path / "a", collection="copernicus-swi10", end="2023-01-31")
    assert [d.day for d in a.dates] == [1, 11, 21]
    download(recipe(a, a.path), to=tmp_path / "m", **FAST)
    items = sorted(pystac.Catalog.from_file(str(tmp_path / "m" / "catalog.json"))
                   .get_items(recursive=True), key=lambda it: it.id)  # fmt: skip
    assert [it.id[:18] for it in items] == ["c_gls_SWI10_202301"] * 3
    span = [(it.properties["start_datetime"], it.properties["end_datetime"]) for it in items]
    assert span == [
        ("2023-01-01T00:00:00Z", "2023-01-10T23:59:59Z"),
        ("2023-01-11T00:00:00Z", "2023-01-20T23:59:59Z"),
        ("2023-01-21T00:00:00Z", "2023-01-31T23:59:59Z"),
    ]


def test_grids_off_the_lattice_are_refused_and_south_up_files_read(tmp_path):
    def write(path, lat):
        with netCDF4.Dataset(path, "w") as nc:
            nc.createDimension("lat", lat.size)
            nc.createDimension("lon", 4)
            nc.createVariable("lat", "f8", ("lat",))[:] = lat
            nc.createVariable("lon", "f8", ("lon",))[:] = 10.05 + 0.1 * np.arange(4)
            v = nc.createVariable("SWI_010", "u1", ("lat", "lon"), fill_value=255)
            v.set_auto_maskandscale(False)
            v[:] = np.arange(lat.size * 4, dtype=np.uint8).reshape(lat.size, 4)

    write(tmp_path / "shifted.nc", 0.0 + 0.1 * np.arange(3))  # centres on the edges
    with pytest.raises(DataError, match=r"not on the 0.1° global grid"):
        file_grid(tmp_path / "shifted.nc")
    write(tmp_path / "south_up.nc", -0.25 + 0.1 * np.arange(3))  # −0.25, −0.15, −0.05
    tr, shape, north_up = file_grid(tmp_path / "south_up.nc")
    assert (tr.c, tr.f, shape, north_up) == (pytest.approx(10.0), pytest.approx(0.0), (3, 4), False)
    from vegcube.download.jobs import Job
    from vegcube.download.swi import convert

    item = pystac.Item("x", None, None, dt.datetime(2023, 1, 1), {})
    job = Job(item, "swi_010", "", tmp_path / "o.tif", True, False, None, None, None)
    convert(tmp_path / "south_up.nc", [job], bbox=None)
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert ds.read(1)[0].tolist() == [8, 9, 10, 11]  # the northernmost row (−0.05) first
