"""`vegcube.testing`'s assertions pass on real outputs of the steps and fail on broken copies,
naming the variable and what is wrong."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vegcube import aoi, catalog, composite, cube, indicators, indices, mask, reference
from vegcube.testing import assert_composites, assert_indicators, assert_reference

Outputs = tuple[xr.Dataset, xr.Dataset, xr.Dataset]


@pytest.fixture(scope="module")
def outputs(small) -> Outputs:
    """Composites, reference and indicators of the `small` archive (five months, 600 m)."""
    items = catalog.search(
        str(small.catalog),
        collection="sentinel-2-l2a",
        bbox=small.bbox,
        start=dt.date.fromisoformat(small.start),
        end=dt.date.fromisoformat(small.end),
    )
    grid = aoi.grid(aoi.read_aoi(small.bbox), resolution=10)
    scenes = cube.load(items, ["red", "nir", "swir16", "scl"], grid=grid)
    idx = indices.compute(mask.apply(scenes, mask.valid(scenes)), ["ndvi", "ndwi"])
    comp = composite.composite(idx, start=small.start, end=small.end).compute()
    # two earlier seasons, 10 % below and above this one: a reference with a spread
    history = xr.concat([_earlier(comp, 2, 0.9), _earlier(comp, 1, 1.1)], "time")
    ref = reference.compute(history, start="2019-11-01", end="2021-03-31")
    ind = indicators.compute(
        comp,
        ref,
        variables=["ndvi", "ndwi"],
        indicators=["vci", "zscore", "anomaly", "pct_normal", "drought_class"],
        min_years=2,
    )
    return comp, ref, ind


def _earlier(comp: xr.Dataset, years: int, factor: float) -> xr.Dataset:
    shift = pd.DateOffset(years=years)
    out = comp.assign_coords(
        time=comp.indexes["time"] - shift,
        period_end=("time", comp.period_end.to_index() - shift),
    )
    for name in ("ndvi", "ndwi"):
        out[name] = out[name].copy(data=np.clip(comp[name].values * factor, -1, 1))
    return out


def test_real_outputs_pass(outputs: Outputs) -> None:
    comp, ref, ind = outputs
    assert_composites(comp)
    assert_reference(ref)
    assert_indicators(ind)
    assert np.isfinite(ind.ndvi_vci.values).any()  # the checks saw values, not only NaN
    assert (ind.ndvi_drought_class.values >= 0).any()


def _set(var: str, index: tuple, value: float) -> Callable[[xr.Dataset], xr.Dataset]:
    def broken(ds: xr.Dataset) -> xr.Dataset:
        out = ds.copy(deep=True)
        out[var].values[index] = value
        return out

    return broken


COMPOSITES: dict[str, tuple[Callable[[xr.Dataset], xr.Dataset], str]] = {
    "dims": (
        lambda ds: ds.transpose("time", "x", "y"),
        r"ndvi has dims .* expected \(time, y, x\)",
    ),
    "no crs": (lambda ds: ds.drop_vars("spatial_ref"), r"spatial_ref coordinate is missing"),
    "float64": (
        lambda ds: ds.assign(ndvi=ds.ndvi.astype("float64")),
        r"ndvi is float64, expected float32",
    ),
    "out of range": (_set("ndvi", (0, 0, 0), 1.5), r"ndvi has 1 of .* outside \[-1, 1\]"),
    "inf": (_set("ndwi", (1, 2, 3), np.inf), r"ndwi holds ±inf"),
    "float count": (
        lambda ds: ds.assign(ndvi_count=ds.ndvi_count.astype("float32")),
        r"ndvi_count is float32, expected an integer",
    ),
    "negative count": (_set("ndvi_count", (0, 0, 0), -1), r"ndvi_count has 1 of .* below 0"),
    "period_end": (
        lambda ds: ds.assign_coords(period_end=ds.time - np.timedelta64(1, "D")),
        r"period_end before time",
    ),
    "period_of_year": (
        lambda ds: ds.assign_coords(period_of_year=ds.period_of_year + 1),
        r"period_of_year does not match the dekad",
    ),
    "no period_end": (lambda ds: ds.drop_vars("period_end"), r"period_end coordinate is missing"),
}

REFERENCE: dict[str, tuple[Callable[[xr.Dataset], xr.Dataset], str]] = {
    "dims": (
        lambda ds: ds.transpose("period_of_year", "x", "y"),
        r"has dims .* expected \(period_of_year, y, x\)",
    ),
    "period 37": (
        lambda ds: ds.assign_coords(period_of_year=ds.period_of_year + 1),
        r"period_of_year must be distinct values in 1\.\.36",
    ),
    "missing max": (lambda ds: ds.drop_vars("ndvi_max"), r"ndvi_max is missing"),
    "negative std": (_set("ndvi_std", (0, 0, 0), -0.1), r"ndvi_std has 1 of .* outside \[0, inf\]"),
    "mean above max": (
        lambda ds: ds.assign(ndvi_mean=ds.ndvi_max + 0.01),
        r"ndvi_mean outside \[min, max\]",
    ),
    "float count": (
        lambda ds: ds.assign(ndwi_count=ds.ndwi_count.astype("float64")),
        r"ndwi_count is float64, expected an integer",
    ),
}

INDICATORS: dict[str, tuple[Callable[[xr.Dataset], xr.Dataset], str]] = {
    "vci above 100": (
        _set("ndvi_vci", (0, 0, 0), 120.0),
        r"ndvi_vci has 1 of .* outside \[0, 100\]",
    ),
    "zscore inf": (_set("ndwi_zscore", (0, 0, 0), -np.inf), r"ndwi_zscore holds ±inf"),
    "class value": (
        _set("ndvi_drought_class", (0, 0, 0), 7),
        r"ndvi_drought_class has 1 of .* not among its flag values",
    ),
    "class dtype": (
        lambda ds: ds.assign(ndvi_drought_class=ds.ndvi_drought_class.astype("int16")),
        r"ndvi_drought_class is int16, expected int8",
    ),
    "class flags": (
        lambda ds: ds.assign(
            ndvi_drought_class=ds.ndvi_drought_class.copy().assign_attrs(flag_values=None)
        ),
        r"ndvi_drought_class has no flag_values",
    ),
    "ref years": (
        lambda ds: ds.assign(ndvi_ref_years=ds.ndvi_ref_years.astype("float32")),
        r"ndvi_ref_years is float32, expected an integer",
    ),
    "dims": (
        lambda ds: ds.assign(ndvi_vci=ds.ndvi_vci.isel(time=0)),
        r"ndvi_vci has dims \('y', 'x'\)",
    ),
}


@pytest.mark.parametrize("case", sorted(COMPOSITES))
def test_broken_composites_fail(outputs: Outputs, case: str) -> None:
    broken, message = COMPOSITES[case]
    with pytest.raises(AssertionError, match=f"^composites: {message}"):
        assert_composites(broken(outputs[0]))


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_broken_reference_fails(outputs: Outputs, case: str) -> None:
    broken, message = REFERENCE[case]
    with pytest.raises(AssertionError, match=f"^reference: .*{message}"):
        assert_reference(broken(outputs[1]))


@pytest.mark.parametrize("case", sorted(INDICATORS))
def test_broken_indicators_fail(outputs: Outputs, case: str) -> None:
    broken, message = INDICATORS[case]
    with pytest.raises(AssertionError, match=f"^indicators: {message}"):
        assert_indicators(broken(outputs[2]))


def test_decoded_drought_classes_read_back_pass(outputs: Outputs, tmp_path) -> None:
    """Read back from Zarr, the classes are CF-decoded (no data −1 as NaN): still int8 on disk."""
    _, _, ind = outputs
    ind.to_zarr(tmp_path / "indicators.zarr")
    back = xr.open_zarr(tmp_path / "indicators.zarr").load()
    assert back.ndvi_drought_class.dtype.kind == "f"
    assert_indicators(back)
