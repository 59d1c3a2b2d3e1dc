"""TCI and VHI from a land-surface-temperature source (Landsat surface temperature), end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import vegcube
from vegcube.testing.demo import generate_archive
from vegcube.testing.landsat import generate_landsat_archive
from vegcube.testing.truth import drought_time, truth_masks

GRASS, CROP = 2, 3


@pytest.fixture(scope="module")
def lst_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lst")
    period = {"start": "2021-01-01", "end": "2023-04-30"}
    s2 = generate_archive(root / "s2", size=96, revisit_days=10, **period)
    landsat = generate_landsat_archive(root / "landsat", size=96, **period)
    rc = s2.recipe(root / "out")
    rc["grid"]["resolution"] = 30
    rc["indices"] = ["ndvi"]
    rc["reference"] = {"start": "2021-01-01", "end": "2022-12-31", "min_years": 2}
    rc["indicators"] = ["vci", "zscore", "tci", "vhi"]
    rc["lst"] = {"catalog": str(landsat.catalog), "collection": "landsat-c2-l2", "alpha": 0.4}
    rc["gapfill"] = {"method": "linear"}
    rc["output"]["formats"] = ["zarr"]
    vegcube.run(rc)
    return s2, root / "out"


def test_lst_composites_and_reference(lst_run):
    _, out = lst_run
    comp = xr.open_zarr(out / "composites.zarr").load()
    assert comp.lst.attrs["units"] == "K"
    kelvin = comp.lst.values[np.isfinite(comp.lst.values)]
    assert kelvin.size > 0.3 * comp.lst.size  # Landsat 7/8/9: most dekads have a scene
    assert kelvin.min() > 285 and kelvin.max() < 310  # tropical land, clouds masked (268 K)
    assert int(comp.lst_count.max()) >= 1
    ref = xr.open_zarr(out / "reference.zarr")
    assert {"lst_mean", "lst_min", "lst_max", "lst_count"} <= set(ref.data_vars)


def test_tci_and_vhi_find_the_drought(lst_run):
    s2, out = lst_run
    ind = xr.open_zarr(out / "indicators.zarr").load()
    assert {"lst_tci", "ndvi_vhi", "ndvi_vci"} <= set(ind.data_vars)
    lc, place = truth_masks(s2, ind.ndvi_vci.isel(time=0))
    when = drought_time(s2, ind)
    assert when.sum() >= 6
    tci = ind.lst_tci.values[when]
    for cover in (GRASS, CROP):
        inside, outside = place & (lc == cover), ~place & (lc == cover)
        assert np.nanmean(tci[:, inside]) < 15  # drought: hotter canopy than any reference year
        assert np.nanmean(tci[:, outside]) > 30
    # VHI = alpha·VCI + (1 − alpha)·TCI with the recipe's alpha, where both exist
    expect = 0.4 * ind.ndvi_vci + 0.6 * ind.lst_tci
    np.testing.assert_allclose(ind.ndvi_vhi.values, expect.values, atol=1e-4)
    after = pd.DatetimeIndex(ind.time.values) >= "2023-01-01"
    assert np.isfinite(ind.ndvi_vhi.values[after]).mean() > 0.5


def test_run_json_lists_the_temperature_scenes(lst_run):
    import json

    _, out = lst_run
    run = json.loads((out / "run.json").read_text())
    ids = run["lst"]["items"]
    assert ids and all(i.startswith(("LC08_", "LC09_", "LE07_")) for i in ids)
    assert not set(ids) & set(run["items"])  # the source's scenes are listed apart
