"""Batch jobs of `vegcube serve`: the openEO job lifecycle over the API with the real worker,
and the store's own duties with a stand-in worker (a script that claims the job and sleeps or
crashes): cancel kills the worker, a dead server's jobs become errors, logs, locking."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import xarray as xr

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # starlette's note on httpx versions: not ours
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from vegcube.serve.app import ServeConfig, create_app
from vegcube.serve.collections import demo_sources
from vegcube.serve.errors import OpenEOError
from vegcube.serve.jobs import JobStore, read_job, update_job

BBOX = {"west": 550460, "south": 7614500, "east": 550900, "north": 7614940, "crs": 32758}
GRAPH: dict[str, Any] = {
    "load": {
        "process_id": "load_collection",
        "arguments": {
            "id": "SENTINEL2_L2A",
            "spatial_extent": BBOX,
            "temporal_extent": ["2022-01-01", "2022-02-01"],
            "bands": ["B04", "B08"],
        },
    },
    "save": {
        "process_id": "save_result",
        "arguments": {"data": {"from_node": "load"}, "format": "netCDF"},
        "result": True,
    },
}

#: a stand-in worker: claims its job (running), records its pid, then sleeps or crashes
STUB = """
import os, sys, time, pathlib
from vegcube.serve.jobs import update_job
mode, root, job_id, run = sys.argv[1:5]
folder = pathlib.Path(root) / "jobs" / job_id
update_job(folder, expect_run=run, status="running")
(folder / "stub.pid").write_text(str(os.getpid()))
if mode == "finish":
    update_job(folder, expect_run=run, status="finished", run=None)
    sys.exit(0)
if mode == "crash":
    print("stand-in worker: simulated crash", flush=True)
    sys.exit(7)
time.sleep(120)
"""


@pytest.fixture
def stub(tmp_path: Path) -> Callable[[str], list[str]]:
    script = tmp_path / "stub_worker.py"
    script.write_text(STUB)
    return lambda mode: [sys.executable, str(script), mode]


def _wait(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pid(store: JobStore, job_id: str) -> int:
    path = store.jobs_dir / job_id / "stub.pid"
    _wait(path.is_file, 30)
    return int(path.read_text())


@pytest.fixture
def store(tmp_path: Path, stub) -> Iterator[JobStore]:
    s = JobStore(tmp_path / "state", worker=stub("sleep"))
    yield s
    s.close()


def _code(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(OpenEOError) as err:
        call()
    return err.value.code, err.value.status


# --------------------------------------------------------------------------- the API, real worker


def test_batch_job_lifecycle_over_the_api(small, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written outside the state folder
    (tmp_path / "state").mkdir()
    config = ServeConfig(demo_sources(small.catalog), tmp_path / "state", chunk=32, poll_s=0.05)
    with TestClient(create_app(config)) as c:
        made = c.post("/jobs", json={"title": "ndvi", "process": {"process_graph": GRAPH}})
        assert made.status_code == 201
        job_id = made.headers["OpenEO-Identifier"]
        assert made.headers["Location"] == f"http://testserver/jobs/{job_id}"
        listed = c.get("/jobs").json()["jobs"]
        assert [(j["id"], j["status"], j["title"]) for j in listed] == [(job_id, "created", "ndvi")]
        assert "process" not in listed[0]
        assert c.patch(f"/jobs/{job_id}", json={"title": "NDVI"}).status_code == 204
        job = c.get(f"/jobs/{job_id}").json()
        assert job["title"] == "NDVI" and job["process"]["process_graph"] == GRAPH
        assert c.get(f"/jobs/{job_id}/results").json()["code"] == "JobNotFinished"

        assert c.post(f"/jobs/{job_id}/results").status_code == 202
        _wait(lambda: c.get(f"/jobs/{job_id}").json()["status"] not in ("queued", "running"))
        job = c.get(f"/jobs/{job_id}").json()
        assert (job["status"], job["progress"]) == ("finished", 100), c.get(f"/jobs/{job_id}/logs")

        doc = c.get(f"/jobs/{job_id}/results").json()
        assert doc["type"] == "Collection" and doc["openeo:status"] == "finished"
        assert list(doc["assets"]) == ["openEO.nc"]
        asset = doc["assets"]["openEO.nc"]
        assert asset["type"] == "application/x-netcdf" and asset["roles"] == ["data"]
        assert [b["name"] for b in asset["eo:bands"]] == ["B04", "B08"]
        assert doc["extent"]["temporal"]["interval"][0][0].startswith("2022-01-")
        whole = c.get(asset["href"])
        assert whole.status_code == 200 and len(whole.content) == asset["file:size"]
        head = c.head(asset["href"])
        assert head.headers["accept-ranges"] == "bytes" and head.content == b""
        assert int(head.headers["content-length"]) == asset["file:size"]
        part = c.get(asset["href"], headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == whole.content[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{asset['file:size']}"
        (tmp_path / "state" / "out.nc").write_bytes(whole.content)
        with xr.open_dataset(tmp_path / "state" / "out.nc", decode_coords="all") as ds:
            assert list(ds.data_vars) == ["B04", "B08"] and ds.sizes["t"] == 6
            assert ds.rio.crs is not None  # the grid mapping variable, found by its name

        messages = [e["message"] for e in c.get(f"/jobs/{job_id}/logs").json()["logs"]]
        assert messages[:3] == ["job created", "job queued", messages[2]]
        assert messages[2].startswith("job running") and "openEO.nc" in messages[3]

        assert c.delete(f"/jobs/{job_id}").status_code == 204
        assert c.get(f"/jobs/{job_id}").json()["code"] == "JobNotFound"
        assert c.get(asset["href"]).status_code == 404
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_a_failed_job_answers_424_with_its_error(small, tmp_path) -> None:
    config = ServeConfig(demo_sources(small.catalog), tmp_path, chunk=32, poll_s=0.05)
    bad = {**GRAPH, "load": {**GRAPH["load"], "arguments": {**GRAPH["load"]["arguments"]}}}
    bad["load"]["arguments"]["id"] = "NOPE"
    with TestClient(create_app(config)) as c:
        job_id = c.post("/jobs", json={"process": {"process_graph": bad}}).headers[
            "OpenEO-Identifier"
        ]
        c.post(f"/jobs/{job_id}/results")
        _wait(lambda: c.get(f"/jobs/{job_id}").json()["status"] == "error")
        resp = c.get(f"/jobs/{job_id}/results")
        assert resp.status_code == 424
        assert resp.json()["code"] == "CollectionNotFound" and resp.json()["level"] == "error"
        errors = c.get(f"/jobs/{job_id}/logs", params={"level": "error"}).json()["logs"]
        assert [e["code"] for e in errors] == ["CollectionNotFound"]
        assert "NOPE" in errors[0]["message"]


def test_cancel_over_the_api_kills_the_worker(small, tmp_path, stub) -> None:
    config = ServeConfig(demo_sources(small.catalog), tmp_path, worker=stub("sleep"))
    with TestClient(create_app(config)) as c:
        job_id = c.post("/jobs", json={"process": {"process_graph": GRAPH}}).headers[
            "OpenEO-Identifier"
        ]
        assert c.post(f"/jobs/{job_id}/results").status_code == 202
        pid = _pid(c.app.state.store, job_id)  # type: ignore[attr-defined]
        assert c.get(f"/jobs/{job_id}").json()["status"] == "running" and _alive(pid)
        assert c.post(f"/jobs/{job_id}/results").status_code == 202  # no effect while running
        assert c.delete(f"/jobs/{job_id}/results").status_code == 204
        assert not _alive(pid)
        assert c.get(f"/jobs/{job_id}").json()["status"] == "canceled"
        logs = c.get(f"/jobs/{job_id}/logs").json()["logs"]
        assert "canceled" in logs[-1]["message"]


# --------------------------------------------------------------------------- the store


def test_stale_jobs_become_errors_when_the_next_server_starts(tmp_path, stub) -> None:
    first = JobStore(tmp_path, worker=stub("sleep"))
    job_id = first.create({"process_graph": GRAPH})["id"]
    first.start(job_id)
    pid = _pid(first, job_id)
    try:
        # the first server "dies" without closing: a second one opens the same folder
        second = JobStore(tmp_path, worker=stub("sleep"))
        job = second.get(job_id)
        assert job["status"] == "error"
        last = second.logs(job_id, level="error")["logs"][-1]
        assert "server stopped while the job was running" in last["message"]
        assert _code(lambda: second.results(job_id)) == ("Internal", 424)
        assert read_job(second.jobs_dir / job_id)["run"] is None  # the old worker's run is void
    finally:
        first.close()
    assert not _alive(pid)


def test_stale_job_shows_as_error_through_a_new_app(small, tmp_path, stub) -> None:
    store = JobStore(tmp_path, worker=stub("sleep"))
    job_id = store.create({"process_graph": GRAPH})["id"]
    store.start(job_id)
    _pid(store, job_id)
    try:
        with TestClient(create_app(ServeConfig(demo_sources(small.catalog), tmp_path))) as c:
            assert c.get(f"/jobs/{job_id}").json()["status"] == "error"
    finally:
        store.close()


def test_a_worker_that_dies_makes_its_job_an_error(tmp_path, stub) -> None:
    store = JobStore(tmp_path, worker=stub("crash"))
    job_id = store.create({"process_graph": GRAPH})["id"]
    store.start(job_id)
    _wait(lambda: store.get(job_id)["status"] == "error", 30)
    message = store.logs(job_id, level="error")["logs"][-1]["message"]
    assert "exit code 7" in message and "simulated crash" in message


def test_stopping_the_server_fails_only_unfinished_jobs(tmp_path, stub) -> None:
    done = JobStore(tmp_path / "a", worker=stub("finish"))
    job_id = done.create({"process_graph": GRAPH})["id"]
    done.start(job_id)
    folder = done.jobs_dir / job_id
    _wait(lambda: read_job(folder)["status"] == "finished", 30)
    done.close()  # its worker was not reaped yet: the job stays finished
    assert read_job(folder)["status"] == "finished"
    running = JobStore(tmp_path / "b", worker=stub("sleep"))
    job_id = running.create({"process_graph": GRAPH})["id"]
    running.start(job_id)
    pid = _pid(running, job_id)
    running.close()
    assert not _alive(pid) and read_job(running.jobs_dir / job_id)["status"] == "error"


def test_queued_jobs_wait_for_a_free_worker_and_cancel_back_to_created(tmp_path, stub) -> None:
    store = JobStore(tmp_path, worker=stub("sleep"), max_running=1)
    try:
        a, b = (store.create({"process_graph": GRAPH})["id"] for _ in range(2))
        store.start(a)
        store.start(b)
        _pid(store, a)
        assert store.get(b)["status"] == "queued"
        store.cancel(b)
        assert store.get(b)["status"] == "created"
        store.start(b)
        store.cancel(a)  # frees the worker: b runs
        _pid(store, b)
        assert store.get(b)["status"] == "running"
    finally:
        store.close()


def test_running_jobs_are_locked_and_deleting_one_kills_its_worker(store) -> None:
    job_id = store.create({"process_graph": GRAPH}, title="a", job_options={"memory": 4})["id"]
    warned = store.logs(job_id, level="warning")["logs"]
    assert [e["message"] for e in warned] == ["not used by this back-end: job_options"]
    assert _code(lambda: store.update(job_id, {"status": "finished"})) == (
        "PropertyNotEditable",
        400,
    )
    assert _code(lambda: store.update(job_id, {"process": {"graph": {}}})) == (
        "ProcessGraphMissing",
        400,
    )
    store.start(job_id)
    pid = _pid(store, job_id)
    assert _code(lambda: store.update(job_id, {"title": "b"})) == ("JobLocked", 400)
    store.delete(job_id)
    assert not _alive(pid)
    assert not (store.jobs_dir / job_id).exists()
    assert _code(lambda: store.get(job_id)) == ("JobNotFound", 404)
    assert _code(lambda: store.get("../../etc")) == ("JobNotFound", 404)


def test_logs_page_by_offset_and_level(store) -> None:
    from vegcube.serve.jobs import append_log

    job_id = store.create({"process_graph": GRAPH})["id"]
    folder = store.jobs_dir / job_id
    append_log(folder, "debug", "reading")
    append_log(folder, "warning", "few scenes")
    append_log(folder, "error", "failed", code="Internal")
    logs = store.logs(job_id)["logs"]
    assert [e["id"] for e in logs] == ["0", "1", "2", "3"]
    assert [e["message"] for e in store.logs(job_id, offset="1")["logs"]] == [
        "few scenes",
        "failed",
    ]
    assert [e["level"] for e in store.logs(job_id, level="warning")["logs"]] == [
        "warning",
        "error",
    ]
    page = store.logs(job_id, limit=2)
    assert len(page["logs"]) == 2 and page["links"][0]["href"] == "?offset=1&limit=2"
    assert _code(lambda: store.logs(job_id, level="loud")) == ("BadRequest", 400)


def test_a_worker_may_write_only_while_the_job_is_its_own(store) -> None:
    job_id = store.create({"process_graph": GRAPH})["id"]
    folder = store.jobs_dir / job_id
    update_job(folder, run="r1")
    assert update_job(folder, expect_run="r1", progress=50)
    assert not update_job(folder, expect_run="r0", status="finished")
    job = read_job(folder)
    assert (job["status"], job["progress"]) == ("created", 50)
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "job.json", "logs.jsonl"]
