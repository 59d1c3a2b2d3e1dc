"""A recipe on a geographic grid (EPSG:4326, degrees): odc-stac names its dimensions
latitude/longitude, and metres (dilation, halos) are not degrees."""

from __future__ import annotations

import numpy as np
import rasterio
import xarray as xr

import vegcube
from vegcube.testing.demo import generate_archive


def _run(archive, out, grid):
    rc = archive.recipe(out)
    rc.update(grid=grid, reference=None, indicators=[], gapfill=None)
    rc["indices"] = ["ndvi"]
    rc["output"]["report"] = False
    rc.pop("regions", None)
    rc.pop("alerts", None)
    vegcube.run(rc)
    return xr.open_zarr(out / "composites.zarr").load()


def test_a_geographic_grid_gives_the_projected_grid_s_composites(tmp_path):
    archive = generate_archive(tmp_path / "archive", size=60, start="2022-01-01",
                               end="2022-04-30")  # fmt: skip
    utm = _run(archive, tmp_path / "utm", {"crs": "auto", "resolution": 10})
    # 0.0001° ≈ 11 m north–south, 10.7 m east–west at the demo's 22° S
    geo = _run(archive, tmp_path / "geo", {"crs": "EPSG:4326", "resolution": 0.0001})
    assert geo.ndvi.dims == ("time", "y", "x") and geo.rio.crs.to_epsg() == 4326
    assert float(geo.x.min()) > 160 and -30 < float(geo.y.min()) < -10  # degrees
    np.testing.assert_array_equal(geo.time.values, utm.time.values)
    # the same ground: the geographic composites brought back onto the UTM grid (nearest)
    # hold the UTM composites' values, and the same pixels are masked (cloud + 40 m
    # dilation; a dilation of 40 "degrees" would mask every pixel)
    back = geo.ndvi.odc.reproject(utm.odc.geobox, resampling="nearest").values
    both = np.isfinite(back) & np.isfinite(utm.ndvi.values)
    assert both.mean() > 0.3
    # resampled twice (bilinear onto 11 m, nearest back): within 0.015, as a UTM grid of
    # 11 m is (0.011); one pixel off, twice that: the pixels are in their place
    off = np.abs(back - utm.ndvi.values)
    assert np.median(off[both]) < 0.015
    shifted = np.abs(back - np.roll(utm.ndvi.values, 1, axis=2))
    assert np.nanmedian(shifted) > 1.6 * np.median(off[both])
    inside = np.isfinite(utm.ndvi.values).any(axis=0) & np.isfinite(back).any(axis=0)
    masked_geo, masked_utm = np.isnan(back[:, inside]), np.isnan(utm.ndvi.values[:, inside])
    assert 0.05 < masked_utm.mean() < 0.9 and np.mean(masked_geo == masked_utm) > 0.93
    cog = sorted((tmp_path / "geo" / "cog" / "ndvi").glob("*.tif"))[0]
    with rasterio.open(cog) as src:
        assert src.crs.to_epsg() == 4326 and abs(src.res[0] - 0.0001) < 1e-12
