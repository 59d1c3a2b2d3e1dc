"""The demo's synthetic world: land-cover shares over the AOI and the drought region."""

from __future__ import annotations

from pathlib import Path

import rasterio

from helpers import in_bbox
from vegcube.testing.world import LANDCOVER_CLASSES, build_model


def test_landcover_default_size(tmp_path: Path) -> None:
    for seed in (42, 1):
        model = build_model(seed, 240)
        path = tmp_path / f"lc{seed}.tif"
        profile = {
            "driver": "GTiff",
            "width": 240,
            "height": 240,
            "count": 1,
            "dtype": "uint8",
            "crs": "EPSG:32758",
            "transform": model.transform,
        }
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(model.landcover, 1)
        aoi, drought = in_bbox(path, model.bbox), in_bbox(path, model.drought_bbox)
        for code in LANDCOVER_CLASSES:
            assert (model.landcover[aoi] == code).mean() >= 0.08
        for code in (2, 3):
            assert (model.landcover[drought] == code).sum() >= 150
            assert (model.landcover[aoi & ~drought] == code).sum() >= 150
