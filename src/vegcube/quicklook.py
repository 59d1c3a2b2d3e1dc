"""Quicklooks: each scene of a plan as an RGB PNG of the area with its cloud and shadow mask
drawn over it, and a contact sheet of them all — what `max_cloud_cover` keeps and what the
mask removes, seen before a run.

>>> paths = quicklook.write(plan("recipe.yaml"), "looks/")   # looks/<date>_<id>.png, …

Each PNG shows true colour (red, green, blue reflectance 0–0.3, gamma 1/2.2) on the recipe's
grid, shrunk so that its longer side is at most `max_side` pixels (odc-stac reads the COGs'
overviews). Pixels the recipe's mask flags as such are tinted magenta; the ring that
`mask.dilate_m` adds around clouds and shadows is tinted yellow; no data is black.
``contact_sheet.png`` tiles every scene with its date, platform and the share of the area
masked. matplotlib (the ``report`` extra) writes the images.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import numpy as np
import pandas as pd

from . import aoi, catalog, cube, mask, sensors
from .errors import BandError, needs_extra
from .export import atomic_path

if TYPE_CHECKING:
    from .planning import Plan

__all__ = ["MASKED_RGB", "RING_RGB", "write"]

#: tint of the pixels the mask flags, and of the ring its dilation adds (RGB 0–255)
MASKED_RGB = (230, 0, 200)
RING_RGB = (255, 220, 0)
_TINT = 0.55  # share of the tint in a flagged pixel's colour
_RGB = ("red", "green", "blue")
_COLUMNS = 8


def write(
    p: Plan,
    folder: str | Path,
    *,
    max_side: int = 512,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """One PNG per scene of `p` and ``contact_sheet.png`` in `folder`; returns their paths
    (the contact sheet last). Raises `BandError` for a collection without a true colour."""
    try:
        from matplotlib import image as mimage
    except ImportError:
        raise needs_extra("matplotlib", "report", what="quicklooks") from None
    rc = p.recipe
    grid = p.grid
    side = max(grid.shape.y, grid.shape.x)
    if side > max_side:
        grid = grid.zoom_to(resolution=abs(grid.resolution.x) * side / max_side)
    bands = {}
    for coll in rc.source.collections:
        sensor = sensors.for_collection(coll)
        missing = [b for b in _RGB if b not in sensor.asset_aliases]
        if missing:
            raise BandError(
                f"quicklooks: {coll} has no {', '.join(missing)} band for a true-colour image",
                band=missing[0],
            )
        bands[coll] = [*_RGB, *([sensor.qa_band] if sensor.qa_band else [])]
    scenes = cube.load(p.items, bands, grid=grid, chunk=max(grid.shape.y, grid.shape.x))
    flagged, grown = (
        ~mask.valid(scenes, scl_classes=rc.mask.sentinel2_scl, qa_flags=rc.mask.qa_flags,
                    dilate_m=metres, bands=[])  # only what the QA flags: no data is black
        for metres in (0, rc.mask.dilate_m)
    )  # fmt: skip
    rgb_da, flagged_da, grown_da = dask.compute(scenes[list(_RGB)].to_array("band"), flagged, grown)
    flagged_np, grown_np = np.asarray(flagged_da.values), np.asarray(grown_da.values)
    images = _render(np.asarray(rgb_da.values), flagged_np, grown_np)

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    days = pd.DatetimeIndex(scenes.time.values)
    platforms = (
        [str(v) for v in scenes["platform"].values]
        if "platform" in scenes.coords
        else [""] * len(days)
    )
    names = _scene_names(p, days)
    paths = []
    for i, img in enumerate(images):
        path = folder / f"{days[i]:%Y-%m-%d}_{names[i]}.png"
        with atomic_path(path) as tmp:
            mimage.imsave(tmp, img, format="png", pil_kwargs={"compress_level": 1})
        paths.append(path)
        if progress is not None:
            progress(i + 1, len(images))
    shares = grown_np.reshape(len(images), -1).mean(axis=1)
    labels = [
        f"{d:%Y-%m-%d} {pf} · {s:.0%} masked"
        for d, pf, s in zip(days, platforms, shares, strict=True)
    ]
    sheet = folder / "contact_sheet.png"
    with atomic_path(sheet) as tmp:
        _contact_sheet(images, labels, tmp)
    return [*paths, sheet]


def _render(rgb: np.ndarray, flagged: np.ndarray, grown: np.ndarray) -> np.ndarray:
    """(time, y, x, 3) uint8 images: true colour with the mask's tints; NaN → black."""
    refl = np.moveaxis(rgb, 0, -1)  # (time, y, x, band)
    with np.errstate(invalid="ignore"):
        img = np.clip(refl / 0.3, 0, 1) ** (1 / 2.2) * 255
    img = np.nan_to_num(img, nan=0.0)
    for where, tint in ((flagged, MASKED_RGB), (grown & ~flagged, RING_RGB)):
        img[where] = (1 - _TINT) * img[where] + _TINT * np.asarray(tint, dtype="float64")
    img[np.isnan(refl).any(axis=-1)] = 0
    return np.round(img).astype(np.uint8)


def _scene_names(p: Plan, days: pd.DatetimeIndex) -> list[str]:
    """The item id of each loaded time step (the first item of its solar day)."""
    by_day: dict[Any, str] = {}
    lon = aoi.centre(p.grid)[0]
    for it in sorted(p.items, key=catalog.acquired):
        by_day.setdefault(pd.Timestamp(catalog.scene_day(it, lon)), it.id)
    return [by_day.get(d.normalize(), f"scene{i}") for i, d in enumerate(days)]


def _contact_sheet(images: np.ndarray, labels: list[str], path: Path) -> None:
    """The scenes tiled `_COLUMNS` per row, each labelled, in one PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n, h, w, _ = images.shape
    cols = min(_COLUMNS, n)
    rows = math.ceil(n / cols)
    pad = max(2, h // 20)
    band = max(14, h // 8)  # room for the label under each image
    mosaic = np.full((rows * (h + band + pad), cols * (w + pad), 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = r * (h + band + pad), c * (w + pad)
        mosaic[y : y + h, x : x + w] = img
    dpi = 100
    height = mosaic.shape[0]
    fig = Figure(figsize=(mosaic.shape[1] / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    fig.figimage(mosaic, origin="upper")  # pixel for pixel: no resampling
    size = max(5.0, min(9.0, w / 30))
    for i, text in enumerate(labels):
        r, c = divmod(i, cols)
        x, y = c * (w + pad) + 2, r * (h + band + pad) + h + band / 2
        fig.text(x / mosaic.shape[1], 1 - y / height, text, fontsize=size, va="center")
    fig.savefig(path, dpi=dpi, format="png", pil_kwargs={"compress_level": 1})
