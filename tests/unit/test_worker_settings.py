"""On a dask cluster, every worker process reads with vegcube's GDAL settings (retries,
timeouts, the catalog's storage keys), those that join later too: odc-stac's
``configure_rio(client=…)`` no longer reaches the workers."""

from __future__ import annotations

import pytest

from vegcube import chain


def _rio_env() -> dict:
    from odc.loader._rio import capture_rio_env

    return capture_rio_env()


def test_workers_read_with_the_runs_gdal_settings():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        storage = {"AWS_NO_SIGN_REQUEST": "YES", "AWS_REGION": "eu-central-1"}
        with chain.environment(cluster.scheduler_address, storage=storage):
            client = distributed.get_client()
            first = client.submit(_rio_env, pure=False).result()
            cluster.scale(2)  # a worker joining the cluster during the run
            client.wait_for_workers(2, timeout=60)
            got = client.run(_rio_env)
    for env in (first, *got.values()):
        assert env["AWS_NO_SIGN_REQUEST"] == "YES" and env["AWS_REGION"] == "eu-central-1"
        assert env["GDAL_HTTP_RETRY_CODES"] == "429,500,502,503,504"  # vegcube's, not odc's
    assert len(got) == 2
