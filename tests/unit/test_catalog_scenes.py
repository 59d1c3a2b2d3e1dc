"""One acquisition used once: duplicates across collections and reprocessings."""

from __future__ import annotations

import pytest

from vegcube import catalog


def test_one_acquisition_used_once_across_earth_search_collections(real_item):
    """The same S2B acquisition of 2025-07-31 (tile 24MVV) in both Earth Search collections."""
    l2a = real_item("earth-search", "sentinel-2-l2a", "S2B_24MVV_20250731_0_L2A")
    c1 = real_item("earth-search", "sentinel-2-c1-l2a", "S2B_T24MVV_20250731T130245_L2A")
    other = real_item("earth-search", "sentinel-2-c1-l2a", "S2A_T37WDS_20240419T090557_L2A")
    kept, dropped = catalog.one_per_acquisition(
        [l2a, c1, other], preference=["sentinel-2-c1-l2a", "sentinel-2-l2a"]
    )
    assert [it.id for it in kept] == [other.id, c1.id]
    assert dropped == {l2a.id: c1.id}
    kept, dropped = catalog.one_per_acquisition(
        [c1, l2a], preference=["sentinel-2-l2a", "sentinel-2-c1-l2a"]
    )
    assert [it.id for it in kept] == [l2a.id] and dropped == {c1.id: l2a.id}
    months = catalog.monthly_summary(kept)
    july = next(m for m in months if m.month == "2025-07")
    cloud = l2a.properties["eo:cloud_cover"]
    assert july.scenes == 1 and july.clear_equivalent == pytest.approx(1 - cloud / 100, abs=1e-3)


def test_reprocessed_scene_kept_once_newest_baseline(real_item):
    old = real_item("earth-search", "sentinel-2-l2a", "S2A_32TMT_20200302_0_L2A")
    new = real_item("earth-search", "sentinel-2-l2a", "S2A_32TMT_20200302_1_L2A")
    kept, dropped = catalog.one_per_acquisition([new, old])
    assert [it.id for it in kept] == [new.id] and dropped == {old.id: new.id}
