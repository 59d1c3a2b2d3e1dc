"""Sentinel-3 SLSTR LST swaths on the cube's grid (`vegcube.swath`, `sensors.slstr`): values at
the right cells (checked against a brute-force nearest-pixel search), fill and exceptions → NaN,
flags decoded by `mask.valid`, frames of one solar day fused, one dask task per day."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from odc.geo.geobox import GeoBox
from pyproj import Transformer

from vegcube import cube, mask, sensors, swath
from vegcube.errors import BandError, DataError, InputError
from vegcube.sensors.slstr import SLSTR
from vegcube.testing.slstr import product_item, write_product
from vegcube.testing.slstr import swath as swath_lonlat

COLL = "sentinel-3-slstr-lst-l2-netcdf"
EPSG = 32758
CENTRE = (550_000.0, 7_615_000.0)  # UTM 58S, near Bourail
SPACING = 80.0
WHEN = datetime(2023, 2, 14, 23, 5, tzinfo=timezone.utc)  # 10:05 local solar time
LAND, DAY, CLOUD, UNFILLED, COSMETIC = 8, 1024, 16384, 32, 256


def _grid(half: float = 900.0, res: float = 30.0) -> GeoBox:
    x, y = CENTRE
    return GeoBox.from_bbox(
        (x - half, y - half, x + half, y + half), f"EPSG:{EPSG}", resolution=res
    )


def _frame(rows: int = 18, cols: int = 22, heading: float = -14.0, shift=(0.3, -0.2)):
    return swath_lonlat(
        CENTRE,
        epsg=EPSG,
        rows=rows,
        columns=cols,
        spacing=SPACING,
        heading_deg=heading,
        bow=0.06,
        shift=shift,
    )


def _brute_force(lon, lat, grid):
    """Per cell: distance to the nearest pixel and that pixel's flat index (all pixels tried)."""
    px, py = Transformer.from_crs(4326, EPSG, always_xy=True).transform(lon.ravel(), lat.ravel())
    xx, yy = np.meshgrid(grid.coords["x"].values, grid.coords["y"].values)
    d = np.hypot(xx[..., None] - np.asarray(px), yy[..., None] - np.asarray(py))
    order = np.sort(d, axis=-1)
    return order[..., 0], order[..., 1], d.argmin(axis=-1)


def test_swath_is_not_a_regular_grid():
    lon, lat = _frame()
    x, y = Transformer.from_crs(4326, EPSG, always_xy=True).transform(lon, lat)
    step_x = np.diff(x, axis=1)
    assert np.ptp(step_x) > 1.0  # pixels widen off nadir
    assert np.ptp(np.diff(y, axis=1)) > 1.0  # rows are turned and bowed, not along a parallel


def test_nearest_pixel_lands_on_the_right_cells():
    lon, lat = _frame()
    values = np.random.default_rng(3).uniform(280, 320, lon.shape).astype("float32")
    grid = _grid()
    got = swath.grid_nearest(swath.Frame(lon, lat, {"lst": values}), grid)["lst"]
    d1, d2, idx = _brute_force(lon, lat, grid)
    inside = (d1 < 0.65 * SPACING) & (d2 - d1 > 1e-6)  # clearly in the swath, no tie
    outside = d1 > 1.2 * SPACING  # clearly beyond its edge
    assert inside.sum() > 1000 and outside.sum() > 200
    np.testing.assert_array_equal(got[inside], values.ravel()[idx[inside]])
    assert np.isnan(got[outside]).all()


def test_nearest_pixel_on_a_geographic_grid():
    lon, lat = _frame()
    values = np.arange(lon.size, dtype="float32").reshape(lon.shape)
    grid = GeoBox.from_bbox(
        (lon.min(), lat.min(), lon.max(), lat.max()), "EPSG:4326", resolution=0.0003
    )
    got = swath.grid_nearest(swath.Frame(lon, lat, {"v": values}), grid)["v"]
    k = np.cos(np.radians(lat.mean()))
    xx, yy = np.meshgrid(grid.coords["longitude"].values, grid.coords["latitude"].values)
    d = np.hypot((xx[..., None] - lon.ravel()) * k, yy[..., None] - lat.ravel())
    s = np.sort(d, axis=-1)
    sure = (s[..., 0] < 0.5 * SPACING / 111_320) & (s[..., 1] - s[..., 0] > 1e-9)
    assert sure.sum() > 500
    np.testing.assert_array_equal(got[sure], d.argmin(axis=-1)[sure])


@pytest.fixture
def product(tmp_path):
    """One frame written as a SAFE folder, with fill, exceptions, clouds and flags at known
    pixels, and its Planetary-Computer-shaped item."""
    lon, lat = _frame()
    rng = np.random.default_rng(7)
    lst = np.round(rng.uniform(285, 315, lon.shape) / 0.002) * 0.002  # exactly packable
    conf = np.full(lon.shape, LAND | DAY, "uint16")
    exception = np.zeros(lon.shape, "int16")
    lst[2, 3] = lst[9, 9] = np.nan  # fill
    exception[4, 5] = exception[11, 12] = 1
    conf[6:9, 6:10] |= CLOUD
    conf[:, 0] |= UNFILLED
    conf[12, 4] |= COSMETIC
    conf[14, 14] &= ~np.uint16(DAY)  # a night pixel
    files = write_product(
        tmp_path / "S3A_SL_2_LST____X.SEN3",
        lon=lon,
        lat=lat,
        lst=lst,
        confidence=conf,
        exception=exception,
        start=WHEN,
        spacing=SPACING,
    )
    item = product_item(
        "S3A_SL_2_LST_X",
        files,
        lon=lon,
        lat=lat,
        when=WHEN,
        platform="Sentinel-3A",
        cloud_cover=5.0,
        spacing=SPACING,
    )
    item.set_self_href(str(tmp_path / "S3A_SL_2_LST_X.json"))
    return item, files, lon, lat


def _independent(files, lon, lat, grid):
    """The expected cells: netCDF4's own decoding (mask and scale) of the files, and the
    brute-force nearest pixel."""
    import netCDF4

    with netCDF4.Dataset(files["lst-in"]) as nc:
        lst = np.ma.filled(nc["LST"][:].astype("float64"), np.nan)
        exc = np.asarray(nc["exception"][:])
    with netCDF4.Dataset(files["slstr-flags-in"]) as nc:
        conf = np.asarray(nc["confidence_in"][:])
    with netCDF4.Dataset(files["slstr-geodetic-in"]) as nc:  # micro-degrees, as stored
        lon, lat = (np.asarray(nc[v][:], dtype="float64") for v in ("longitude_in", "latitude_in"))
    lst[exc != 0] = np.nan
    d1, d2, idx = _brute_force(lon, lat, grid)
    sure = (d1 < 0.65 * SPACING) & (d2 - d1 > 1e-6)
    return lst.ravel()[idx], conf.ravel()[idx], sure


def test_frame_files_read_decoded_and_gridded(product):
    item, files, lon, lat = product
    grid = _grid()
    ds = cube.load([item], ["lst", "confidence"], grid=grid, collection=COLL, chunk=None)
    assert ds.lst.dtype == np.float32 and ds.confidence.dtype == np.uint16
    assert ds.lst.attrs["units"] == "K"
    assert list(ds.sensor.values) == ["slstr"] and list(ds.collection.values) == [COLL]
    assert str(ds.solar_day.values[0])[:10] == "2023-02-15"  # 10:05 local on the 15th
    assert int(ds.spatial_ref) == EPSG and ds.lst.shape == (1, *grid.shape)
    lst, conf, sure = _independent(files, lon, lat, grid)
    np.testing.assert_allclose(ds.lst.values[0][sure], lst[sure], atol=1e-4, equal_nan=True)
    np.testing.assert_array_equal(ds.confidence.values[0][sure], conf[sure])
    # fill and exceptions reached cells as NaN; every other cell in the swath has a value
    assert np.isnan(ds.lst.values[0][sure]).sum() == np.isnan(lst[sure]).sum() > 0
    assert np.nanmin(ds.lst.values) >= 285 and np.nanmax(ds.lst.values) <= 315


def test_flags_mask_what_they_say(product):
    item, _, _, _ = product
    ds = cube.load([item], ["lst", "confidence"], grid=_grid(), collection=COLL, chunk=None)
    q = ds.confidence.values
    day = (q & DAY) != 0
    default = mask.valid(ds, bands=["lst"]).values
    expected = np.isfinite(ds.lst.values) & day & ((q & (UNFILLED | COSMETIC | CLOUD | 32768)) == 0)
    np.testing.assert_array_equal(default, expected)
    assert (~default & np.isfinite(ds.lst.values) & ((q & CLOUD) != 0)).sum() > 10
    assert (~default & ((q & COSMETIC) != 0)).any() and (~default & ~day).any()
    only_clouds = mask.valid(ds, bands=["lst"], qa_flags={"slstr": ["summary_cloud"]}).values
    np.testing.assert_array_equal(only_clouds, np.isfinite(ds.lst.values) & ((q & CLOUD) == 0))
    grown = mask.valid(ds, bands=["lst"], dilate_m=60, qa_flags={"slstr": ["summary_cloud"]})
    assert grown.values.sum() < only_clouds.sum()  # clouds grow, by metres
    with pytest.raises(InputError, match=r"summary_clouds.*accepted: coastline.*not_day"):
        mask.valid(ds, bands=["lst"], qa_flags={"slstr": ["summary_clouds"]})


def test_cells_outside_the_swath_are_nan_and_unfilled(product):
    item, _, lon, lat = product
    grid = _grid(half=1500)
    ds = cube.load([item], ["lst", "confidence"], grid=grid, collection=COLL, chunk=None)
    d1, _, _ = _brute_force(lon, lat, grid)
    far = d1 > 1.2 * SPACING
    assert far.sum() > 1000
    assert np.isnan(ds.lst.values[0][far]).all()
    assert (ds.confidence.values[0][far] == UNFILLED).all()


def test_lazy_one_task_per_solar_day_and_frames_fused(tmp_path, product):
    item, _, lon, lat = product
    # a second frame of the same pass, 10 rows further along the track, 40 s later
    lon2, lat2 = swath_lonlat(
        (CENTRE[0] - 150, CENTRE[1] - 700),
        epsg=EPSG,
        rows=18,
        columns=22,
        spacing=SPACING,
        heading_deg=-14.0,
        bow=0.06,
    )
    later = WHEN.replace(second=45)
    files = write_product(
        tmp_path / "S3A_SL_2_LST____Y.SEN3",
        lon=lon2,
        lat=lat2,
        lst=np.full(lon2.shape, 300.0),
        confidence=np.full(lon2.shape, LAND | DAY),
        start=later,
    )
    second = product_item(
        "S3A_SL_2_LST_Y",
        files,
        lon=lon2,
        lat=lat2,
        when=later,
        platform="Sentinel-3A",
        cloud_cover=0.0,
    )
    second.set_self_href(str(tmp_path / "S3A_SL_2_LST_Y.json"))
    grid = _grid(half=1500)
    ds = cube.load([second, item], ["lst", "confidence"], grid=grid, collection=COLL, chunk=40)
    assert ds.sizes["time"] == 1 and ds.lst.chunks[1][0] == 40  # one solar day, split in tiles
    graph = dict(ds.lst.data.__dask_graph__())
    assert sum(str(k).startswith("_grid_day") for k in graph) == 1  # one task reads the day
    got = ds.compute()
    first = swath.grid_nearest(swath.Frame(lon, lat, {"v": np.ones(lon.shape)}), grid)["v"]
    only_second = np.isnan(first) & (got.lst.values[0] == 300.0)
    assert only_second.sum() > 300  # the second frame filled what the first does not cover
    alone = cube.load([item], ["lst"], grid=grid, collection=COLL, chunk=None).lst.values[0]
    both = ~np.isnan(first) & np.isfinite(alone)
    np.testing.assert_array_equal(got.lst.values[0][both], alone[both])  # the first one wins


def test_errors_name_the_item_asset_and_variable(product, tmp_path):
    item, files, _, _ = product
    broken = item.clone()
    del broken.assets["slstr-geodetic-in"]
    with pytest.raises(BandError, match=r"S3A_SL_2_LST_X has no asset 'slstr-geodetic-in'"):
        cube.load([broken], ["lst"], grid=_grid(), collection=COLL, chunk=None)
    with pytest.raises(BandError, match=r"lst-in"):
        cube.load([item], ["ndvi"], grid=_grid(), collection=COLL, chunk=None)
    files["lst-in"].write_bytes(b"not a netcdf file")
    with pytest.raises(DataError, match=r"LST_in.nc \(item S3A_SL_2_LST_X\): cannot be read"):
        cube.load([item], ["lst"], grid=_grid(), collection=COLL, chunk=None)
    import netCDF4

    with netCDF4.Dataset(files["lst-in"], "w") as nc:
        nc.createDimension("rows", 2)
    with pytest.raises(DataError, match=r"no variable LST, exception"):
        cube.load([item], ["lst"], grid=_grid(), collection=COLL, chunk=None)


def test_sensor_record():
    assert sensors.for_collection(COLL) is SLSTR and SLSTR in sensors.SENSORS
    assert SLSTR.reader is not None and SLSTR.qa_band == "confidence"
    assert set(SLSTR.default_flags) <= set(SLSTR.qa_flags)
    from vegcube.recipe.masking import MaskSpec

    assert MaskSpec().qa_flags["slstr"] == list(SLSTR.default_flags)
    with pytest.raises(ValueError, match="not_day"):
        MaskSpec(slstr_qa=["cloudy"])


def test_frames_read_over_http(product):
    from vegcube.testing.server import serve_folder

    item, files, _, _ = product
    folder = files["lst-in"].parent
    local = cube.load([item], ["lst", "confidence"], grid=_grid(), collection=COLL, chunk=None)
    remote = item.clone()
    with serve_folder(folder.parent) as served:
        for key, asset in remote.assets.items():
            asset.href = f"{served.url}/{folder.name}/{files[key].name}"
        got = cube.load([remote], ["lst", "confidence"], grid=_grid(), collection=COLL, chunk=8)
        got = got.compute()
        assert {p.rsplit("/", 1)[-1] for _, p, _ in served.requests} == {
            "geodetic_in.nc",
            "LST_in.nc",
            "flags_in.nc",
        }
        remote.assets["lst-in"].href += ".missing"
        with pytest.raises(DataError, match=r"LST_in.nc.missing: cannot be read .*404"):
            cube.load([remote], ["lst"], grid=_grid(), collection=COLL, chunk=None)
    np.testing.assert_array_equal(got.lst.values, local.lst.values)
    np.testing.assert_array_equal(got.confidence.values, local.confidence.values)
