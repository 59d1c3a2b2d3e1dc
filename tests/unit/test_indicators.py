"""Indicators (VCI, z-score, anomaly, percent of normal, TCI, VHI) and drought classes, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from helpers import yearly
from vegcube import indicators, reference


def test_indicators_by_hand_and_min_years():
    data = {2019: [0.5, 0.6], 2020: [0.7, np.nan], 2021: [0.6, 0.8], 2022: [0.2, 0.1]}
    comp = yearly(data)
    ref = reference.compute(comp, start="2019-01-01", end="2021-12-31")
    ind = indicators.compute(
        comp,
        ref,
        variables=["ndvi"],
        indicators=["vci", "zscore", "anomaly", "pct_normal", "percentile", "drought_class"],
    )
    last = ind.isel(time=-2)  # 2022, period 1: x = 0.2, ref 0.5/0.7/0.6
    p1 = np.array([0.5, 0.7, 0.6])
    assert float(last.ndvi_vci[0, 0]) == 0.0  # below the reference minimum, clipped
    z = (0.2 - p1.mean()) / p1.std(ddof=1)
    assert float(last.ndvi_zscore[0, 0]) == pytest.approx(z, rel=1e-5)
    assert float(last.ndvi_anomaly[0, 0]) == pytest.approx(0.2 - 0.6, abs=1e-6)
    assert float(last.ndvi_pct_normal[0, 0]) == pytest.approx(100 * 0.2 / 0.6, rel=1e-5)
    normal = 0.5 * (1 + math.erf(z / math.sqrt(2)))  # Φ(z), by hand
    assert float(last.ndvi_percentile[0, 0]) == pytest.approx(100 * normal, rel=1e-5)
    assert float(ind.isel(time=4).ndvi_percentile[0, 0]) == pytest.approx(50, abs=1e-4)  # mean
    assert int(last.ndvi_drought_class[0, 0]) == 4
    in_ref = ind.isel(time=2)  # 2020 period 1, x = 0.7 = max → VCI 100, class none
    assert float(in_ref.ndvi_vci[0, 0]) == pytest.approx(100)
    assert int(in_ref.ndvi_drought_class[0, 0]) == 0
    mid = ind.isel(time=0)  # 2019, x = 0.5 → VCI 0; 2021 x=0.6 → 50
    assert float(ind.isel(time=4).ndvi_vci[0, 0]) == pytest.approx(50, rel=1e-5)
    assert float(mid.ndvi_vci[0, 0]) == pytest.approx(0)
    # period 2 has only 2 reference years: NaN everywhere, never a guess, class no data
    p2 = ind.isel(time=-1)
    for v in ("ndvi_vci", "ndvi_zscore", "ndvi_anomaly", "ndvi_pct_normal", "ndvi_percentile"):
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


def test_tci_and_vhi_formulas_by_hand():
    t = xr.DataArray([[300.0, 310.0], [295.0, np.nan]], dims=("y", "x"))
    ref = xr.Dataset(
        {
            "lst_min": xr.DataArray([[290.0, 290.0], [295.0, 290.0]], dims=("y", "x")),
            "lst_max": xr.DataArray([[310.0, 300.0], [295.0, 300.0]], dims=("y", "x")),
        }
    )
    tci = indicators.tci(t, ref, name="lst")
    # (max − T)/(max − min): 50; hotter than the max → 0; degenerate range → NaN; NaN stays
    np.testing.assert_array_equal(tci.values, [[50.0, 0.0], [np.nan, np.nan]])
    vci = xr.DataArray([[20.0, 80.0], [10.0, 5.0]], dims=("y", "x"))
    vhi = indicators.vhi(vci, tci, alpha=0.3)
    np.testing.assert_allclose(vhi.values, [[0.3 * 20 + 0.7 * 50, 0.3 * 80], [np.nan] * 2])
    with pytest.raises(ValueError, match="alpha"):
        indicators.vhi(vci, tci, alpha=1.5)


def test_tci_and_vhi_classes_need_a_significant_departure():
    """A TCI class needs heat beyond noise and sampling (and ≥ min_heat K); a VHI class a
    significant departure of either the index or the temperature; by hand on 4 pixels."""
    from vegcube.recipe.drought import DroughtClasses

    ndvi = [0.6, 0.6, 0.45, 0.6]  # normal, normal, significantly low, normal
    lst = [303.0, 300.3, 300.0, np.nan]  # 3 K hot, 0.3 K warm (< min_heat), normal, no data

    def cube(values):
        return (("time", "y", "x"), np.array(values, "float32").reshape(1, 1, 4))

    comp = xr.Dataset(
        {"ndvi": cube(ndvi), "lst": cube(lst)},
        coords={"time": [np.datetime64("2023-02-01")], "period_of_year": ("time", [4]),
                "y": [0.0], "x": [0.0, 1.0, 2.0, 3.0]},
    )  # fmt: skip

    def stat(v):
        return (("period_of_year", "y", "x"), np.full((1, 1, 4), v, "float32"))

    ref = xr.Dataset(
        {
            **{f"ndvi_{k}": stat(v) for k, v in
               {"mean": 0.6, "std": 0.05, "min": 0.5, "max": 0.7, "count": 5}.items()},
            **{f"lst_{k}": stat(v) for k, v in
               {"mean": 300.0, "std": 0.3, "min": 299.6, "max": 300.4, "count": 5}.items()},
            "ndvi_noise": (("y", "x"), np.full((1, 4), 0.01, "float32")),
            "lst_noise": (("y", "x"), np.full((1, 4), 0.2, "float32")),
        },
        coords={"period_of_year": [4], "y": [0.0], "x": [0.0, 1.0, 2.0, 3.0]},
    )  # fmt: skip
    ind = indicators.compute(
        comp, ref, variables=["ndvi"], indicators=["vci", "tci", "vhi", "drought_class"],
        thresholds=DroughtClasses().model_dump(), lst="lst", alpha=0.5,
    )  # fmt: skip
    tci = ind.lst_tci.values[0, 0]
    np.testing.assert_allclose(tci[:3], [0.0, 12.5, 50.0], atol=2e-3)  # 100·(max − T)/(max − min)
    # textbook classes would be: TCI 4, 3, 0; VHI 25 → 2, 31.25 → 1, 25 → 2
    assert ind.lst_tci_drought_class.values[0, 0].tolist() == [4, 0, 0, -1]
    assert ind.ndvi_vhi_drought_class.values[0, 0].tolist() == [2, 0, 2, -1]
    assert ind.ndvi_drought_class.values[0, 0].tolist()[2] == 4  # VCI 0, significant


def _random_series(spatial_ref: bool) -> tuple[xr.Dataset, xr.Dataset]:
    """Three years of dekads with gaps and degenerate reference pixels (std 0, max = min,
    mean ≤ 0), and their reference (pooled)."""
    rng = np.random.default_rng(7)
    n, ny, nx = 3 * 36, 9, 8
    values = rng.normal(0.4, 0.2, (n, ny, nx)).astype("float32")
    values[rng.random(values.shape) < 0.2] = np.nan
    times = [np.datetime64(f"{2019 + y}-01-01") + np.timedelta64(10 * k, "D")
             for y in range(3) for k in range(36)]  # fmt: skip
    poy = np.tile(np.arange(1, 37, dtype="int16"), 3)
    comp = xr.Dataset(
        {"ndvi": (("time", "y", "x"), values, {"units": "1"})},
        coords={"time": times, "period_of_year": ("time", poy),
                "y": np.arange(ny) * -10.0, "x": np.arange(nx) * 10.0},
        attrs={"period": "dekad"},
    )  # fmt: skip
    ref = reference.compute(comp, start="2019-01-01", end="2020-12-31", pool=1)
    ref["ndvi_std"][:, 0] = 0.0
    ref["ndvi_max"][:, 1] = ref["ndvi_min"][:, 1]
    ref["ndvi_mean"][:, 2] = -0.1
    if spatial_ref:
        ref = ref.assign_coords(spatial_ref=0)
    return comp, ref


@pytest.mark.parametrize("spatial_ref", [False, True])
def test_indicators_in_numpy_equal_the_xarray_formulas(spatial_ref, monkeypatch):
    """numpy-backed blocks are computed in numpy (`_kernels`), dask-backed ones with the
    xarray formulas: the same values, types, attributes and coordinates."""
    comp, ref = _random_series(spatial_ref)
    kernels, calls = indicators._kernels, []
    monkeypatch.setattr(indicators, "_kernels", lambda *a: calls.append(1) or kernels(*a))
    asked = ["vci", "zscore", "anomaly", "pct_normal", "percentile", "drought_class"]
    thresholds = {**indicators.DROUGHT_CLASSES, "zscore_max": -0.5}
    for min_years in (1, 2):
        kw = {"variables": ["ndvi"], "indicators": asked, "min_years": min_years}
        eager = indicators.compute(comp, ref, thresholds=thresholds, **kw)
        lazy = indicators.compute(
            comp.chunk({"time": 10}), ref.chunk({"y": 4}), thresholds=thresholds, **kw
        ).compute()
        xr.testing.assert_identical(eager, lazy)
        assert len(calls) == min_years  # the eager one only
        assert list(eager.data_vars) == list(lazy.data_vars)
        assert list(eager.coords) == list(lazy.coords)
    vci = eager["ndvi_vci"].values
    assert np.isnan(vci[:, 1]).all() and np.isnan(eager["ndvi_zscore"].values[:, 0]).all()
    assert np.isnan(eager["ndvi_pct_normal"].values[:, 2]).all()
    assert np.nanmin(vci) == 0 and np.nanmax(vci) == 100
