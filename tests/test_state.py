"""The journal survives kills: a database left mid-write (a hot journal) is still readable."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from vegcube.state import State, summary


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
