"""Outputs: Zarr in bounded blocks, uniform chunks, atomic replacement, georeferencing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_zeros

from vegcube import export


def sample(nt=10, chunks=None):
    g = GeoBox.from_bbox((500000, 7600000, 500300, 7600200), "EPSG:32758", resolution=10)
    base = xr_zeros(g, dtype="float32")
    t = pd.date_range("2020-01-01", periods=nt, freq="10D")
    rng = np.random.default_rng(1)
    data = rng.random((nt, *base.shape), dtype="float32")
    da = xr.DataArray(
        data,
        dims=("time", "y", "x"),
        coords={"time": t, "y": base.y, "x": base.x, "spatial_ref": base.spatial_ref},
    )
    ds = xr.Dataset({"ndvi": da, "ndvi_count": (da > 0.5).astype("int16")})
    ds = ds.assign_coords(period_of_year=("time", np.arange(1, nt + 1, dtype="int16")))
    return ds.chunk(chunks) if chunks else ds


def test_zarr_in_time_blocks_equals_data_and_is_georeferenced(tmp_path):
    ds = sample(chunks={"time": 1})
    export.write_zarr(ds, tmp_path / "a.zarr", block_bytes=3 * 20 * 30 * 6)  # ~3 steps a block
    assert len(export.zarr.time_blocks(export.cf_ready(ds), 3 * 20 * 30 * 6)) > 2
    back = xr.open_zarr(tmp_path / "a.zarr").load()
    np.testing.assert_array_equal(back.ndvi.values, ds.ndvi.values)
    np.testing.assert_array_equal(back.ndvi_count.values, ds.ndvi_count.values)
    np.testing.assert_array_equal(back.period_of_year.values, ds.period_of_year.values)
    assert back.rio.crs.to_epsg() == 32758
    assert back.ndvi.attrs.get("grid_mapping") == "spatial_ref"  # CF, read by GDAL too
    assert "spatial_ref" in back.coords and "ndvi_count" in back.data_vars
    import rasterio

    with rasterio.open(f'ZARR:"{tmp_path / "a.zarr"}":/ndvi') as src:  # GDAL's Zarr driver
        assert src.crs.to_epsg() == 32758 and src.transform.a == 10


def test_irregular_chunks_are_made_uniform(tmp_path):
    ds = sample(chunks={"time": (3, 1, 4, 2)})
    export.write_zarr(ds, tmp_path / "b.zarr")
    back = xr.open_zarr(tmp_path / "b.zarr")
    np.testing.assert_array_equal(back.ndvi.values, ds.ndvi.values)


def test_failed_write_keeps_the_previous_output(tmp_path):
    good = sample()
    export.write_zarr(good, tmp_path / "c.zarr")

    def boom(block):
        raise RuntimeError("disk full")

    bad = sample(chunks={"time": 1})
    bad["ndvi"] = bad.ndvi.copy(data=bad.ndvi.data.map_blocks(boom, dtype="float32"))
    with pytest.raises(RuntimeError, match="disk full"):
        export.write_zarr(bad, tmp_path / "c.zarr")
    back = xr.open_zarr(tmp_path / "c.zarr").load()
    np.testing.assert_array_equal(back.ndvi.values, good.ndvi.values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.zarr"]  # no temporary left


def test_cogs_and_catalog(tmp_path):
    ds = sample(nt=3)
    paths = export.write_cogs(ds, tmp_path / "cog", ["ndvi"])
    assert [p.name for p in paths] == ["2020-01-01.tif", "2020-01-11.tif", "2020-01-21.tif"]
    import rasterio

    with rasterio.open(paths[1]) as src:
        assert src.crs.to_epsg() == 32758
        np.testing.assert_array_equal(src.read(1), ds.ndvi.values[1])
    mtime = paths[0].stat().st_mtime_ns
    export.write_cogs(ds, tmp_path / "cog", ["ndvi"])  # rerun: existing COGs are kept
    assert paths[0].stat().st_mtime_ns == mtime
    assert (tmp_path / "cog" / "catalog.json").exists()
