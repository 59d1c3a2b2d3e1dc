"""Requester-pays buckets read with the request payer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vegcube import catalog, cube
from vegcube.testing.real import materialise, window_grid

#: (DN array, storage type, fill, value by hand) per kind of band: USGS C2 L2 SR/ST and MODIS
#: C6.1 conventions (Landsat fill 0; MOD13 VI fill −3000; MOD09 reflectance fill −28672)
LANDSAT_SR = (np.array([[9091, 0], [12000, 15000]]), "uint16", 0, lambda d: d * 2.75e-5 - 0.2)


def test_requester_pays_bucket_read_with_the_request_payer(tmp_path, monkeypatch, real_item):
    """Earth Search `landsat-c2-l2` assets are `s3://usgs-landsat/…` with
    `storage:requester_pays: true`: read with AWS_REQUEST_PAYER=requester; without it the
    error says access was denied (requester pays), not that the file is corrupt."""
    from odc.stac import configure_rio

    from vegcube.errors import AccessError
    from vegcube.testing.server import serve_s3

    item = real_item("earth-search", "landsat-c2-l2", "LC08_L2SP_033032_20231008_02_T1")
    assert catalog.requester_pays(item, "red")
    bands = ["red", "qa_pixel"]
    arr, _, _, by_hand = LANDSAT_SR
    local = materialise(
        item,
        tmp_path / "files",
        {"red": arr, "qa_pixel": np.zeros((2, 2))},
        anchor="qa_pixel",
        dtype={"red": "uint16", "qa_pixel": "uint16"},
        nodata={"red": 0, "qa_pixel": 1},
    )
    bucket = tmp_path / "s3"
    s3_item = local.clone()
    for key in ("red", "qa_pixel"):  # the bucket holds each file under its published key
        href = item.assets[key].href
        assert href.startswith("s3://usgs-landsat/")
        target = bucket / href.removeprefix("s3://")
        target.parent.mkdir(parents=True, exist_ok=True)
        Path(local.assets[key].href).rename(target)
        s3_item.assets[key].href = href
    grid = window_grid(item, "qa_pixel", 2, anchor="qa_pixel")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_HTTPS", "NO")
    monkeypatch.setenv("AWS_VIRTUAL_HOSTING", "FALSE")
    try:
        for payer in (False, True):  # a new server each time: GDAL caches answers per URL
            with serve_s3(bucket, requester_pays=("usgs-landsat",)) as served:
                monkeypatch.setenv("AWS_S3_ENDPOINT", served.endpoint)
                env = catalog.storage_env([s3_item]) if payer else {}
                assert env == ({"AWS_REQUEST_PAYER": "requester"} if payer else {})
                configure_rio(cloud_defaults=True, **env)  # as `vegcube run` does
                ds = cube.load([s3_item], bands, grid=grid, collection="landsat-c2-l2")
                if not payer:
                    with pytest.raises(AccessError, match="requester-pays") as err:
                        ds.compute()
                    assert "corrupt" not in str(err.value)
                    continue
                red = ds.red.compute().values[0]
                np.testing.assert_allclose(red, np.where(arr == 0, np.nan, by_hand(arr)), atol=1e-6)
                assert any(p.startswith("/usgs-landsat/") for _, p, _ in served.requests)
    finally:
        configure_rio(cloud_defaults=True)
