"""What the demo archive holds, on any output grid: land cover, the drought's place and time,
and how well a run's drought classes find it (pixel precision, recall, F1)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import rioxarray
import xarray as xr
from pyproj import Transformer

from .demo import DemoArchive

__all__ = ["COVER_GROUPS", "detection_scores", "drought_time", "truth_masks"]

#: land-cover groups scored by `detection_scores` (codes of `LANDCOVER_CLASSES`; None = all)
COVER_GROUPS: dict[str, tuple[int, ...] | None] = {
    "grass+crop": (2, 3),  # the drought-prone covers
    "land": (1, 2, 3, 5),  # all but water, where vegetation indices carry no drought signal
    "all": None,
}


class World(Protocol):
    """What `truth_masks` needs of an archive (`DemoArchive`, `GlobalArchive`, …)."""

    @property
    def landcover(self) -> Path: ...
    @property
    def drought_bbox(self) -> tuple[float, float, float, float]: ...
    @property
    def epsg(self) -> int: ...


def truth_masks(archive: World, like: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Land-cover codes and the drought-place mask on the grid of `like` (y, x), in any CRS.

    On the world's own UTM grid: nearest land cover, and the pixels inside the UTM rectangle
    of the drought box's corners; on another grid (MODIS sinusoidal, EPSG:4326…): the most
    frequent class of the 10 m pixels in each cell, and the cells whose centre lies in the
    drought's lon/lat box (the UTM rectangle would be sheared off the place)."""
    band = rioxarray.open_rasterio(archive.landcover)
    assert isinstance(band, xr.DataArray)  # one band, one file
    own = like.rio.crs is None or like.rio.crs.to_epsg() == archive.epsg
    lc = band.squeeze(drop=True).rio.reproject_match(like, resampling=0 if own else 6).values
    xx, yy = np.meshgrid(like.x.values, like.y.values)
    w, s, e, n = archive.drought_bbox
    if not own:  # resampling 6: mode
        lon, lat = Transformer.from_crs(like.rio.crs, 4326, always_xy=True).transform(xx, yy)
        return lc, (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
    tr = Transformer.from_crs(4326, archive.epsg, always_xy=True)
    x0, y0 = tr.transform(w, s)
    x1, y1 = tr.transform(e, n)
    place = (xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)
    return lc, place


def drought_time(archive: DemoArchive, ds: xr.Dataset) -> np.ndarray:
    """Periods lying wholly inside the drought's dates."""
    start = pd.DatetimeIndex(ds.time.values)
    end = pd.DatetimeIndex(ds.period_end.values)
    return np.asarray((start >= archive.drought_start) & (end <= archive.drought_end))


def detection_scores(
    archive: DemoArchive, classes: xr.DataArray, *, min_class: int = 2
) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 of "class ≥ `min_class`" (2 = moderate) during the drought:
    positive inside its place, negative outside, per group of `COVER_GROUPS`; pixels without
    a class (NaN or −1) are left out."""
    lc, place = truth_masks(archive, classes.isel(time=0))
    cls = np.asarray(classes.values, dtype="float64")[drought_time(archive, classes.to_dataset())]
    scores = {}
    for name, covers in COVER_GROUPS.items():
        cover = np.isin(lc, covers) if covers else np.ones_like(place)
        sel = np.broadcast_to(cover, cls.shape) & np.isfinite(cls) & (cls >= 0)
        truth = np.broadcast_to(place, cls.shape)[sel]
        found = cls[sel] >= min_class
        tp, fp = int(np.sum(found & truth)), int(np.sum(found & ~truth))
        fn = int(np.sum(~found & truth))
        scores[name] = {
            "precision": tp / max(tp + fp, 1),
            "recall": tp / max(tp + fn, 1),
            "f1": 2 * tp / max(2 * tp + fp + fn, 1),
            "pixels": int(sel.sum()),
        }
    return scores
