"""The plan refuses what cannot run before any work (cloud-probability sections, missing
bands) and keeps the scenes each series can use (LST)."""

from __future__ import annotations

import pytest
import yaml

from helpers import l1c_recipe, static_catalog
from vegcube.errors import BandError, VegcubeError
from vegcube.runner import plan


@pytest.mark.parametrize(
    ("cloud", "field"),
    [
        ({"threshold": 1.5}, "mask.cloud_probability.threshold"),
        ({"colour": "grey"}, "mask.cloud_probability.colour"),
        ({"collection": "landsat-c2-l2"}, "mask.cloud_probability.collection"),
    ],
)
def test_bad_recipe(l1c_archive, tmp_path, cloud, field):
    with pytest.raises(VegcubeError, match=field) as err:
        plan(l1c_recipe(l1c_archive, tmp_path, **cloud))
    assert err.value.exit_code == 2


def test_collection_without_the_bands(l1c_archive, tmp_path):
    from typer.testing import CliRunner

    from vegcube.cli import app

    rc = l1c_recipe(l1c_archive, tmp_path / "out", collection="sentinel-2-l2a")
    with pytest.raises(BandError, match=r"mask\.cloud_probability\.collection: band 'coastal'"):
        plan(rc)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(rc))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "mask.cloud_probability.collection" in result.output
    assert not (tmp_path / "out").exists()


def test_scenes_without_thermal_asset_left_out_of_lst(tmp_path, real_item):
    """Landsat L2SR (surface reflectance only) next to L2SP: the LST series uses the L2SP scene
    and the run says how many were left out."""
    from vegcube import journal, runner

    sp = real_item("planetary-computer", "landsat-c2-l2", "LC09_L2SP_090091_20250310_02_T1")
    sr = real_item("planetary-computer", "landsat-c2-l2", "LC09_L2SR_084082_20250722_02_T1")
    assert "lwir11" not in sr.assets and sr.properties["landsat:correction"] == "L2SR"
    root = static_catalog(tmp_path / "cat", [sp, sr])
    from shapely.geometry import shape
    from shapely.ops import unary_union

    w, s, e, n = unary_union([shape(sp.geometry), shape(sr.geometry)]).bounds
    recipe = {
        "name": "lst",
        "aoi": {"bbox": [w, s, e, n]},
        "time": {"start": "2025-03-01", "end": "2025-07-31"},
        "source": {"catalog": str(root), "collection": "landsat-c2-l2"},
        "lst": {"band": "lwir"},
        "grid": {"crs": "EPSG:3857", "resolution": 5000},
        "indices": ["ndvi"],
        "indicators": [],
        "output": {"dir": str(tmp_path / "out")},
    }
    p = runner.plan(recipe)
    assert [it.id for it in p.items] == [sp.id, sr.id]  # reflectance: both scenes
    assert [it.id for it in p.lst_items] == [sp.id]
    assert p.lst_without_band == [sr.id]
    meta = journal.meta(p.recipe, p)
    assert meta["lst"] == {"items": [sp.id], "without_band": [sr.id]}
    assert meta["values"]["rules"]["landsat-c2-l2"]["red"] == {
        "asset scale/offset → ×2.75e-05 -0.2, nodata 0.0": 2
    }
