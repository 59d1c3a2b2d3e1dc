"""The journal survives kills: a database left mid-write (a hot journal) is still readable."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from vegcube.state import State, kept, summary


def test_status_reads_a_database_killed_inside_a_write(tmp_path):
    path = tmp_path / "state.sqlite"
    state = State(path, fingerprint="f")
    stage = state.stage("composites")
    stage.plan([f"time{i}" for i in range(2000)])
    for i in range(2000):
        stage.start(f"time{i}")
        stage.finish(f"time{i}")
    state.close()
    # a process killed inside a write transaction leaves a hot rollback journal
    code = (
        "import os, sqlite3\n"
        f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "db.execute('PRAGMA cache_size=1')\n"  # spill pages: the database file is touched
        "db.execute('BEGIN IMMEDIATE')\n"
        "db.execute(\"UPDATE units SET status = 'running'\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "state.sqlite-journal").exists()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # what status hit before
        sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute(
            "SELECT count(*) FROM units"
        ).fetchone()
    (composites,) = summary(path)
    assert composites["done"] == 2000 and composites["running"] == 0  # the write rolled back


def _run_json(out, **meta):
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(meta))


def test_kept_lists_done_units_and_the_planned_rest(tmp_path):
    since = dt.datetime.now(dt.timezone.utc)
    recipe = {"gapfill": {"method": "linear"}, "reference": {"start": "2019-01-01"},
              "indicators": ["vci"], "output": {"formats": ["zarr", "netcdf", "cog"]}}  # fmt: skip
    _run_json(tmp_path, pid=os.getpid(), status="failed", started=since.isoformat(), recipe=recipe)
    state = State(tmp_path / "state.sqlite", fingerprint="f")
    comp = state.stage("composites")
    comp.plan(["init", "time 0-36", "time 36-72", "time 72-80"])
    for unit in ("init", "time 0-36", "time 36-72"):
        comp.finish(unit)
    state.close()
    text = kept(tmp_path, since=since)
    assert text.startswith(
        f"Kept in {tmp_path}: composites (2 of 3 blocks); "
    )  # no store: no dates
    assert "not written yet: gapfilled, reference, indicators, netcdf, cog." in text
    state = State(tmp_path / "state.sqlite", fingerprint="f")
    state.set("composites", "all", "done")
    state.set("gapfilled", "all", "done")
    state.close()
    assert f"Kept in {tmp_path}: composites, gapfilled; not written yet: reference," in kept(
        tmp_path, since=since
    )


def test_kept_of_another_run_or_an_update(tmp_path):
    since = dt.datetime.now(dt.timezone.utc)
    assert kept(tmp_path, since=since).startswith(f"Nothing was written to {tmp_path} yet.")
    earlier = (since - dt.timedelta(hours=1)).isoformat()
    _run_json(tmp_path, pid=os.getpid(), status="failed", started=earlier, recipe={})
    assert kept(tmp_path, since=since).startswith(f"This run wrote nothing to {tmp_path}")
    _run_json(tmp_path, pid=os.getpid() + 1, status="failed", started=since.isoformat())
    assert kept(tmp_path, since=since).startswith(f"This run wrote nothing to {tmp_path}")
    _run_json(tmp_path, pid=os.getpid(), status="failed", started=earlier, update_from="2023-01-01",
              updates=[{"started": since.isoformat(), "from": "2023-01-01"}])  # fmt: skip
    text = kept(tmp_path, since=since)
    assert "the outputs before 2023-01-01 as the last run left them" in text
    assert "the update is redone from 2023-01-01" in text
