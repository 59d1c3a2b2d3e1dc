"""The recipe's synthesis reducers run the whole chain."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from vegcube.testing import assert_composites


@pytest.mark.parametrize("reducer", ["weighted", "bap"])
def test_recipe_reducers_run_the_chain(small, tmp_path, reducer):
    import vegcube

    r = small.recipe(tmp_path / "out")
    r.update(time={"start": "2021-11-01", "end": "2022-03-31"}, indicators=[])
    r.pop("reference")
    r["composite"] = {"period": "dekad", "reducer": reducer, "window_days": 30}
    r["output"]["formats"] = ["zarr"]
    vegcube.run(r)
    comp = xr.open_zarr(tmp_path / "out" / "composites.zarr")
    assert {"ndvi", "ndvi_count", "ndwi", "ndwi_count"} <= set(comp.data_vars)
    assert comp.sizes["time"] == 15
    extra = {
        "weighted": {"ndvi_weight", "weighted_date", "flag"},
        "bap": {"bap_date", "bap_score", "bap_count"},
    }[reducer]
    assert extra <= set(comp.data_vars)
    assert_composites(comp)  # dims, CRS, period coordinates, indices in [-1, 1]
    assert np.isfinite(comp.ndvi.values).mean() > 0.5
    assert comp.rio.crs.to_epsg() == small.epsg
