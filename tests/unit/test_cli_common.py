"""The CLI's exit codes and messages when the journal is unreadable."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest


def _run_json(out, **meta):
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(meta))


def test_exit_message_falls_back_when_the_journal_is_unreadable(tmp_path, capsys):
    import typer

    from vegcube.cli._common import _RESUME, exit_codes

    since = dt.datetime.now(dt.timezone.utc).isoformat()
    _run_json(tmp_path, pid=os.getpid(), status="failed", started=since, recipe={})
    (tmp_path / "state.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(typer.Exit) as exc, exit_codes(out=lambda: tmp_path):
        raise RuntimeError("disk full")
    assert exc.value.exit_code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "RuntimeError: disk full" in err and _RESUME in err
