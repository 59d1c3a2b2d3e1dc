"""TCI and VHI from MODIS 8-day 1 km land-surface temperature (MOD11A2 in Planetary Computer's
item shape) beside MOD13Q1 NDVI: the global VHI chain, end to end, on the demo's world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import ndimage

import vegcube
from vegcube.testing.modis import generate_modis_archive
from vegcube.testing.modis_lst import generate_modis_lst_archive
from vegcube.testing.truth import drought_time, truth_masks

LAND = (1, 2, 3, 5)  # forest, grassland, cropland, bare (water has no canopy to lose)


@pytest.fixture(scope="module")
def modis_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lst-modis")
    period = {"start": "2021-01-01", "end": "2023-04-30"}
    ndvi = generate_modis_archive(root / "mod13", size=36, model_size=800, **period)
    # the wet season only (January–April composites): the drought's dekads and their reference
    lst = generate_modis_lst_archive(
        root / "mod11", size=10, model_size=800, months=(1, 4), **period
    )
    rc = {
        "name": "modis-vhi",
        "aoi": {"bbox": list(ndvi.bbox)},
        "time": period,
        "source": {"catalog": str(ndvi.catalog), "collection": "modis-13Q1-061"},
        "grid": {"crs": "auto", "resolution": 1000},
        "indices": ["ndvi"],
        "composite": {"period": "dekad", "reducer": "median"},
        "reference": {"start": "2021-01-01", "end": "2022-12-31", "min_years": 2},
        "indicators": ["vci", "tci", "vhi"],
        "lst": {
            "catalog": str(lst.catalog),
            "collection": "modis-11A2-061",
            "band": "lst_day",
            "alpha": 0.4,
        },
        "gapfill": {"method": "linear"},
        "output": {"dir": str(root / "out"), "formats": ["zarr"]},
    }
    vegcube.run(rc)
    return lst, root / "out"


def _places(lst, like):
    """Land inside the drought's place, and land at least one pixel away from it."""
    lc, place = truth_masks(lst, like)
    land = np.isin(lc, LAND)
    far = ~ndimage.binary_dilation(place, np.ones((3, 3), bool))
    return land & place, land & far


def test_modis_lst_composites_in_kelvin_clouds_and_errors_masked(modis_run):
    _, out = modis_run
    comp = xr.open_zarr(out / "composites.zarr").load()
    assert comp.lst.attrs["units"] == "K"
    when = pd.DatetimeIndex(comp.time.values)
    season = np.asarray(when.month <= 4)
    kelvin = comp.lst.values[season]
    assert np.isfinite(kelvin).mean() > 0.4  # 8-day composites; clouds, AOI edge
    # 303 K − 8 K × vegetation fraction; cloudy (fill) and erred (−6 K) pixels masked, save
    # the bilinear blend of an erred pixel into its neighbours' values
    assert np.nanmin(kelvin) > 292 and np.nanmax(kelvin) < 304
    assert np.isnan(comp.lst.values[~season]).all()  # no composites generated there


def test_tci_from_modis_lst_finds_the_drought(modis_run):
    lst, out = modis_run
    ind = xr.open_zarr(out / "indicators.zarr").load()
    assert {"lst_tci", "ndvi_vci", "ndvi_vhi"} <= set(ind.data_vars)
    inside, far = _places(lst, ind.ndvi_vci.isel(time=0))
    assert inside.sum() >= 6 and far.sum() >= 15
    when = drought_time(lst, ind)
    assert when.sum() == 9  # the dekads of February to April 2023
    tci = ind.lst_tci.values[when]
    assert np.nanmean(tci[:, inside]) < 5  # warmer than any reference year
    assert np.nanmean(tci[:, far]) > 25
    assert np.nanmean(tci[:, far] < 10) < 0.4
    # VHI = alpha·VCI + (1 − alpha)·TCI with the recipe's alpha, where both exist
    expect = 0.4 * ind.ndvi_vci + 0.6 * ind.lst_tci
    np.testing.assert_allclose(ind.ndvi_vhi.values, expect.values, atol=1e-4)
    assert np.isfinite(ind.ndvi_vhi.values[when]).mean() > 0.5


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # fill pixels: all NaN
def test_drought_warms_the_land_it_dries(modis_run):
    """The temperature behind the TCI: the drought's land is warmer than the same dekads a
    year before, the land away from it is not."""
    lst, out = modis_run
    comp = xr.open_zarr(out / "composites.zarr").load()
    inside, far = _places(lst, comp.lst.isel(time=0))
    when = pd.DatetimeIndex(comp.time.values)
    dry = np.asarray((when >= "2023-02-01") & (when < "2023-04-21"))
    before = np.asarray((when >= "2022-02-01") & (when < "2022-04-21"))
    warming = np.nanmean(comp.lst.values[dry], axis=0) - np.nanmean(comp.lst.values[before], axis=0)
    assert np.nanmean(warming[inside]) > 1.5
    assert abs(np.nanmean(warming[far])) < 0.7
