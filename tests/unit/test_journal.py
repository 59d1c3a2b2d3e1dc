"""The journal: a failure is recorded in run.json and logged with its traceback."""

from __future__ import annotations

import json

import pytest

from vegcube import journal


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
