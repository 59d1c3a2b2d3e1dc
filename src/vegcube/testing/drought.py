"""Dekad NDVI composites of a synthetic world with a known drought, and how well drought
classes find it: the three kinds of issue 13's validation.

- ``"a"``: every year alike (one seasonal curve per pixel), composite noise, cloud gaps and one
  injected drought;
- ``"b"``: as (a) plus wet and dry years: a smooth field per year scales the season's
  amplitude (σ `year_spread`, 5 % as in `docs/research/gapfill/synth.py`) and shifts it
  (σ 60 × `year_spread` days: 3 days), both clipped at 2σ;
- ``"c"``: as (b) plus cloud residue the mask missed: one-date dips of 0.1–0.4 in patches on
  about 5 % of the observed values.

>>> world = drought_world("a", size=64)
>>> world.composites                 # ndvi, ndvi_count (time, y, x), dekads 2018–2024
>>> scores(world, classes)           # false alarms and recall per land cover

The composites enter the chain where the scenes end (gap filling, reference, indicators), so
the rules that decide a drought class are validated without rendering scenes; the demo archive
checks the whole chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.ndimage import gaussian_filter

from ..composite import periods

__all__ = ["COVERS", "DroughtWorld", "drought_world", "scores"]

#: land cover → (base NDVI, seasonal amplitude, share of the vegetation lost in a drought)
COVERS: dict[str, tuple[float, float, float]] = {
    "savanna": (0.25, 0.35, 0.5),
    "forest": (0.78, 0.06, 0.5),
    "crop": (0.18, 0.50, 0.5),
    "bare": (0.12, 0.02, 0.0),
    "water": (-0.25, 0.0, 0.0),
}
LAND = ("savanna", "forest", "crop", "bare")


@dataclass(frozen=True)
class DroughtWorld:
    """Composites of one kind, their truth and the years to use."""

    kind: str
    composites: xr.Dataset  # ndvi (NaN in gaps), ndvi_count
    cover: np.ndarray  # (y, x) index into COVERS
    drought: np.ndarray  # (time, y, x) True where the drought lowers NDVI by ≥ 0.08
    ambiguous: np.ndarray  # (time, y, x) the drought's ramps and shallow edges: not scored
    reference: tuple[str, str] = ("2018-01-01", "2022-12-31")
    evaluated: tuple[str, str] = ("2023-01-01", "2024-12-31")


def _smooth(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return f / f.std()


def drought_world(
    kind: str = "a", *, size: int = 64, seed: int = 0, year_spread: float = 0.05
) -> DroughtWorld:
    """A `size` × `size` world of dekads 2018–2024 of kind "a", "b" or "c" (module doc)."""
    if kind not in ("a", "b", "c"):
        raise ValueError(f"kind must be 'a', 'b' or 'c'; got {kind!r}")
    rng = np.random.default_rng(seed)
    table = periods("2018-01-01", "2024-12-31", "dekad")
    t = pd.DatetimeIndex(table["start"], name="time").as_unit("ns")
    nt, shape = len(t), (size, size)
    # land cover in patches; every cover present
    field = _smooth(rng, shape, size / 10)
    cover = np.digitize(field, np.quantile(field, [0.3, 0.5, 0.75, 0.9])).astype("int8")
    base, amp, loss = (np.array([c[i] for c in COVERS.values()])[cover] for i in range(3))
    base = base + 0.03 * _smooth(rng, shape, 2)
    amp = amp * (1 + 0.1 * _smooth(rng, shape, 2))
    doy = np.asarray(t.day_of_year, dtype="float64") + 5  # mid-dekad
    years = np.asarray(t.year)
    # wet and dry years: per year a smooth amplitude factor and a shift of the season
    factor = np.ones((nt, *shape))
    shift = np.zeros((nt, *shape))
    if kind in ("b", "c"):
        for y in np.unique(years):
            at = years == y
            factor[at] = 1 + year_spread * np.clip(_smooth(rng, shape, size / 6), -2, 2)
            shift[at] = 60 * year_spread * np.clip(_smooth(rng, shape, size / 6), -2, 2)
    phase = 2 * np.pi * (doy[:, None, None] + shift - 60) / 365.25
    season = 0.5 * (1 - np.cos(phase))  # 0 in the dry season, 1 at the peak
    clean = base + amp * factor * season
    # the drought: a disc, 2023 dekads 10..18 with 2-dekad ramps, on vegetated covers
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - 0.6 * size) ** 2 + (xx - 0.4 * size) ** 2 <= (0.22 * size) ** 2
    when = pd.Series(np.arange(nt), index=t)
    start = int(when["2023-04-01"])
    weight = np.zeros(nt)
    weight[start - 2 : start + 11] = np.interp(np.arange(13), [0, 2, 10, 12], [0, 1, 1, 0])
    drop = weight[:, None, None] * disc * loss * np.clip(clean - 0.1, 0, None)
    truth = clean - drop
    noisy = truth + 0.03 * rng.standard_normal(truth.shape)
    # cloud gaps: coherent patches on ~40 % of the pixel-periods
    clouds = np.stack([_smooth(rng, shape, 3) for _ in range(nt)]) > 0.25
    ndvi = np.where(clouds, np.nan, noisy)
    if kind == "c":
        patches = np.stack([_smooth(rng, shape, 2) for _ in range(nt)]) > 1.65
        residue = patches & ~clouds
        ndvi = np.where(residue, ndvi - rng.uniform(0.1, 0.4, truth.shape), ndvi)
    ds = xr.Dataset(
        {
            "ndvi": (("time", "y", "x"), ndvi.astype("float32")),
            "ndvi_count": (("time", "y", "x"), (~clouds).astype("int16")),
        },
        coords={
            "time": t,
            "y": 5_000_000 - 10.0 * np.arange(size),
            "x": 500_000 + 10.0 * np.arange(size),
            "period_end": ("time", pd.DatetimeIndex(table["end"]).as_unit("ns")),
            "period_of_year": ("time", np.asarray(table["period_of_year"], dtype="int16")),
        },
        attrs={"period": "dekad"},
    )
    core = (weight == 1)[:, None, None] & (drop >= 0.08)
    return DroughtWorld(kind, ds, cover, core, (drop > 0) & ~core)


def scores(world: DroughtWorld, classes: xr.DataArray, *, min_class: int = 2) -> pd.DataFrame:
    """Per land cover (and "land"): the share of non-drought pixel-periods of the evaluated
    years classed ≥ `min_class` (false alarms), the share of drought pixel-periods so
    classed (recall), precision and F1. Pixel-periods without a class (< 0) count as not
    classed; the drought's ramps and shallow edges are not scored."""
    t = pd.DatetimeIndex(classes.time.values)
    at = np.asarray((t >= world.evaluated[0]) & (t <= world.evaluated[1]))
    cls = np.asarray(classes.values)[at]
    found = cls >= min_class
    truth, skip = world.drought[at], world.ambiguous[at]
    rows = {}
    names = list(COVERS)
    for label, covers in [(c, (c,)) for c in LAND] + [("land", LAND)]:
        sel = np.isin(world.cover, [names.index(c) for c in covers])[None] & ~skip
        pos, neg = truth & sel, ~truth & sel
        tp, fp = int((found & pos).sum()), int((found & neg).sum())
        recall = tp / pos.sum() if pos.any() else np.nan
        precision = tp / (tp + fp) if tp + fp else np.nan
        rows[label] = {
            "false_alarms": fp / neg.sum() if neg.any() else np.nan,
            "recall": recall,
            "precision": precision,
            "f1": 2 * precision * recall / (precision + recall) if tp else 0.0,
        }
    return pd.DataFrame(rows).T
