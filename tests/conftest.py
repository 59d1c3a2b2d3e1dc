"""Shared fixtures: demo archives generated once per test session (deterministic, seed 42)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rioxarray
import xarray as xr
from pyproj import Transformer

from vegcube.testing.demo import DemoArchive, generate_archive


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> DemoArchive:
    """Five years (2019–2023), 1 km × 1 km, a scene every 5 days: the drought is in 2023."""
    return generate_archive(tmp_path_factory.mktemp("demo"), size=100, revisit_days=5)


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> DemoArchive:
    """Five months across the 2022-01-25 processing-baseline switch, 600 m × 600 m."""
    return generate_archive(
        tmp_path_factory.mktemp("small"),
        size=60,
        revisit_days=5,
        start="2021-11-01",
        end="2022-03-31",
    )


@pytest.fixture(scope="session")
def small_no_raster_bands(tmp_path_factory) -> DemoArchive:
    """The same as `small` but items without `raster:bands`: the baseline rule must apply."""
    return generate_archive(
        tmp_path_factory.mktemp("small_norb"),
        size=60,
        revisit_days=5,
        start="2021-11-01",
        end="2022-03-31",
        raster_bands=False,
    )


def truth_masks(archive: DemoArchive, like: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Land-cover codes and the drought-place mask on the grid of `like` (y, x)."""
    lc = rioxarray.open_rasterio(archive.landcover).squeeze(drop=True)
    lc = lc.rio.reproject_match(like, resampling=0).values
    tr = Transformer.from_crs(4326, archive.epsg, always_xy=True)
    w, s, e, n = archive.drought_bbox
    x0, y0 = tr.transform(w, s)
    x1, y1 = tr.transform(e, n)
    xx, yy = np.meshgrid(like.x.values, like.y.values)
    place = (xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)
    return lc, place


def drought_time(archive: DemoArchive, ds: xr.Dataset) -> np.ndarray:
    """Periods lying wholly inside the drought's dates."""
    start = pd.DatetimeIndex(ds.time.values)
    end = pd.DatetimeIndex(ds.period_end.values)
    return np.asarray((start >= archive.drought_start) & (end <= archive.drought_end))
