"""A run with s2cloudless cloud probability from Sentinel-2 L1C masks more cloud."""

from __future__ import annotations

import numpy as np
import xarray as xr

from helpers import l1c_recipe
from vegcube import composite
from vegcube.runner import run
from vegcube.testing import cloud_truth


def _truth(l1c_archive, like: xr.DataArray) -> np.ndarray:
    """Truth classes (time, y, x) of the scenes of `like` (UTC acquisition days)."""
    days = np.asarray(like.time.values).astype("datetime64[D]").astype(str)
    return np.stack([cloud_truth(l1c_archive, d).sel(y=like.y, x=like.x).values for d in days])


def test_run_masks_more_cloud(l1c_archive, l1c_cubes, tmp_path):
    """Without dilation (the SCL misses the halo), s2cloudless removes the halo's values.

    (With the demo recipe's dilate_m: 40 the grown SCL clouds already cover the halo.)
    """
    scenes, _, _ = l1c_cubes
    rc = l1c_recipe(l1c_archive, tmp_path / "scl")
    rc["mask"]["dilate_m"] = 0
    without = run(rc)
    rc = l1c_recipe(l1c_archive, tmp_path / "prob", threshold=0.4)
    rc["mask"]["dilate_m"] = 0
    with_ = run(rc)
    a = xr.open_zarr(without.outputs["composites"])
    b = xr.open_zarr(with_.outputs["composites"])
    # reference: the composites of the truly clear observations
    truth = _truth(l1c_archive, scenes)
    ndvi = (scenes.nir - scenes.red) / (scenes.nir + scenes.red)
    clear = ndvi.where(truth == 0).rename("ndvi").to_dataset()
    ref = composite.composite(
        clear, period="dekad", reducer="median", start=l1c_archive.start, end=l1c_archive.end
    )
    ref = ref.ndvi.sel(x=a.x, y=a.y)

    def rmse(ds):
        return float(np.sqrt(((ds.ndvi - ref) ** 2).mean()))

    def off(ds):  # composite values depressed by cloud contamination
        return int(((ds.ndvi - ref) < -0.05).sum())

    n_a, n_b = int(a.ndvi_count.sum()), int(b.ndvi_count.sum())
    print({"count": (n_a, n_b), "rmse": (rmse(a), rmse(b)), "depressed": (off(a), off(b))})
    assert n_b < n_a
    assert off(b) < 0.5 * off(a)
    assert rmse(b) < 0.8 * rmse(a)
