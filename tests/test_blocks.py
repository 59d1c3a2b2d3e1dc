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
    fat = chain.scenes.composites(p)
    lazy = chain.scenes.scene_composites(
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


def test_layout_follows_the_memory_budget():
    from odc.geo.geobox import GeoBox

    grid = GeoBox.from_bbox((0, 0, 20000, 20000), "EPSG:32633", resolution=10)  # 2000 px
    budget, need = 2**20 * 256, 3 * blocks._BYTES_PER_BAND * 1.5  # per px and scene
    # large tiles first (each scene is read once per tile): the block of periods shrinks
    wide = blocks.layout(grid, scenes=73, periods=36, bands=3, per_year=36, budget=budget)
    assert wide.side == 1024 and wide.steps >= 1
    assert wide.side**2 * need * 73 / 36 * wide.steps <= budget
    assert wide.side**2 * need * 73 / 36 * (wide.steps + 1) > budget
    # a denser revisit than one period on a 1024 px tile allows: smaller tiles, one period
    dense = blocks.layout(grid, scenes=36 * 40, periods=36, bands=3, per_year=36, budget=budget)
    assert dense.steps == 1 and 64 <= dense.side < 1024 and dense.side % 64 == 0
    assert dense.side**2 * need * 40 <= budget < (dense.side + 64) ** 2 * need * 40
    # a small area is one tile and a year per block
    tiny = GeoBox.from_bbox((0, 0, 1200, 1200), "EPSG:32633", resolution=10)
    assert blocks.layout(tiny, scenes=511, periods=252, bands=3, per_year=36) == blocks.Layout(
        side=120, steps=36
    )
    cut = blocks.tiles(grid, 512, halo=7)
    assert len(cut) == 4 and len(cut[0]) == 4
    first, inner = cut[0][0], cut[1][1]
    assert first.read.shape == (519, 519)  # no halo beyond the grid's own edge
    assert inner.read.shape == (526, 526) and inner.inner == (slice(7, 519), slice(7, 519))


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


def test_reference_per_tile_equals_statistics_by_hand(monkeypatch):
    from vegcube import reference

    rng = np.random.default_rng(3)
    years, per_year, ny, nx = 4, 36, 23, 19
    values = rng.normal(0.5, 0.2, (years * per_year, ny, nx)).astype("float32")
    values[rng.random(values.shape) < 0.3] = np.nan  # gaps
    values[:, 0, 0] = np.nan  # never observed
    values[per_year:, 1, 1] = np.nan  # one year only: no std
    times = [np.datetime64(f"{2019 + y}-01-01") + np.timedelta64(10 * k, "D")
             for y in range(years) for k in range(per_year)]  # fmt: skip
    poy = np.tile(np.arange(1, per_year + 1, dtype="int16"), years)
    comp = xr.Dataset(
        {"ndvi": (("time", "y", "x"), values)},
        coords={"time": times, "period_of_year": ("time", poy),
                "y": np.arange(ny) * -10.0, "x": np.arange(nx) * 10.0},
        attrs={"period": "dekad"},
    )  # fmt: skip
    # a small budget: several groups of periods of the year, and 3 × 2 tiles
    monkeypatch.setattr(reference, "BUDGET", 3 * 10 * 10 * 8 * 4 * 6)
    lazy = reference.compute(comp.chunk({"time": 36, "y": 10, "x": 10}), start="2019-01-01",
                             end="2021-12-31")  # fmt: skip
    assert lazy.ndvi_mean.data.numblocks == (6, 3, 2)  # 6 periods of year per task
    got = lazy.compute()
    eager = reference.compute(comp, start="2019-01-01", end="2021-12-31")
    xr.testing.assert_identical(got, eager)
    inside = values[: 3 * per_year].reshape(3, per_year, ny, nx).astype("float64")
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        expect = {
            "mean": np.nanmean(inside, axis=0),
            "std": np.nanstd(inside, axis=0, ddof=1),
            "min": np.nanmin(inside, axis=0),
            "max": np.nanmax(inside, axis=0),
        }
    expect["std"][np.isinf(expect["std"])] = np.nan
    for stat, want in expect.items():
        np.testing.assert_allclose(got[f"ndvi_{stat}"].values, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(got.ndvi_count.values, np.isfinite(inside).sum(axis=0))
    assert np.isnan(got.ndvi_std.values[:, 1, 1]).all()
    assert (got.ndvi_count.values[:, 0, 0] == 0).all() and np.isnan(got.ndvi_max[:, 0, 0]).all()
