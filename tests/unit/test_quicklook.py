"""Quicklooks: true colour with the mask and its dilation drawn over it, and a contact sheet."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from vegcube import cube, quicklook
from vegcube.planning import plan

pytest.importorskip("matplotlib", reason="the 'report' extra (matplotlib) is not installed")
from matplotlib import image as mimage

MASKED = [0, 1, 3, 8, 9, 10]
CLOUDY = [3, 8, 9, 10]  # the classes the dilation grows


def _expected(refl: np.ndarray, tint: tuple[int, int, int] | None) -> np.ndarray:
    rgb = np.clip(refl / 0.3, 0, 1) ** (1 / 2.2) * 255
    if tint is not None:
        rgb = 0.45 * rgb + 0.55 * np.asarray(tint, dtype="float64")
    return np.round(rgb)


def test_each_scene_shows_what_the_mask_removes(small, tmp_path):
    rc = small.recipe(tmp_path / "out")
    rc["time"] = {"start": "2022-01-01", "end": "2022-02-28"}
    rc["mask"] = {"sentinel2_scl": MASKED, "dilate_m": 30}
    p = plan(rc)
    paths = quicklook.write(p, tmp_path / "looks")
    scenes = cube.load(p.items, ["red", "green", "blue", "scl"], grid=p.grid, chunk=None)
    assert len(paths) == scenes.sizes["time"] + 1 and paths[-1].name == "contact_sheet.png"
    yy, xx = np.mgrid[-3:4, -3:4]  # 30 m at 10 m: a disk of radius 3
    disk = yy**2 + xx**2 <= 9
    seen = {"clear": 0, "masked": 0, "ring": 0}
    for i, path in enumerate(paths[:-1]):
        assert path.name.startswith(str(scenes.time.values[i])[:10])
        img = mimage.imread(path)[..., :3]
        img = np.round(img * 255)
        assert img.shape[:2] == (p.grid.shape.y, p.grid.shape.x)
        scl = scenes.scl.values[i]
        refl = np.stack([scenes[b].values[i] for b in ("red", "green", "blue")], axis=-1)
        flagged = np.isin(scl, MASKED)
        ring = ndimage.binary_dilation(np.isin(scl, CLOUDY), structure=disk) & ~flagged
        clear = ~flagged & ~ring & np.isfinite(refl).all(axis=-1)
        for name, where, tint in (
            ("clear", clear, None),
            ("masked", flagged & np.isfinite(refl).all(axis=-1), quicklook.MASKED_RGB),
            ("ring", ring & np.isfinite(refl).all(axis=-1), quicklook.RING_RGB),
        ):
            np.testing.assert_allclose(img[where], _expected(refl[where], tint), atol=1)
            seen[name] += int(where.sum())
    assert all(n > 50 for n in seen.values()), seen  # every case was really checked
    sheet = mimage.imread(paths[-1])
    assert sheet.shape[1] >= min(8, len(paths) - 1) * p.grid.shape.x


def test_a_large_area_is_shrunk_to_max_side(small, tmp_path):
    rc = small.recipe(tmp_path / "out")
    rc["time"] = {"start": "2022-01-01", "end": "2022-01-20"}
    p = plan(rc)
    paths = quicklook.write(p, tmp_path / "looks", max_side=20)
    img = mimage.imread(paths[0])
    assert max(img.shape[:2]) <= 21 and max(img.shape[:2]) >= 19
