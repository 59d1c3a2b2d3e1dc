"""`OUT/state.sqlite`: the units of work of a run and their state, so a rerun resumes.

A unit is a stage (`composites`, `reference`, …) and a part of it (a block of time steps of
a Zarr store, or `all`). SQLite commits are atomic, so a run killed at any moment (SIGKILL
included) leaves a state that says exactly which units finished. A different recipe or
scene list (the fingerprint) starts the state afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Stage", "State", "fingerprint", "kept", "latency", "status", "summary"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS units (
    stage TEXT, unit TEXT, status TEXT, pid INTEGER, started TEXT, finished TEXT, error TEXT,
    PRIMARY KEY (stage, unit)
);
CREATE TABLE IF NOT EXISTS seen (
    item TEXT PRIMARY KEY, collection TEXT, acquired TEXT, first_seen TEXT, by_update INTEGER
);
"""


def fingerprint(recipe: dict[str, Any], items: list[str]) -> str:
    """What the outputs depend on: the recipe (less presentation) and the scenes used."""
    kept = {k: v for k, v in recipe.items() if k not in ("name", "dask")}
    text = json.dumps({"recipe": kept, "items": sorted(items)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class State:
    """Units of work in `path` (SQLite), keyed to a fingerprint of what they compute."""

    def __init__(self, path: Path, *, fingerprint: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        self.resumed = row is not None and row[0] == fingerprint
        if not self.resumed:
            with self._db:
                self._db.execute("DELETE FROM units")
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (fingerprint,)
                )

    def close(self) -> None:
        self._db.close()

    def rekey(self, fingerprint: str) -> None:
        """Say that the units done compute what `fingerprint` describes (an update that
        finished: its stores hold what a run of the new recipe writes)."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
        self.resumed = True

    def seen(self, items: list[Any], *, by_update: bool) -> int:
        """Record when each item was first seen (kept across runs); returns how many are new.

        Items first seen by an update measure the product latency of a routine service:
        acquisition → first seen by vegcube (`latency`).
        """
        from .catalog import acquired

        now = _now()
        rows = [
            (
                it.id,
                it.collection_id or "",
                acquired(it).isoformat(),
                now,
                int(by_update),
            )
            for it in items
        ]
        with self._db:
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?)", rows)
            return self._db.total_changes - before

    def stage(self, name: str) -> Stage:
        """The units of one stage."""
        return Stage(self, name)

    def done(self, stage: str, unit: str = "all") -> bool:
        row = self._db.execute(
            "SELECT status FROM units WHERE stage = ? AND unit = ?", (stage, unit)
        ).fetchone()
        return row is not None and row[0] == "done"

    def set(self, stage: str, unit: str, status: str, error: str | None = None) -> None:
        """Record `status` (pending, running, done, failed) of a unit."""
        started = _now() if status == "running" else None
        finished = _now() if status in ("done", "failed") else None
        self._db.execute(
            "INSERT INTO units VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stage, unit) DO UPDATE "
            "SET status = excluded.status, pid = excluded.pid, error = excluded.error, "
            "started = COALESCE(excluded.started, started), "
            "finished = COALESCE(excluded.finished, finished)",
            (stage, unit, status, os.getpid(), started, finished, error),
        )

    def running_to_failed(self, error: str) -> None:
        """Mark this process's running units failed (the run raised)."""
        self._db.execute(
            "UPDATE units SET status = 'failed', error = ?, finished = ? "
            "WHERE status = 'running' AND pid = ?",
            (error, _now(), os.getpid()),
        )


@dataclass
class Stage:
    """The units of one stage: what `export.write_zarr` checks and records per time block."""

    state: State
    name: str

    def plan(self, units: list[str]) -> None:
        """Record the units this stage will have (pending unless already known)."""
        for unit in units:
            self.state._db.execute(
                "INSERT OR IGNORE INTO units (stage, unit, status) VALUES (?, ?, 'pending')",
                (self.name, unit),
            )

    def done(self, unit: str = "all") -> bool:
        return self.state.done(self.name, unit)

    def start(self, unit: str = "all") -> None:
        self.state.set(self.name, unit, "running")

    def finish(self, unit: str = "all") -> None:
        self.state.set(self.name, unit, "done")

    def reset(self) -> None:
        """Forget the units of this stage (its partial output is being started afresh)."""
        self.state._db.execute("DELETE FROM units WHERE stage = ?", (self.name,))


def _reader(path: Path) -> sqlite3.Connection:
    """A connection to read `path`. A run killed inside a write leaves a hot journal, which a
    read-only connection cannot roll back ("attempt to write a readonly database"): then the
    database is opened for writing, which rolls the unfinished write back, as SQLite means."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
        return sqlite3.connect(path, timeout=30)


def summary(path: Path) -> list[dict[str, Any]]:
    """Per stage: counts of units done, running, interrupted, failed and pending."""
    db = _reader(path)
    try:
        rows = db.execute(
            "SELECT stage, status, pid, error, MIN(rowid) FROM units "
            "GROUP BY stage, unit ORDER BY MIN(rowid)"
        ).fetchall()
    finally:
        db.close()
    stages: dict[str, dict[str, Any]] = {}
    for stage, status, pid, error, _ in rows:
        entry = stages.setdefault(
            stage,
            {"stage": stage, "done": 0, "running": 0, "interrupted": 0, "failed": 0,
             "pending": 0, "errors": []},
        )  # fmt: skip
        if status == "running" and not _alive(pid):
            status = "interrupted"
        entry[status] = entry.get(status, 0) + 1
        if error:
            entry["errors"].append(error)
    return list(stages.values())


def latency(path: Path) -> dict[str, dict[str, Any]]:
    """Observed latency per collection: days from acquisition to the update that first saw
    each item (items seen by the first run are history, not latency): items, median, min, max."""
    from .catalog import _spread

    db = _reader(path)
    try:
        exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'seen'").fetchone()
        rows = (
            db.execute("SELECT collection, acquired, first_seen FROM seen WHERE by_update = 1")
            if exists
            else []
        )
        days: dict[str, list[float]] = {}
        for coll, acquired, first in rows:
            delta = dt.datetime.fromisoformat(first) - dt.datetime.fromisoformat(acquired)
            days.setdefault(coll, []).append(delta.total_seconds() / 86400)
    finally:
        db.close()
    return {c: _spread(d) for c, d in sorted(days.items())}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(out: str | os.PathLike[str]) -> dict[str, Any]:
    """What `vegcube status OUT` shows: the run's status, its stages' units, its logs.

    Raises `RecipeError` (exit 2) when `out` holds no run.
    """
    from .errors import RecipeError

    out = Path(out)
    meta_path, db = out / "run.json", out / "state.sqlite"
    if not meta_path.is_file():
        raise RecipeError(f"OUT: {out} holds no vegcube run (no run.json)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    logs = sorted((out / "log").glob("*.log")) if (out / "log").is_dir() else []
    headline = meta.get("status")
    if headline in ("running", "updating") and not _alive(meta.get("pid")):
        headline = "interrupted"  # killed: no process is writing it any more
    return {
        "out": str(out),
        "name": meta.get("recipe", {}).get("name"),
        "status": headline,
        "started": meta.get("started"),
        "time": meta.get("recipe", {}).get("time"),
        "error": meta.get("error"),
        "updates": len(meta.get("updates", [])),
        "stages": summary(db) if db.is_file() else [],
        "latency": latency(db) if db.is_file() else {},
        "log": str(logs[-1]) if logs else None,
    }


def kept(out: str | os.PathLike[str], *, since: dt.datetime, pid: int | None = None) -> str:
    """What a run (or update) that failed left in `out`, in a sentence or two for its error
    message: the units of work done and kept, those not written, and what a rerun does.

    `since` is when the failing command started and `pid` its process (default: this one):
    a `run.json` older than that, or of another process, is an earlier run's — the failure
    came before this run wrote anything. Reads `run.json` and the journal read-only; raises
    (OSError, ValueError, sqlite3.Error, …) when they cannot be read, for the caller to fall
    back to a generic text.
    """
    out = Path(out)
    again = "Fix the cause and run the same command again"
    meta_path = out / "run.json"
    if not meta_path.is_file():
        return f"Nothing was written to {out} yet. {again}."
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    updates = meta.get("updates") or []
    started = updates[-1].get("started") if updates else meta.get("started")
    ours = (
        meta.get("pid") == (os.getpid() if pid is None else pid)
        and meta.get("status") == "failed"
        and started is not None
        and dt.datetime.fromisoformat(started) >= since.replace(microsecond=0)
    )
    if not ours:
        return f"This run wrote nothing to {out} (what it held is untouched). {again}."
    if updates:  # an update writes its window into the stores in place: redone from its start
        first = updates[-1].get("from")
        return (
            f"Kept in {out}: the outputs before {first} as the last run left them; the "
            f"periods from {first} on may be partly rewritten; run.json records the failure. "
            f"{again}: the update is redone from {first}."
        )
    done, partial = _kept_units(out)
    planned = _planned(meta.get("recipe") or {})
    listed = [*done, *(name for name, _ in partial)]
    missing = [name for name in planned if name not in listed]
    if not done and not partial:
        return f"This run wrote no output to {out} yet; run.json records the failure. {again}."
    parts = [*done, *(f"{name} ({what})" for name, what in partial)]
    text = f"Kept in {out}: {', '.join(parts)}"
    if missing:
        text += f"; not written yet: {', '.join(missing)}"
    return f"{text}. run.json records the failure. {again}: it resumes from what is kept."


def _kept_units(out: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Stages of the journal done whole, and those with some blocks of time steps done
    (with "k of n blocks, first..last period")."""
    db = sqlite3.connect(f"file:{out / 'state.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT stage, unit, status FROM units ORDER BY rowid").fetchall()
    finally:
        db.close()
    stages: dict[str, dict[str, str]] = {}
    for stage, unit, status in rows:
        stages.setdefault(stage, {})[unit] = status
    done, partial = [], []
    for stage, units in stages.items():
        if units.get("all") == "done":
            done.append(stage)
            continue
        blocks = {u: s for u, s in units.items() if _BLOCK.fullmatch(u)}
        finished = [u for u, s in blocks.items() if s == "done"]
        if finished:
            spans = [tuple(map(int, _BLOCK.fullmatch(u).groups())) for u in finished]  # type: ignore[union-attr]
            partial.append(
                (stage, f"{len(finished)} of {len(blocks)} blocks{_periods(out, stage, spans)}")
            )
    return done, partial


_BLOCK = re.compile(r"time (\d+)-(\d+)")


def _periods(out: Path, stage: str, spans: list[tuple[int, ...]]) -> str:
    """ ", 2019-01-01..2020-12-21": the periods of the blocks `spans` (start, stop) of the
    stage's unfinished store, as their first and last time step; "" if it cannot be read."""
    try:
        import xarray as xr

        with xr.open_zarr(out / f".{stage}.zarr.partial", consolidated=True) as ds:
            times = ds["time"].values
        steps = sorted(i for a, b in spans for i in range(a, min(b, len(times))))
        first, last = (str(times[i])[:10] for i in (steps[0], steps[-1]))
    except Exception:  # the count alone is still true
        return ""
    return f", {first}..{last}"


def _planned(recipe: dict[str, Any]) -> list[str]:
    """The units of work (stages) a run of `recipe` writes, in order (as `chain.STAGES`)."""
    output = recipe.get("output") or {}
    formats = output.get("formats") or []
    names = ["composites"]
    if recipe.get("gapfill"):
        names.append("gapfilled")
    if recipe.get("reference"):
        names.append("reference")
        if recipe.get("indicators"):
            names.append("indicators")
    from .export import WRITERS  # the formats written after the stores, in registry order

    names += [w.name for w in WRITERS.values() if w.write is not None and w.name in formats]
    if recipe.get("regions"):
        names.append("zonal")
    if output.get("report") and recipe.get("reference"):
        names.append("report")
    return names
