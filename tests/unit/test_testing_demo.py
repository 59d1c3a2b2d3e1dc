"""Tests of the Sentinel-2 L2A demo archive generator (vegcube.testing.demo)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from rio_cogeo import cog_validate
from scipy import ndimage

from helpers import in_bbox
from vegcube.testing.demo import DemoArchive, generate_archive
from vegcube.testing.world import LANDCOVER_CLASSES, build_model

SMALL = {"size": 60, "revisit_days": 10, "start": "2021-11-01", "end": "2022-03-31"}
REFLECTANCE = ["blue", "green", "red", "nir", "swir16", "swir22"]
PROPERTIES = [
    "datetime",
    "platform",
    "constellation",
    "instruments",
    "eo:cloud_cover",
    "proj:epsg",
    "proj:code",
    "mgrs:utm_zone",
    "mgrs:latitude_band",
    "mgrs:grid_square",
    "grid:code",
    "s2:processing_baseline",
    "s2:product_uri",
    "created",
    "updated",
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> DemoArchive:
    return generate_archive(tmp_path_factory.mktemp("demo") / "a", **SMALL)


@pytest.fixture(scope="module")
def items(archive: DemoArchive) -> list[pystac.Item]:
    cat = pystac.Catalog.from_file(str(archive.catalog))
    return sorted(cat.get_items(recursive=True), key=lambda i: i.datetime)


def read(item: pystac.Item, asset: str) -> np.ndarray:
    with rasterio.open(item.assets[asset].get_absolute_href()) as ds:
        return ds.read(1)


def decode(item: pystac.Item, asset: str) -> np.ndarray:
    """Reflectance by the processing-baseline rule (independent of raster:bands)."""
    offset = 1000 if item.properties["s2:processing_baseline"] >= "04.00" else 0
    return (read(item, asset).astype(float) - offset) / 10000


def up(a: np.ndarray) -> np.ndarray:
    return a.repeat(2, axis=0).repeat(2, axis=1)


def clear(item: pystac.Item) -> np.ndarray:
    """10 m mask of surface pixels at least 40 m away from any cloud, shadow or nodata."""
    scl = up(read(item, "scl"))
    bad = ndimage.binary_dilation(np.isin(scl, [0, 1, 3, 8, 9, 10]), iterations=4)
    return np.isin(scl, [4, 5, 6]) & ~bad


def test_archive_facts(archive: DemoArchive) -> None:
    assert archive.catalog == archive.path / "catalog.json"
    assert archive.collection == "sentinel-2-l2a" and archive.epsg == 32758
    assert archive.resolution == 10
    assert (archive.reference_start, archive.reference_end) == ("2019-01-01", "2022-12-31")
    assert date.fromisoformat(archive.drought_start).year == 2023
    assert archive.drought_start <= archive.drought_end
    w, s, e, n = archive.bbox
    assert 165.4 < w < e < 165.6 and -21.7 < s < n < -21.5
    dw, ds_, de, dn = archive.drought_bbox
    assert w < dw < de < e and s < ds_ < dn < n
    recipe = archive.recipe("out")
    assert recipe["aoi"] == {"bbox": list(archive.bbox)}
    assert recipe["source"]["catalog"] == str(archive.catalog)
    assert recipe["time"] == {"start": SMALL["start"], "end": SMALL["end"]}
    assert recipe["output"] == {"dir": "out", "formats": ["zarr", "cog"]}
    assert set(LANDCOVER_CLASSES.values()) == {"forest", "grassland", "cropland", "water", "bare"}


def test_items_shape(archive: DemoArchive, items: list[pystac.Item]) -> None:
    assert len(items) == 15
    platforms = {i.properties["platform"] for i in items}
    assert platforms == {"sentinel-2a", "sentinel-2b"}
    for item in items:
        raw = json.loads(Path(item.get_self_href()).read_text())["properties"]
        assert all(p in raw for p in PROPERTIES), item.id
        assert raw["proj:epsg"] == 32758 and raw["proj:code"] == "EPSG:32758"
        assert item.id.startswith(("S2A_58KEB_", "S2B_58KEB_")) and item.id.endswith("_0_L2A")
        assert item.collection_id == "sentinel-2-l2a"
        assert item.datetime.hour == 23  # ~10:30 local solar time of the next day
        assert set(item.assets) == {*REFLECTANCE, "scl"}
        assert item.properties["grid:code"] == "MGRS-58KEB"
        path = Path(item.get_self_href())
        assert path.parent.name == item.id and path.parent.parent.name == "sentinel-2-l2a"
        for name in REFLECTANCE:
            asset = item.assets[name]
            assert asset.roles == ["data", "reflectance"]
            assert asset.media_type == "image/tiff; application=geotiff; profile=cloud-optimized"
            assert asset.extra_fields["eo:bands"][0]["common_name"] == name
            assert Path(asset.get_absolute_href()).parent == path.parent
        assert item.assets["scl"].extra_fields["raster:bands"][0]["nodata"] == 0
        scl = read(item, "scl")
        cloud = np.isin(scl, [8, 9, 10]).sum() / max((scl > 0).sum(), 1) * 100
        assert abs(cloud - item.properties["eo:cloud_cover"]) < 1


def test_cogs(items: list[pystac.Item]) -> None:
    item = items[0]
    for name in [*REFLECTANCE, "scl"]:
        href = item.assets[name].get_absolute_href()
        valid, errors, _ = cog_validate(href)
        assert valid, errors
        with rasterio.open(href) as ds:
            assert ds.crs.to_epsg() == 32758 and ds.nodata == 0
            side = 60 if name in ("blue", "green", "red", "nir") else 30
            assert ds.shape == (side, side)
            assert list(ds.shape) == item.assets[name].extra_fields["proj:shape"]
            assert ds.dtypes[0] == ("uint8" if name == "scl" else "uint16")
            assert ds.profile["tiled"] and ds.compression.name == "deflate"


def test_processing_baseline_switch(archive: DemoArchive, items: list[pystac.Item]) -> None:
    before = [i for i in items if i.datetime.date() < date(2022, 1, 25)]
    after = [i for i in items if i.datetime.date() >= date(2022, 1, 25)]
    assert before and after
    for group, offset in ((before, 0.0), (after, -0.1)):
        for item in group:
            bands = item.assets["red"].extra_fields["raster:bands"][0]
            assert bands["offset"] == offset and bands["scale"] == 0.0001
    assert all(i.properties["s2:processing_baseline"] < "04.00" for i in before)
    assert all(i.properties["s2:processing_baseline"] >= "04.00" for i in after)

    model = build_model(42, 60)  # the noise-free reflectance model
    forest = rasterio.open(archive.landcover).read(1) == 1
    for item in [min(g, key=lambda i: i.properties["eo:cloud_cover"]) for g in (before, after)]:
        mask = clear(item) & forest
        assert mask.sum() > 50, item.id
        expected = model.surface(item.datetime + timedelta(hours=11))[0][2][mask]
        diff = np.abs(decode(item, "red")[mask] - expected)
        assert np.median(diff) < 0.005 and np.quantile(diff, 0.99) < 0.02
        raw = read(item, "red")[mask] / 10000  # DN / 10000 is right only before the switch
        assert np.median(np.abs(raw - expected)) == pytest.approx(
            0.1 if item in after else 0.0, abs=0.005
        )


def test_raster_bands_false(tmp_path: Path) -> None:
    arch = generate_archive(tmp_path, raster_bands=False, **{**SMALL, "end": "2021-11-30"})
    for item in pystac.Catalog.from_file(str(arch.catalog)).get_items(recursive=True):
        assert all("raster:bands" not in item.assets[n].extra_fields for n in REFLECTANCE)
        assert item.assets["scl"].extra_fields["raster:bands"][0]["nodata"] == 0


def test_determinism(tmp_path: Path, archive: DemoArchive, items: list[pystac.Item]) -> None:
    again = generate_archive(tmp_path / "same", **SMALL)
    other = generate_archive(tmp_path / "other", seed=7, **SMALL)
    item = items[3]
    rel = Path(item.assets["nir"].get_absolute_href()).relative_to(archive.path)
    json_rel = Path(item.get_self_href()).relative_to(archive.path)
    assert (again.path / rel).read_bytes() == (archive.path / rel).read_bytes()
    assert (again.path / json_rel).read_text() == (archive.path / json_rel).read_text()
    assert (again.path / "landcover.tif").read_bytes() == archive.landcover.read_bytes()
    assert (other.path / rel).read_bytes() != (archive.path / rel).read_bytes()
    assert again.bbox == archive.bbox


def test_clouds_shadows_nodata(items: list[pystac.Item]) -> None:
    bright, shadow_ratio, edges = [], [], 0
    for item in items:
        scl = read(item, "scl")
        nir, red = decode(item, "nir"), decode(item, "red")
        s10 = up(scl)
        cloud = np.isin(s10, [8, 9])
        if cloud.sum() > 20:
            bright.append(np.median(red[cloud]))
            ndvi = (nir[cloud] - red[cloud]) / (nir[cloud] + red[cloud])
            assert abs(np.median(ndvi)) < 0.05
        surface = np.isin(s10, [4, 5])
        if (s10 == 3).sum() > 20:
            shadow_ratio.append(np.median(nir[s10 == 3]) / np.median(nir[surface]))
        nodata = scl == 0
        if nodata.any():
            edges += 1
            frac = nodata.mean()
            assert 0.05 < frac < 0.45
            for name in REFLECTANCE:
                dn = read(item, name)
                mask = nodata if dn.shape == scl.shape else up(nodata)
                assert np.array_equal(dn == 0, mask), (item.id, name)
    assert bright and all(0.3 <= b <= 0.7 for b in bright)
    assert shadow_ratio and np.median(shadow_ratio) < 0.6
    assert edges >= 1
    assert any(i.properties["eo:cloud_cover"] < 1 for i in items)


def test_landcover_and_regions(archive: DemoArchive) -> None:
    with rasterio.open(archive.landcover) as ds:
        lc = ds.read(1)
        assert ds.crs.to_epsg() == 32758 and ds.res == (10.0, 10.0)
    aoi = in_bbox(archive.landcover, archive.bbox)
    drought = in_bbox(archive.landcover, archive.drought_bbox)
    assert 0.15 < drought.mean() < 0.25
    for code in LANDCOVER_CLASSES:
        assert (lc[aoi] == code).mean() >= 0.08, LANDCOVER_CLASSES[code]
    regions = json.loads(archive.regions.read_text())
    features = regions["features"]
    assert len(features) == 4 and sum(f["properties"]["drought"] for f in features) == 1
    assert len({f["properties"]["name"] for f in features}) == 4


def test_drought(tmp_path: Path) -> None:
    march = {"size": 60, "revisit_days": 5}
    years = {
        y: generate_archive(tmp_path / str(y), start=f"{y}-03-01", end=f"{y}-03-31", **march)
        for y in (2021, 2023)
    }
    lc = rasterio.open(years[2021].landcover).read(1)
    drought = in_bbox(years[2021].landcover, years[2021].drought_bbox)
    aoi = in_bbox(years[2021].landcover, years[2021].bbox)
    ndvi = {}
    for y, arch in years.items():
        cat = pystac.Catalog.from_file(str(arch.catalog))
        item = min(cat.get_items(recursive=True), key=lambda i: i.properties["eo:cloud_cover"])
        red, nir = decode(item, "red"), decode(item, "nir")
        with np.errstate(invalid="ignore", divide="ignore"):
            ndvi[y] = np.where(clear(item), (nir - red) / (nir + red), np.nan)
    for code in (2, 3):
        inside, outside = drought & (lc == code), aoi & ~drought & (lc == code)
        assert np.nanmedian(ndvi[2021][inside]) - np.nanmedian(ndvi[2023][inside]) > 0.2
        assert abs(np.nanmedian(ndvi[2021][outside]) - np.nanmedian(ndvi[2023][outside])) < 0.08


def test_manifest_reuse(tmp_path: Path) -> None:
    kw = {**SMALL, "end": "2021-11-30"}
    first = generate_archive(tmp_path, **kw)
    manifest = json.loads((tmp_path / "demo-archive.json").read_text())
    assert manifest["params"]["size"] == 60
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    mtimes = [p.stat().st_mtime_ns for p in files]
    second = generate_archive(tmp_path, **kw)
    assert second == first
    assert [p.stat().st_mtime_ns for p in files] == mtimes
    third = generate_archive(tmp_path, **{**kw, "seed": 1})  # other parameters: regenerated
    assert third.seed == 1
    assert (tmp_path / "demo-archive.json").stat().st_mtime_ns != mtimes[
        files.index(tmp_path / "demo-archive.json")
    ]


def test_site_openeo_test_suite(tmp_path: Path) -> None:
    """The same world on the openeo-test-suite's area: its UTM zone, its tile, one scene on
    2022-06-01 (the suite's one-day interval) and the suite's bounding boxes covered."""
    arch = generate_archive(
        tmp_path, size=200, start="2022-05-27", end="2022-07-05", site="openeo-test-suite"
    )
    items = sorted(
        pystac.Catalog.from_file(str(arch.catalog)).get_items(recursive=True),
        key=lambda i: i.datetime,
    )
    assert arch.epsg == 32632
    assert [i.datetime.date() for i in items if i.datetime.date() < date(2022, 6, 3)] == [
        date(2022, 5, 27), date(2022, 6, 1),
    ]  # fmt: skip
    it = items[1]
    assert it.id in ("S2A_32TPS_20220601_0_L2A", "S2B_32TPS_20220601_0_L2A")
    assert it.properties["grid:code"] == "MGRS-32TPS"
    assert it.properties["proj:code"] == "EPSG:32632"
    assert "_T32TPS_" in it.properties["s2:product_uri"]
    assert 9 <= it.datetime.hour <= 11  # a European morning overpass
    with rasterio.open(it.assets["red"].get_absolute_href()) as ds:
        assert ds.crs.to_epsg() == 32632
        b = ds.bounds  # the suite's bounding_box_32632, in whole pixels
        assert b.left <= 679720 and b.right >= 680680 and b.bottom <= 5151080 and b.top >= 5151920
        assert (679720 - b.left) % 10 == 0 and (b.top - 5151920) % 10 == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"size": 61},
        {"size": 20},
        {"revisit_days": 0},
        {"start": "2022-01-01", "end": "2021-01-01"},
        {"site": "nowhere"},
    ],
)
def test_bad_arguments(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(ValueError):
        generate_archive(tmp_path, **{**SMALL, **bad})
