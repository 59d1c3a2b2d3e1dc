"""Fat tasks' layout: tiles and blocks of periods within the memory budget."""

from __future__ import annotations

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
