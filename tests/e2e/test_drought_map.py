"""The map a service publishes: `vegcube demo`'s latest drought map is clean (issue 13)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import xarray as xr

from vegcube import indicators, reference
from vegcube.report import MAP_MIN_OBSERVED
from vegcube.testing.truth import COVER_GROUPS, drought_time, truth_masks


def mapped_day(out) -> pd.Timestamp:
    page = (out / "report" / "index.html").read_text(encoding="utf-8")
    return pd.Timestamp(re.search(r"drought classes on (\d{4}-\d\d-\d\d)", page).group(1))


def false_alarms(cls: xr.DataArray, demo) -> float:
    """Share of land pixels with a reference, outside the drought, classed moderate or worse."""
    lc, place = truth_masks(demo, cls)
    land = np.isin(lc, COVER_GROUPS["land"])
    one = cls.expand_dims("time").assign_coords(period_end=cls.period_end.expand_dims("time"))
    in_drought = bool(drought_time(demo, one.to_dataset(name="c"))[0])
    judged = land & (cls.values != -1) & ~(place & in_drought)
    return float(((cls.values >= 2) & judged).sum() / judged.sum())


def test_latest_map_is_observed_and_flags_little_outside_the_drought(demo_run, demo):
    day = mapped_day(demo_run)
    comp = xr.open_zarr(demo_run / "composites.zarr")
    ind = xr.open_zarr(demo_run / "indicators.zarr")
    cls = ind.ndvi_drought_class.sel(time=day).compute()
    # the map's period is observed, not only filled, on most of the area
    observed = float((comp.ndvi_count.sel(time=day) > 0).where(cls != -1).mean())
    assert observed >= MAP_MIN_OBSERVED
    share = false_alarms(cls, demo)
    assert share <= 0.05, share
    # the textbook rule (VCI alone, per-period reference) on the same series flags far more:
    # the noise the significance rule removes
    series = xr.open_zarr(demo_run / "gapfilled.zarr").load()
    ref = reference.compute(series, start=demo.reference_start, end=demo.reference_end)
    textbook = indicators.compute(
        series.sel(time=[day]), ref, variables=["ndvi"], indicators=["drought_class"]
    ).ndvi_drought_class.isel(time=0)
    assert false_alarms(textbook, demo) > 2 * share + 0.02
    # "not monitorable" is a class of its own in the published map
    assert indicators.NOT_MONITORABLE in ind.ndvi_drought_class.attrs["flag_values"]
