"""The fast read of a whole-factor nearest up-sampling (20 m SCL onto a 10 m grid) gives
exactly what odc-loader's warp gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from odc.geo.geobox import GeoBox
from odc.loader._rio import rio_read
from odc.loader.types import RasterLoadParams, RasterSource
from rasterio.transform import from_origin

from vegcube._odc import replicated_read

X0, Y0 = 500_000.0, 7_600_000.0


def _scl(tmp_path: Path, nodata: int | None = 0) -> Path:
    """A 20 m class raster (uint8, 37 × 41 px) with random classes and some nodata."""
    rng = np.random.default_rng(3)
    data = rng.integers(0, 12, size=(37, 41), dtype="uint8")
    path = tmp_path / "scl.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=41,
        height=37,
        count=1,
        dtype="uint8",
        crs="EPSG:32758",
        transform=from_origin(X0, Y0, 20, 20),
        nodata=nodata,
        tiled=True,
        blockxsize=16,
        blockysize=16,
    ) as dst:
        dst.write(data, 1)
    return path


def _grid(col: float, row: float, width: int, height: int, res: float = 10) -> GeoBox:
    """A `res` m grid whose corner lies `col`, `row` 10 m pixels from the raster's."""
    return GeoBox(
        (height, width), from_origin(X0 + col * 10, Y0 - row * 10, res, res), "EPSG:32758"
    )


@pytest.mark.parametrize(
    ("col", "row", "width", "height"),
    [
        (0, 0, 82, 74),  # the whole raster, 2×
        (6, 4, 31, 27),  # inside, odd sizes: the last source pixel half used
        (3, 5, 30, 29),  # half a source pixel off its corners (a 10 m grid not on 20 m)
        (-5, -3, 40, 33),  # over the raster's top-left corner
        (70, 60, 30, 30),  # over its bottom-right corner
    ],
)
@pytest.mark.parametrize("nodata", [0, None])
def test_replicated_read_equals_the_warp(tmp_path, col, row, width, height, nodata):
    src = RasterSource(str(_scl(tmp_path, nodata)), band=1)
    cfg = RasterLoadParams(dtype="uint8", fill_value=255, resampling="nearest")
    grid = _grid(col, row, width, height)

    fast = replicated_read(src, cfg, grid, None, None)
    assert fast is not None
    slow = rio_read(src, cfg, grid)
    assert fast[0] == slow[0]
    np.testing.assert_array_equal(fast[1], slow[1])
    if nodata is not None:  # the source's nodata becomes the load's fill value
        assert (fast[1] == 255).sum() == (slow[1] == 255).sum() > 0

    # into a destination array (odc-loader's chunk), a region of it that is not contiguous
    into_fast = np.full(grid.shape, 7, dtype="uint8")
    into_slow = into_fast.copy()
    assert replicated_read(src, cfg, grid, into_fast, None) is not None
    rio_read(src, cfg, grid, dst=into_slow)
    np.testing.assert_array_equal(into_fast, into_slow)


def test_reads_that_are_not_replications_are_left_to_the_warp(tmp_path):
    src = RasterSource(str(_scl(tmp_path)), band=1)
    nearest = RasterLoadParams(dtype="uint8", fill_value=255, resampling="nearest")
    bilinear = RasterLoadParams(dtype="uint8", fill_value=255, resampling="bilinear")
    assert replicated_read(src, bilinear, _grid(0, 0, 82, 74), None, None) is None
    assert replicated_read(src, nearest, _grid(0.5, 0, 81, 74), None, None) is None  # 1/4 pixel
    assert replicated_read(src, nearest, _grid(0, 0, 41, 37, res=20), None, None) is None  # 1×
    assert replicated_read(src, nearest, _grid(0, 0, 55, 49, res=15), None, None) is None  # 4/3


def test_an_item_grid_that_is_no_replication_is_not_even_opened(tmp_path):
    """The item's declared grid (proj:transform/shape) settles it before any file is opened:
    a 20 m band onto a 20 m grid goes to odc-loader's own (pasted) read."""
    declared = GeoBox((37, 41), from_origin(X0, Y0, 20, 20), "EPSG:32758")
    src = RasterSource(str(tmp_path / "absent.tif"), band=1, geobox=declared)
    cfg = RasterLoadParams(dtype="uint8", fill_value=255, resampling="nearest")
    assert replicated_read(src, cfg, _grid(0, 0, 41, 37, res=20), None, None) is None
    with pytest.raises(rasterio.errors.RasterioIOError):  # a replication: the file is read
        replicated_read(src, cfg, _grid(0, 0, 82, 74), None, None)
