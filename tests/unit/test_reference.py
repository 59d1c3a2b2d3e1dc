"""Reference statistics per period of the year, by hand and per tile."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from helpers import yearly
from vegcube import reference


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


def test_reference_stats_by_hand():
    data = {2019: [0.5, 0.6], 2020: [0.7, np.nan], 2021: [0.6, 0.8], 2022: [0.2, 0.1]}
    comp = yearly(data)
    ref = reference.compute(comp, start="2019-01-01", end="2021-12-31")
    p1 = np.array([0.5, 0.7, 0.6])
    assert ref.sizes["period_of_year"] == 36
    np.testing.assert_allclose(ref.ndvi_mean.sel(period_of_year=1)[0, 0], p1.mean(), rtol=1e-6)
    np.testing.assert_allclose(ref.ndvi_std.sel(period_of_year=1)[0, 0], p1.std(ddof=1), rtol=1e-5)
    assert float(ref.ndvi_min.sel(period_of_year=1)[0, 0]) == pytest.approx(0.5)
    assert float(ref.ndvi_max.sel(period_of_year=1)[0, 0]) == pytest.approx(0.7)
    assert int(ref.ndvi_count.sel(period_of_year=2)[0, 0]) == 2  # 2020 missing
    assert int(ref.ndvi_count.sel(period_of_year=3)[0, 0]) == 0
