"""The journal: a failure is recorded in run.json and logged with its traceback."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from vegcube import journal
from vegcube.chain import STAGES, Window


def test_a_failure_is_logged_with_its_traceback(tmp_path):
    result = journal.RunResult(tmp_path)
    said: list[str] = []

    def deep_inside_a_stage() -> None:
        raise RuntimeError("a bug in a stage")

    with pytest.raises(RuntimeError), journal.record({"x": 1}, result, log=said.append) as say:
        say("composites …")
        deep_inside_a_stage()
    log = next((tmp_path / "log").glob("run-*.log")).read_text()
    assert "composites …" in log and "failed: RuntimeError: a bug in a stage" in log
    assert "Traceback (most recent call last)" in log and "deep_inside_a_stage" in log
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["status"] == "failed" and meta["error"] == "RuntimeError: a bug in a stage"
    assert said == ["composites …"]  # the user sees the message, the log keeps the traceback


def test_one_chain_for_runs_and_updates():
    """`run` and `update` drive the same stages; the window says what they recompute."""
    names = [s.__name__ for s in STAGES]
    assert names[:3] == ["composites_stage", "gapfill_stage", "reference_stage"]
    assert names.index("zonal_stage") < names.index("report_stage")
    assert Window().fresh  # a run: everything
    since = pd.Timestamp("2024-01-01")
    assert not Window(since, rebuild_reference=False).fresh  # an update keeps the reference
    assert Window(since, rebuild_reference=True).fresh
