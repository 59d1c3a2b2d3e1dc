"""Composites per dekad and month: reducers by hand, counts, solar days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import cube_factory
from vegcube import composite

#: random reflectances, drawn from this module's own generator (seed 42)
cube = cube_factory(42)


@pytest.mark.parametrize("reducer", ["median", "mean", "max", "min"])
@pytest.mark.parametrize("lazy", [False, True])
def test_dekad_composite_by_hand(reducer, lazy):
    times = pd.date_range("2021-01-02", "2021-02-27", freq="3D")
    ds = cube(times, bands=("ndvi",))
    ds["ndvi"][::4, 0, 0] = np.nan
    if lazy:
        ds = ds.chunk(time=1)
    out = composite.composite(
        ds, period="dekad", reducer=reducer, start="2021-01-01", end="2021-02-28"
    ).compute()
    vals = ds.ndvi.values if not lazy else ds.ndvi.compute().values
    for i, (start, end) in enumerate(zip(out.time.values, out.period_end.values, strict=True)):
        sel = (times >= start) & (times <= end)
        pix = vals[sel, 0, 0]
        fn = {"median": np.nanmedian, "mean": np.nanmean, "max": np.nanmax, "min": np.nanmin}
        with _nowarn():
            expect = fn[reducer](pix) if np.isfinite(pix).any() else np.nan
        np.testing.assert_allclose(out.ndvi.values[i, 0, 0], expect, rtol=1e-6)
        assert out.ndvi_count.values[i, 0, 0] == np.isfinite(pix).sum()
    assert out.sizes["time"] == 6
    assert out.period_of_year.values.tolist() == [1, 2, 3, 4, 5, 6]
    assert str(out.period_end.values[-1])[:10] == "2021-02-28"


@pytest.mark.parametrize("scenes", [1, 2, 3, 4, 7])
def test_median_of_few_scenes_equals_numpy(scenes):
    """Periods of 1–3 scenes take a min/max network, longer ones a sort: both give numpy's
    nanmedian, pixel by pixel, with every pattern of clouds (NaN) and infinities."""
    from vegcube.composite.statistics import _nanmedian

    rng = np.random.default_rng(scenes)
    block = rng.normal(0.4, 0.2, (scenes, 40, 50)).astype("float32")
    block[rng.random(block.shape) < 0.35] = np.nan
    block[0, 0, :4] = np.inf
    block[-1, 1, :4] = -np.inf
    with _nowarn():
        expect = np.nanmedian(block.astype("float64"), axis=0)
    got = _nanmedian(block)
    assert got.shape == (1, 40, 50)
    np.testing.assert_allclose(got[0], expect, rtol=1e-7, equal_nan=True)


class _nowarn:
    def __enter__(self):
        import warnings

        self._c = warnings.catch_warnings()
        self._c.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *a):
        self._c.__exit__(*a)


def test_composite_uses_solar_day_not_utc():
    # 23:30 UTC on the 10th is the 11th in New Caledonia: it belongs to the second dekad
    t = pd.DatetimeIndex(["2021-01-10T23:30"])
    ds = cube(t, bands=("ndvi",)).assign_coords(
        solar_day=("time", pd.DatetimeIndex(["2021-01-11"]))
    )
    out = composite.composite(ds, start="2021-01-01", end="2021-01-20")
    assert out.ndvi_count.values[:, 0, 0].tolist() == [0, 1]
