"""Unit tests of each step against values computed independently (numpy by hand, spyndex)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import spyndex
import xarray as xr

from vegcube import composite, indicators, indices, mask, reference
from vegcube.errors import BandError

RNG = np.random.default_rng(42)


def cube(times, ny=6, nx=5, bands=("red", "nir", "swir16", "green", "blue")):
    t = pd.DatetimeIndex(times)
    coords = {"time": t, "y": np.arange(ny) * -10.0, "x": np.arange(nx) * 10.0}
    data = {
        b: xr.DataArray(
            RNG.uniform(0.01, 0.6, (len(t), ny, nx)).astype("float32"),
            dims=("time", "y", "x"),
            coords=coords,
        )
        for b in bands
    }
    return xr.Dataset(data)


# --- indices ---------------------------------------------------------------------------


def test_ndvi_ndwi_by_hand():
    ds = cube(["2020-01-01", "2020-01-06"])
    out = indices.compute(ds, ["ndvi", "ndwi"])
    r, n, s = ds.red.values, ds.nir.values, ds.swir16.values
    np.testing.assert_allclose(out.ndvi.values, (n - r) / (n + r), rtol=1e-6)
    np.testing.assert_allclose(out.ndwi.values, (n - s) / (n + s), rtol=1e-6)  # Gao, not McFeeters
    assert out.ndvi.dtype == np.float32


def test_spyndex_indices_match_spyndex_and_mcfeeters_by_name():
    ds = cube(["2020-01-01"])
    out = indices.compute(ds, ["EVI", "NDWI", "savi"])
    n, r, b, g = ds.nir.values, ds.red.values, ds.blue.values, ds.green.values
    evi = 2.5 * (n - r) / (n + 6 * r - 7.5 * b + 1)
    np.testing.assert_allclose(out.EVI.values, evi, rtol=1e-5)
    np.testing.assert_allclose(out.NDWI.values, (g - n) / (g + n), rtol=1e-6)
    # constants take spyndex's defaults (L = 1 for SAVI there)
    savi = spyndex.computeIndex("SAVI", {"N": n, "R": r, "L": spyndex.constants["L"].default})
    np.testing.assert_allclose(out.savi.values, savi, rtol=1e-5)
    np.testing.assert_allclose(out.savi.values, 2 * (n - r) / (n + r + 1), rtol=1e-5)


def test_index_zero_denominator_is_nan_not_inf():
    ds = cube(["2020-01-01"])
    ds["red"][0, 0, 0] = 0.0
    ds["nir"][0, 0, 0] = 0.0
    out = indices.compute(ds, ["ndvi"])
    assert np.isnan(out.ndvi.values[0, 0, 0])
    assert np.isfinite(out.ndvi.values[0, 1:, :]).all()


def test_index_missing_band_and_unknown_name():
    ds = cube(["2020-01-01"], bands=("red", "nir"))
    with pytest.raises(BandError, match="swir16"):
        indices.compute(ds, ["ndwi"])
    with pytest.raises(ValueError, match="unknown index"):
        indices.resolve("NOPE")
    with pytest.raises(ValueError, match="optical"):
        indices.resolve("VHVVR")  # radar index


# --- masks -----------------------------------------------------------------------------


def test_scl_mask_and_dilation_by_metres():
    scl = np.full((1, 21, 21), 4, dtype="uint8")
    scl[0, 10, 10] = 9  # one cloud pixel
    scl[0, 0, 0] = 0  # no data: masked, never grown
    ds = xr.Dataset(
        {
            "scl": (("time", "y", "x"), scl),
            "red": (("time", "y", "x"), np.full((1, 21, 21), 0.1, "float32")),
        },
        coords={
            "time": [np.datetime64("2020-01-01")],
            "y": np.arange(21) * -10.0,
            "x": np.arange(21) * 10.0,
        },
    )
    ok = mask.valid(ds, scl_classes=[0, 9], dilate_m=30).values[0]
    yy, xx = np.mgrid[:21, :21]
    grown = (yy - 10) ** 2 + (xx - 10) ** 2 <= 9  # disk of 3 px = 30 m
    expected = ~grown
    expected[0, 0] = False
    np.testing.assert_array_equal(ok, expected)
    assert ok[1, 1] and ok[0, 1]  # no-data pixel not dilated
    # the same lazily, with chunks smaller than the kernel's reach
    lazy = mask.valid(ds.chunk(y=7, x=7), scl_classes=[0, 9], dilate_m=30)
    np.testing.assert_array_equal(lazy.values[0], expected)


def test_nan_reflectance_is_invalid_and_apply_drops_qa():
    ds = xr.Dataset(
        {
            "scl": (("time", "y", "x"), np.full((1, 2, 2), 4, "uint8")),
            "red": (("time", "y", "x"), np.array([[[0.1, np.nan], [0.2, 0.3]]], "float32")),
        },
    )
    ok = mask.valid(ds)
    assert ok.values.tolist() == [[[True, False], [True, True]]]
    out = mask.apply(ds, ok)
    assert "scl" not in out and np.isnan(out.red.values[0, 0, 1])


# --- composites ------------------------------------------------------------------------


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


class _nowarn:
    def __enter__(self):
        import warnings

        self._c = warnings.catch_warnings()
        self._c.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *a):
        self._c.__exit__(*a)


def test_periods_table_dekads_and_months():
    d = composite.periods("2020-02-05", "2020-03-25", "dekad")
    assert [str(s.date()) for s in d.start] == [
        "2020-02-01",
        "2020-02-11",
        "2020-02-21",
        "2020-03-01",
        "2020-03-11",
        "2020-03-21",
    ]
    assert str(d.end[2].date()) == "2020-02-29"  # leap year
    assert d.period_of_year.tolist() == [4, 5, 6, 7, 8, 9]
    m = composite.periods("2020-11-15", "2021-01-02", "month")
    assert m.period_of_year.tolist() == [11, 12, 1]
    assert str(m.end[0].date()) == "2020-11-30"


def test_composite_uses_solar_day_not_utc():
    # 23:30 UTC on the 10th is the 11th in New Caledonia: it belongs to the second dekad
    t = pd.DatetimeIndex(["2021-01-10T23:30"])
    ds = cube(t, bands=("ndvi",)).assign_coords(
        solar_day=("time", pd.DatetimeIndex(["2021-01-11"]))
    )
    out = composite.composite(ds, start="2021-01-01", end="2021-01-20")
    assert out.ndvi_count.values[:, 0, 0].tolist() == [0, 1]


# --- reference and indicators ----------------------------------------------------------


def yearly(values_by_year, poy=(1, 2)):
    """A composite-like dataset: one value per (year, period) for a 1×2 image."""
    rows = []
    for year, vals in values_by_year.items():
        for p, v in zip(poy, vals, strict=True):
            rows.append((pd.Timestamp(year=year, month=1, day=1 + 10 * (p - 1)), p, v))
    t = pd.DatetimeIndex([r[0] for r in rows])
    arr = np.array([[[r[2], r[2] * 0.5]] for r in rows], "float32")
    return xr.Dataset(
        {"ndvi": (("time", "y", "x"), arr)},
        coords={
            "time": t,
            "period_of_year": ("time", [r[1] for r in rows]),
            "y": [0.0],
            "x": [0.0, 10.0],
        },
        attrs={"period": "dekad"},
    )


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


def test_indicators_by_hand_and_min_years():
    data = {2019: [0.5, 0.6], 2020: [0.7, np.nan], 2021: [0.6, 0.8], 2022: [0.2, 0.1]}
    comp = yearly(data)
    ref = reference.compute(comp, start="2019-01-01", end="2021-12-31")
    ind = indicators.compute(
        comp,
        ref,
        variables=["ndvi"],
        indicators=["vci", "zscore", "anomaly", "pct_normal", "drought_class"],
    )
    last = ind.isel(time=-2)  # 2022, period 1: x = 0.2, ref 0.5/0.7/0.6
    p1 = np.array([0.5, 0.7, 0.6])
    assert float(last.ndvi_vci[0, 0]) == 0.0  # below the reference minimum, clipped
    z = (0.2 - p1.mean()) / p1.std(ddof=1)
    assert float(last.ndvi_zscore[0, 0]) == pytest.approx(z, rel=1e-5)
    assert float(last.ndvi_anomaly[0, 0]) == pytest.approx(0.2 - 0.6, abs=1e-6)
    assert float(last.ndvi_pct_normal[0, 0]) == pytest.approx(100 * 0.2 / 0.6, rel=1e-5)
    assert int(last.ndvi_drought_class[0, 0]) == 4
    in_ref = ind.isel(time=2)  # 2020 period 1, x = 0.7 = max → VCI 100, class none
    assert float(in_ref.ndvi_vci[0, 0]) == pytest.approx(100)
    assert int(in_ref.ndvi_drought_class[0, 0]) == 0
    mid = ind.isel(time=0)  # 2019, x = 0.5 → VCI 0; 2021 x=0.6 → 50
    assert float(ind.isel(time=4).ndvi_vci[0, 0]) == pytest.approx(50, rel=1e-5)
    assert float(mid.ndvi_vci[0, 0]) == pytest.approx(0)
    # period 2 has only 2 reference years: NaN everywhere, never a guess, class no data
    p2 = ind.isel(time=-1)
    for v in ("ndvi_vci", "ndvi_zscore", "ndvi_anomaly", "ndvi_pct_normal"):
        assert np.isnan(p2[v].values).all()
    assert (p2.ndvi_drought_class.values == -1).all()
    assert (p2.ndvi_ref_years.values == 2).all()
    ind2 = indicators.compute(comp, ref, variables=["ndvi"], indicators=["vci"], min_years=2)
    assert np.isfinite(ind2.isel(time=-1).ndvi_vci.values).all()


def test_indicators_degenerate_reference_never_inf():
    data = {2019: [0.5, 0.5], 2020: [0.5, 0.5], 2021: [0.5, 0.5], 2022: [0.4, 0.0]}
    comp = yearly(data)
    comp["ndvi"][:, 0, 1] = 0.0  # constant zero pixel: mean 0, std 0, max == min
    ref = reference.compute(comp, start="2019-01-01", end="2021-12-31")
    ind = indicators.compute(
        comp, ref, variables=["ndvi"], indicators=["vci", "zscore", "pct_normal", "anomaly"]
    )
    for v in ("ndvi_vci", "ndvi_zscore", "ndvi_pct_normal"):
        assert not np.isinf(ind[v].values).any()
    assert np.isnan(ind.ndvi_vci.values).all() and np.isnan(ind.ndvi_zscore.values).all()
    assert np.isnan(ind.ndvi_pct_normal.values[..., 1]).all()  # mean 0
    assert float(ind.ndvi_pct_normal.isel(time=-2)[0, 0]) == pytest.approx(80)
    assert float(ind.ndvi_anomaly.isel(time=-2)[0, 0]) == pytest.approx(-0.1, abs=1e-6)


@pytest.mark.parametrize(
    ("vci", "cls"), [(5, 4), (10, 3), (19.9, 3), (25, 2), (35, 1), (40, 0), (90, 0), (np.nan, -1)]
)
def test_drought_class_thresholds(vci, cls):
    da = xr.DataArray(np.array([vci], "float32"))
    assert int(indicators.drought_class(da)[0]) == cls
