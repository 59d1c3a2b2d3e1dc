"""The composites as fat tasks (one per tile × block of periods, numpy inside) equal the lazy
scene-by-scene cube's, with cloud dilation across tile edges, and the graph stays small."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from vegcube import blocks, chain, runner


def _both(demo, tmp_path, **changes):
    rc = demo.recipe(tmp_path / "out")
    rc["dask"] = {"chunk": 64}  # 100 px: 2 × 2 tiles
    rc["mask"]["dilate_m"] = 60
    rc["time"] = {"start": "2019-01-01", "end": "2020-12-31"}  # 2 blocks: the test stays quick
    rc["reference"] = {"start": "2019-01-01", "end": "2020-12-31", "min_years": 2}
    rc.update(changes)
    p = runner.plan(rc)
    fat, _ = chain.scenes.composites(p)
    lazy, _ = chain.scenes.scene_composites(
        p, p.items, p.grid, p.recipe.time.start, p.recipe.time.end, chunk=64
    )
    return p, fat, lazy


def test_fat_tasks_equal_the_lazy_cube(demo, tmp_path):
    _, fat, lazy = _both(demo, tmp_path)
    assert fat.ndvi.data.numblocks == (2, 2, 2)  # 2 years of dekads × 2 × 2 tiles
    tasks = len(fat.ndvi.data.__dask_graph__())
    assert tasks < 200 < len(lazy.ndvi.data.__dask_graph__())
    a, b = fat.compute(), lazy.compute()
    xr.testing.assert_allclose(a, b, atol=1e-6)
    assert list(a.data_vars) == list(b.data_vars)
    for name in a.data_vars:
        assert a[name].dtype == b[name].dtype and a[name].attrs == b[name].attrs
    assert a.ndvi_count.sum() > 0 and np.isfinite(a.ndvi).any()


@pytest.mark.parametrize("reducer", ["weighted", "bap"])
def test_fat_tasks_equal_for_syntheses_reaching_beyond_their_period(demo, tmp_path, reducer):
    composite = {"period": "dekad", "reducer": reducer, "window_days": 30}
    _, fat, lazy = _both(demo, tmp_path, composite=composite, indices=["ndvi"])
    xr.testing.assert_allclose(fat.compute(), lazy.compute(), atol=1e-6)


def test_indicators_per_chunk_equal_the_whole_cube(demo_run):
    """`map_chunks` (one task per stored chunk) gives the indicators `compute` gives at once."""
    from vegcube import indicators

    series = xr.open_zarr(demo_run / "gapfilled.zarr")
    ref = xr.open_zarr(demo_run / "reference.zarr")

    def fn(block, reference):
        return indicators.compute(
            block, reference, variables=["ndvi"], indicators=["vci", "zscore", "drought_class"],
            thresholds={"extreme": 10, "severe": 20, "moderate": 30, "mild": 40, "zscore_max": -1},
        )  # fmt: skip

    chunked = series.chunk({"time": 50, "y": 60, "x": 60})  # 4 × 2 × 2 blocks of the 100 px
    out = blocks.map_chunks(fn, chunked, ref)
    assert out.ndvi_vci.data.numblocks == (4, 2, 2)
    whole = fn(series.compute(), ref.compute())
    xr.testing.assert_identical(out.compute(), whole)
    assert out.ndvi_drought_class.encoding["_FillValue"] == -1


@pytest.mark.parametrize(("dilate_m", "halo"), [(0, 0), (60, 7)])
def test_tiles_are_read_with_the_halo_the_dilation_needs(
    demo, tmp_path, monkeypatch, dilate_m, halo
):
    """Without a dilation a tile is read alone: a halo would make every read cross the
    scenes' COG tiles that the tile edges are cut on."""
    seen = {}

    def spy(build, **kw):
        seen.update(kw)
        return by_tiles(build, **kw)

    by_tiles = blocks.by_tiles
    monkeypatch.setattr(blocks, "by_tiles", spy)
    rc = demo.recipe(tmp_path / "out")
    rc["mask"]["dilate_m"] = dilate_m
    chain.scenes.composites(runner.plan(rc))
    assert seen["halo"] == halo
