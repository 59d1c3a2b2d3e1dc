"""`vegcube search` finds real items in a static catalog, one acquisition used once."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from helpers import static_catalog


def test_search_finds_real_items_in_a_static_catalog(tmp_path, real_item):
    l2a = real_item("earth-search", "sentinel-2-l2a", "S2B_24MVV_20250731_0_L2A")
    c1 = real_item("earth-search", "sentinel-2-c1-l2a", "S2B_T24MVV_20250731T130245_L2A")
    far = real_item("earth-search", "sentinel-2-c1-l2a", "S2A_T37WDS_20240419T090557_L2A")
    root = static_catalog(tmp_path / "cat", [l2a, c1, far])
    from shapely.geometry import shape

    lon, lat = shape(l2a.geometry).representative_point().coords[0]
    recipe = {
        "name": "real",
        "aoi": {"bbox": [lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01]},
        "time": {"start": "2025-07-01", "end": "2025-08-31"},
        "source": {"catalog": str(root), "collection": ["sentinel-2-l2a", "sentinel-2-c1-l2a"]},
        "indices": ["ndvi"],
        "output": {"dir": str(tmp_path / "out")},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    res = subprocess.run(
        [sys.executable, "-m", "vegcube", "search", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    found = [f["id"] for f in json.loads(res.stdout)["features"]]
    assert found == [l2a.id]  # the c1 copy of the same acquisition is used once, as listed first
    assert not (tmp_path / "out").exists()
