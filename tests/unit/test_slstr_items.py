"""Real Sentinel-3 SLSTR LST items and collection (tests/data/items/planetary-computer/
sentinel-3-slstr-lst-l2-netcdf, provenance in the README there) against vegcube's asset names,
and the generated archive against their shape."""

from __future__ import annotations

import json
import re
from pathlib import Path

import netCDF4
import numpy as np
import pystac
import pytest

from vegcube import cube
from vegcube.sensors.slstr import CLOUD_BITS, CONFIDENCE_BITS, FILES
from vegcube.testing.slstr import generate_slstr_archive

COLL = "sentinel-3-slstr-lst-l2-netcdf"
HERE = Path(__file__).parents[1] / "data" / "items" / "planetary-computer" / COLL
ITEM = HERE / "stactools" / "S3A_SL_2_LST_20210510T002955_20210510T003255_0179_071_301_5760.json"
TEMPLATE = HERE / "pctasks" / "template.json"
#: ``confidence_in:flag_meanings`` of a real flags_in.nc
NCDUMP = (
    "coastline ocean tidal land inland_water unfilled spare spare cosmetic duplicate day "
    "twilight sun_glint snow summary_cloud summary_pointing"
)


@pytest.fixture(scope="module")
def real() -> pystac.Item:
    return pystac.Item.from_dict(json.loads(ITEM.read_text()))


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> list[pystac.Item]:
    root = tmp_path_factory.mktemp("slstr")
    archive = generate_slstr_archive(root, start="2022-01-01", end="2022-01-20", size=60)
    cat = pystac.Catalog.from_file(str(archive.catalog))
    return list(cat.get_items(recursive=True))


def test_real_item_assets_resolve(real):
    keys = cube.asset_keys([real], ["lst", "confidence"], collection=COLL)
    assert keys == {"lst": "lst-in", "confidence": "slstr-flags-in"}
    for key, (name, _) in FILES.items():  # the reader's files are where the item says
        assert real.assets[key].href.endswith(f".SEN3/{name}")
        assert real.assets[key].extra_fields["s3:shape"] == [1200, 1500]
    item_assets = json.loads(TEMPLATE.read_text())["item_assets"]
    assert set(FILES) <= set(item_assets) and set(real.assets) == set(item_assets)


def test_real_manifest_matches_the_item(real):
    folder = next((HERE / "stactools").glob("*.SEN3"))
    text = (folder / "xfdumanifest.xml").read_text()
    nadir = re.search(r"<slstr:nadirImageSize>(.*?)</slstr:nadirImageSize>", text, re.S)
    assert nadir is not None
    rows = int(re.search(r"<sentinel3:rows>(\d+)<", nadir.group(1)).group(1))  # type: ignore[union-attr]
    cols = int(re.search(r"<sentinel3:columns>(\d+)<", nadir.group(1)).group(1))  # type: ignore[union-attr]
    assert [rows, cols] == real.assets["lst-in"].extra_fields["s3:shape"]
    cloudy = re.search(r'cloudyPixels percentage="([\d.]+)"', text)
    assert cloudy is not None and float(cloudy.group(1)) == real.properties["eo:cloud_cover"]


def test_generated_items_have_the_real_shape(real, generated):
    assert len(generated) == 5
    for item in generated:
        assert item.collection_id == COLL
        assert set(item.assets) <= set(real.assets)
        for key, asset in item.assets.items():
            ref = real.assets[key]
            assert (asset.media_type, asset.roles, asset.description) == (
                ref.media_type,
                ref.roles,
                ref.description,
            )
        assert set(item.properties) - {"datetime", "start_datetime", "end_datetime"} <= set(
            real.properties
        )
        for name in ("platform", "constellation", "instruments", "s3:product_type"):
            assert type(item.properties[name]) is type(real.properties[name])
        assert item.properties["s3:product_type"] == real.properties["s3:product_type"]
        assert re.fullmatch(r"S3[AB]_SL_2_LST_(\d{8}T\d{6}_){2}0179_\d{3}_\d{3}_\d{4}", item.id)
        assert item.geometry["type"] == "Polygon" and len(item.geometry["coordinates"][0]) > 5
    assert {i.properties["platform"] for i in generated} == {"Sentinel-3A", "Sentinel-3B"}


def test_generated_files_have_the_real_variables(generated):
    item = generated[0]
    href = {k: item.assets[k].get_absolute_href() for k in FILES}
    with netCDF4.Dataset(href["lst-in"]) as nc:
        assert tuple(nc.dimensions) == ("rows", "columns")
        assert {"LST", "LST_uncertainty", "exception"} <= set(nc.variables)
        assert nc["exception"].dtype == np.int16 and nc["LST"].units == "K"
        assert nc.resolution.startswith("[ ") and nc.product_name.endswith(".SEN3")
    with netCDF4.Dataset(href["slstr-geodetic-in"]) as nc:
        assert nc["latitude_in"].dtype == np.int32 and hasattr(nc["latitude_in"], "scale_factor")
    with netCDF4.Dataset(href["slstr-flags-in"]) as nc:
        conf = nc["confidence_in"]
        assert conf.dtype == np.uint16
        meanings = conf.flag_meanings.split()
        assert meanings == NCDUMP.split()  # the ncdump quoted in EVIDENCE-sentinel3.md
        assert [meanings[n] for n in CONFIDENCE_BITS] == list(CONFIDENCE_BITS.values())
        assert list(conf.flag_masks) == [1 << n for n in range(16)]
        assert nc["cloud_in"].flag_meanings.split()[:14] == list(CLOUD_BITS.values())
