"""A run mixing Sentinel-2 and Landsat records the cross-sensor calibration."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import xarray as xr

import vegcube
from vegcube import calibrate

COLLS = ["sentinel-2-l2a", "landsat-c2-l2"]


def test_run_mixes_sensors_and_records_the_calibration(s2_landsat, tmp_path):
    s2, ls = s2_landsat
    recipe = {
        "name": "s2-landsat",
        "aoi": {"bbox": list(s2.bbox)},
        "time": {"start": s2.start, "end": s2.end},
        "source": {
            "catalog": str(s2.catalog),
            "collection": COLLS,
            "max_cloud_cover": 90,
            "calibrate": {"reference": "sentinel-2-l2a"},
        },
        "grid": {"resolution": 30},
        "mask": {"dilate_m": 30, "landsat_qa": ["fill", "dilated_cloud", "cloud", "shadow"]},
        "indices": ["ndvi"],
        "composite": {"period": "month", "reducer": "median"},
        "output": {"dir": str(tmp_path / "out"), "formats": ["zarr"]},
    }
    result = vegcube.run(recipe)
    comp = xr.open_zarr(result.outputs["composites"])
    (fit,) = calibrate.from_attrs(comp.attrs)
    assert fit["sensor"] == "landsat" and fit["applied"]
    assert fit["slope"] == pytest.approx(ls.ndvi_gain, abs=0.02)
    assert fit["intercept"] == pytest.approx(ls.ndvi_offset, abs=0.02)
    assert calibrate.from_store(result.outputs["composites"]) == [fit]
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["calibration"] == [fit]  # slope, intercept, r², pairs in run.json
    assert {"slope", "intercept", "r2"} <= set(fit)
    assert any(i.startswith("LC09_") for i in run["items"])
    assert any(i.startswith("S2") for i in run["items"])
    # composites mix sensors: more valid observations in a month than Sentinel-2 scenes in it
    days = pd.DatetimeIndex([i.split("_")[2] for i in run["items"] if i.startswith("S2")])
    s2_per_month = days.to_period("M").value_counts()
    months = pd.DatetimeIndex(comp.time.values).to_period("M")
    most = comp.ndvi_count.max(dim=("y", "x")).values
    assert any(n > s2_per_month.get(m, 0) for m, n in zip(months, most, strict=True))
