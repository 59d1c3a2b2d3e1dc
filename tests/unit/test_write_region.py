"""`export.zarr.write_region`: regions land where xarray puts them, a store laid out again at
the same path is written as it is now (the opened arrays are cached per layout), and values
that would need encoding are refused."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr

from vegcube.export.zarr import write_region


def _layout(path, ny: int, nx: int) -> None:
    ds = xr.Dataset(
        {
            "a": (("time", "y", "x"), np.full((3, ny, nx), np.nan, "float32")),
            "n": (("y", "x"), np.zeros((ny, nx), "int16")),
        }
    ).chunk({"time": 1, "y": 4, "x": 4})
    ds.to_zarr(path, compute=False, zarr_format=2, mode="w")


def test_regions_land_in_place_and_a_store_laid_out_again_is_written_as_it_is(tmp_path):
    path = tmp_path / "s.zarr"
    _layout(path, 8, 8)
    rng = np.random.default_rng(0)
    block = rng.random((2, 4, 4)).astype("float32")
    write_region(path, {"time": slice(1, 3), "y": slice(4, 8), "x": slice(0, 4)}, {"a": block})
    write_region(path, {"y": slice(0, 4), "x": slice(4, 8)}, {"n": np.full((4, 4), 7, "int16")})
    got = xr.open_zarr(path).load()
    np.testing.assert_array_equal(got["a"].values[1:3, 4:8, 0:4], block)
    assert np.isnan(got["a"].values[0]).all() and np.isnan(got["a"].values[1:, :4]).all()
    assert (got["n"].values[:4, 4:] == 7).all() and (got["n"].values[4:] == 0).all()

    shutil.rmtree(path)
    _layout(path, 12, 8)  # same path, another shape
    write_region(path, {"time": slice(0, 1), "y": slice(8, 12), "x": slice(4, 8)}, {"a": block[:1]})
    got = xr.open_zarr(path).load()
    assert got["a"].shape == (3, 12, 8)
    np.testing.assert_array_equal(got["a"].values[0, 8:12, 4:8], block[0])


def test_values_of_another_type_are_refused(tmp_path):
    path = tmp_path / "s.zarr"
    _layout(path, 8, 8)
    with pytest.raises(TypeError, match="a: float64"):
        write_region(path, {"time": slice(0, 1)}, {"a": np.zeros((1, 8, 8))})
