"""TCI and VHI from Sentinel-3 SLSTR land-surface temperature (swath NetCDF frames gridded onto
the recipe's grid), end to end."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import vegcube
from vegcube.testing.demo import generate_archive
from vegcube.testing.slstr import generate_slstr_archive
from vegcube.testing.truth import drought_time, truth_masks

GRASS, CROP = 2, 3


@pytest.fixture(scope="module")
def slstr_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("slstr")
    period = {"start": "2021-01-01", "end": "2023-04-30"}
    s2 = generate_archive(root / "s2", size=96, revisit_days=10, **period)
    s3 = generate_slstr_archive(root / "s3", size=96, revisit_days=5, **period)
    rc = s2.recipe(root / "out")
    rc["grid"]["resolution"] = 30
    rc["indices"] = ["ndvi"]
    rc["reference"] = {"start": "2021-01-01", "end": "2022-12-31", "min_years": 2}
    rc["indicators"] = ["vci", "tci", "vhi"]
    rc["lst"] = {
        "catalog": str(s3.catalog),
        "collection": "sentinel-3-slstr-lst-l2-netcdf",
        "band": "lst",
        "alpha": 0.5,
    }
    rc["gapfill"] = {"method": "linear"}
    rc["output"]["formats"] = ["zarr"]
    vegcube.run(rc)
    return s2, s3, root / "out"


def test_slstr_lst_composites(slstr_run):
    _, _, out = slstr_run
    comp = xr.open_zarr(out / "composites.zarr").load()
    assert comp.lst.attrs["units"] == "K"
    kelvin = comp.lst.values[np.isfinite(comp.lst.values)]
    assert kelvin.size > 0.3 * comp.lst.size  # a frame every 5 days: most dekads have one
    assert kelvin.min() > 285 and kelvin.max() < 310  # clouds (268 K) and flags masked
    assert int(comp.lst_count.max()) >= 2


def test_tci_finds_the_drought(slstr_run):
    s2, _, out = slstr_run
    ind = xr.open_zarr(out / "indicators.zarr").load()
    lc, place = truth_masks(s2, ind.ndvi_vci.isel(time=0))
    when = drought_time(s2, ind)
    assert when.sum() >= 6
    tci = ind.lst_tci.values[when]
    for cover in (GRASS, CROP):
        inside, outside = place & (lc == cover), ~place & (lc == cover)
        assert np.nanmean(tci[:, inside]) < 15  # hotter canopy than any reference year
        assert np.nanmean(tci[:, outside]) > 30
    expect = 0.5 * ind.ndvi_vci + 0.5 * ind.lst_tci
    np.testing.assert_allclose(ind.ndvi_vhi.values, expect.values, atol=1e-4)
