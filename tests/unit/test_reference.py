"""Reference statistics per period of the year, by hand and per tile."""

from __future__ import annotations

from itertools import pairwise

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


def _two_pass(stack: np.ndarray) -> dict[str, np.ndarray]:
    """The statistics over axis 0 as one stack in float64, two passes (the formulas by hand)."""
    v = stack.astype("float64")
    ok = ~np.isnan(v)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, v, 0).sum(axis=0) / n
        std = np.sqrt((np.where(ok, v - mean, 0) ** 2).sum(axis=0) / (n - 1))
    std[n < 2] = np.nan
    return {
        "mean": mean.astype("float32"),
        "std": std.astype("float32"),
        "min": np.fmin.reduce(v, axis=0).astype("float32"),
        "max": np.fmax.reduce(v, axis=0).astype("float32"),
        "count": n.astype("int16"),
    }


@pytest.mark.parametrize("years", [1, 2, 5])
def test_statistics_year_by_year_equal_the_stacked_two_passes(years):
    """One year at a time into accumulators (no stack, no nan-function copies): the same
    values, bit for bit, as the stacked two-pass formulas; one year: its values, no std."""
    rng = np.random.default_rng(years)
    stack = rng.normal(0.5, 0.2, (years, 4, 6, 5)).astype("float32")
    stack[rng.random(stack.shape) < 0.3] = np.nan
    stack[:, 0, 0, 0] = np.nan  # never observed
    stack[:, 1, 0, :] = 0.3  # constant: std exactly 0 (from two years on)
    got, want = reference.statistics(stack), _two_pass(stack)
    for s in reference.STATS:
        assert got[s].dtype == want[s].dtype and got[s].shape == want[s].shape, s
        np.testing.assert_array_equal(got[s], want[s], err_msg=s)
    if years > 1:
        assert (got["std"][1, 0] == 0).all()
    # integers are statistics of their float64 values
    counts = np.nan_to_num(stack * 100).astype("int16")
    for s, a in reference.statistics(counts).items():
        np.testing.assert_array_equal(a, _two_pass(counts.astype("float64"))[s], err_msg=s)


@pytest.mark.parametrize("pool", [0, 1, 2])
def test_of_periods_reads_chunks_in_place_as_the_concatenated_series(pool):
    """A task's chunks given as they are (no concatenation) give the statistics of their
    concatenation, pooled or not, and periods with fewer years than others."""
    rng = np.random.default_rng(pool)
    values = rng.normal(0.5, 0.1, (40, 7, 6)).astype("float32")
    values[rng.random(values.shape) < 0.2] = np.nan
    members = [np.arange(p, 40, 8) for p in range(8)]  # 5 or 4 years per period
    chunks = [values[:3], values[3:17], values[17:18], values[18:]]
    for periods in (range(0, 3), range(6, 10)):
        whole = reference.of_periods(values, members, periods, pool)
        parts = reference.of_periods(chunks, members, periods, pool)
        for s in reference.STATS:
            np.testing.assert_array_equal(parts[s], whole[s], err_msg=s)
            assert parts[s].shape == (len(periods), 7, 6)
    stack = np.stack([values[m[:4]] for m in members], axis=1)  # 4 years of each period
    four = [m[:4] for m in members]
    pooled = reference.pooled(stack[:, 0 : 3 + 2 * pool], pool)
    for s, a in reference.of_periods(values, four, range(pool, pool + 3), pool).items():
        np.testing.assert_array_equal(a, pooled[s], err_msg=s)


def _noise_by_sorting(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """`reference.noise` by its definition: the median of each pixel's observed triples."""
    v = np.where(observed, values, np.nan).astype("float32")
    with np.errstate(invalid="ignore"):  # inf observed: inf − inf
        d2 = np.abs(v[1:-1] - 0.5 * (v[:-2] + v[2:]))
    out = np.full(values.shape[1:], np.nan, dtype="float32")
    for i, j in np.ndindex(*out.shape):
        d = np.sort(d2[:, i, j][~np.isnan(d2[:, i, j])])
        if len(d) >= reference.MIN_TRIPLES:
            k = len(d)
            out[i, j] = 1.4826 * 0.5 * (d[(k - 1) // 2] + d[k // 2]) / np.sqrt(1.5)
    return out


def test_noise_of_chunks_equals_noise_of_the_series_and_its_definition(monkeypatch):
    """Each pixel's series side by side (strips of rows, steps read from the chunks): the
    noise of the concatenated series and of its definition, with marks and without."""
    monkeypatch.setattr(reference, "_ROWS", 4)  # several strips, the last one partial
    rng = np.random.default_rng(11)
    values = rng.normal(0.5, 0.1, (30, 10, 3)).astype("float32")
    values[:, 0, 0] = np.inf  # never finite
    values[rng.random(values.shape) < 0.15] = np.nan
    seen = rng.random(values.shape) < 0.8
    seen[:, 1, 1] = False
    at = np.arange(2, 29)
    want = _noise_by_sorting(values[at], seen[at])
    np.testing.assert_array_equal(reference.noise(values[at], seen[at]), want)
    np.testing.assert_array_equal(
        reference.noise(values[at]), _noise_by_sorting(values[at], np.isfinite(values[at]))
    )
    cut = [0, 5, 6, 20, 30]
    parts = {
        "ndvi": [values[a:b] for a, b in pairwise(cut)],
        "ndvi_quality": [np.where(seen[a:b], -1, 2).astype("int8") for a, b in pairwise(cut)],
        "evi": [values[a:b] for a, b in pairwise(cut)],
    }
    got = reference.noise_of(parts, ["ndvi", "evi"], {"ndvi": "ndvi_quality", "evi": None}, at)
    np.testing.assert_array_equal(got["ndvi"], want)
    np.testing.assert_array_equal(got["evi"], reference.noise(values[at]))
    assert np.isnan(got["ndvi"][1, 1]) and np.isnan(got["evi"][0, 0])
    assert np.isfinite(got["ndvi"]).sum() > 20
