"""Fat tasks' layout: tiles and blocks of periods within the memory budget."""

from __future__ import annotations

from typing import Any

import numpy as np

from vegcube import blocks


def test_layout_follows_the_memory_budget():
    from odc.geo.geobox import GeoBox

    grid = GeoBox.from_bbox((0, 0, 20000, 20000), "EPSG:32633", resolution=10)  # 2000 px
    budget, need = 2**20 * 256, 3 * blocks._BYTES_PER_BAND * 1.5  # per px and scene
    # large tiles first (each scene is read once per tile): the block of periods shrinks
    wide = blocks.layout(grid, scenes=73, periods=36, bands=3, per_year=36, budget=budget)
    assert wide.side == 1024 and wide.steps >= 1
    assert wide.side**2 * need * 73 / 36 * wide.steps <= budget
    assert wide.side**2 * need * 73 / 36 * (wide.steps + 1) > budget
    # a denser revisit than one period on a 1024 px tile allows: smaller tiles, one period
    dense = blocks.layout(grid, scenes=36 * 40, periods=36, bands=3, per_year=36, budget=budget)
    assert dense.steps == 1 and 64 <= dense.side < 1024 and dense.side % 64 == 0
    assert dense.side**2 * need * 40 <= budget < (dense.side + 64) ** 2 * need * 40
    # a small area is one tile and a year per block
    tiny = GeoBox.from_bbox((0, 0, 1200, 1200), "EPSG:32633", resolution=10)
    assert blocks.layout(tiny, scenes=511, periods=252, bands=3, per_year=36) == blocks.Layout(
        side=120, steps=36
    )
    cut = blocks.tiles(grid, 512, halo=7)
    assert len(cut) == 4 and len(cut[0]) == 4
    first, inner = cut[0][0], cut[1][1]
    assert first.read.shape == (519, 519)  # no halo beyond the grid's own edge
    assert inner.read.shape == (526, 526) and inner.inner == (slice(7, 519), slice(7, 519))


def _edges(cut: list[list[blocks.Tile]]) -> tuple[list[int], list[int]]:
    rows = [r[0].rows.start for r in cut] + [cut[-1][0].rows.stop]
    cols = [t.cols.start for t in cut[0]] + [cut[0][-1].cols.stop]
    return rows, cols


def test_tiles_are_cut_on_the_phase_and_cover_the_grid_once():
    from odc.geo.geobox import GeoBox

    grid = GeoBox.from_bbox((0, 0, 39940, 19940), "EPSG:32633", resolution=10)  # 1994 × 3994
    # cuts `side` apart from the phase; every pixel in exactly one tile
    cut = blocks.tiles(grid, 1024, phase=(1021, 600))
    assert _edges(cut) == ([0, 1021, 1994], [0, 600, 1624, 2648, 3672, 3994])
    seen = np.zeros((1994, 3994), int)
    for row in cut:
        for t in row:
            seen[t.rows, t.cols] += 1
            assert t.read.shape == (t.rows.stop - t.rows.start, t.cols.stop - t.cols.start)
    assert (seen == 1).all()
    # a first tile narrower than a quarter of the side joins the next one
    assert _edges(blocks.tiles(grid, 1024, phase=(200, 3))) == (
        [0, 1224, 1994],
        [0, 1027, 2051, 3075, 3994],
    )
    # a dimension that fits in one tile is not cut, whatever the phase
    small = GeoBox.from_bbox((0, 0, 9000, 9000), "EPSG:32633", resolution=10)  # 900 px
    assert _edges(blocks.tiles(small, 1024, phase=(300, 300))) == ([0, 900], [0, 900])
    # with a halo, the tile's place inside its read grid
    t = blocks.tiles(grid, 1024, halo=5, phase=(1021, 600))[1][1]
    assert (t.rows, t.cols) == (slice(1021, 1994), slice(600, 1624))
    assert t.read.shape == (1994 - 1016, 1034) and t.inner == (slice(5, 978), slice(5, 1029))


def _item(name: str, transform: list[float], code: str = "EPSG:32633") -> Any:
    import datetime as dt

    import pystac

    it = pystac.Item(name, None, None, dt.datetime(2023, 1, 1), {"proj:code": code})
    coarse = [20, 0, transform[2], 0, -20, transform[5]]
    for key, tr, n in (("red", transform, 10980), ("scl", coarse, 5490)):
        fields = {"proj:transform": tr, "proj:shape": [n, n]}
        it.add_asset(key, pystac.Asset(f"{name}/{key}.tif", extra_fields=fields))
    return it


def test_phase_puts_tile_edges_on_the_scenes_pixel_grid():
    from odc.geo.geobox import GeoBox

    # the grid starts 3 columns and 5 rows inside the scenes' rasters (origin 300000, 5000040)
    grid = GeoBox.from_bbox((300030, 4980040, 320030, 4999990), "EPSG:32633", resolution=10)
    assert grid.affine.c == 300030 and grid.affine.f == 4999990
    tile = [10, 0, 300000, 0, -10, 5000040]
    other = [10, 0, 399960, 0, -10, 5000040]  # the next MGRS tile: another phase
    # the first cut falls on the rasters' column 1024 and row 1024, i.e. on their COG tiles
    assert blocks.phase(grid, [_item("a", tile)], 1024) == (1024 - 5, 1024 - 3)
    # the most common grid among the items decides
    items = [_item("a", tile), _item("b", tile), _item("c", other)]
    assert blocks.phase(grid, items, 1024) == (1019, 1021)
    # nothing in common: another CRS, another pixel size, half a pixel off, no proj fields
    assert blocks.phase(grid, [_item("a", tile, "EPSG:32634")], 1024) == (0, 0)
    assert blocks.phase(grid, [_item("a", [20, 0, 300000, 0, -20, 5000040])], 1024) == (0, 0)
    assert blocks.phase(grid, [_item("a", [10, 0, 300005, 0, -10, 5000040])], 1024) == (0, 0)
    bare = _item("a", tile)
    for asset in bare.assets.values():
        asset.extra_fields.clear()
    assert blocks.phase(grid, [bare], 1024) == (0, 0)
