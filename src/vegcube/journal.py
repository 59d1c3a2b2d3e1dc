"""The journal of a run: what it did, where, and how far it got.

`OUT/run.json` (recipe, versions, scenes, value rules, timings, status), `OUT/log/` (one log
per run or update, with the traceback of a failure) and `OUT/state.sqlite` (the units of
work, `state`): a rerun resumes from them and `vegcube status` reads them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import os
import platform
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import export
from .planning import Plan
from .recipe import Recipe
from .state import State

__all__ = ["RunResult", "meta", "record", "say_conflicts", "unit"]

_VERSIONED = (
    "vegcube",
    "numpy",
    "xarray",
    "dask",
    "odc-stac",
    "odc-geo",
    "rasterio",
    "pystac",
    "pystac-client",
    "zarr",
    "spyndex",
    "pydantic",
)


@dataclass
class RunResult:
    """Paths of what a run wrote."""

    out: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: an update's alerts: raised and ended (`alerts.changes`); empty for a run
    alert_changes: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def say_conflicts(p: Plan, say: Callable[[str], None]) -> None:
    """Contradictions in the items' metadata and the rule applied: once per run, not per item."""
    for c in p.value_rules.get("conflicts", []):
        say(
            f"{c['collection']} {c['band']}: {c['conflict']} ({c['items']} items, e.g. "
            f"{', '.join(c['examples'])})"
        )
    if p.duplicates:
        say(f"{len(p.duplicates)} scenes found in several collections: each used once")
    if p.lst_without_band:
        say(f"lst: {len(p.lst_without_band)} scenes without a thermal asset left out")


@contextlib.contextmanager
def record(
    meta: dict[str, Any],
    result: RunResult,
    *,
    state: State | None = None,
    log: Callable[[str], None],
    kind: str = "run",
) -> Iterator[Callable[[str], None]]:
    """Log to `OUT/log/<kind>-<time>.log` (and `log`); write `run.json` with status done,
    or failed (and the error) if the block raises."""
    folder = result.out / "log"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    with open(folder / f"{kind}-{stamp}.log", "a", encoding="utf-8") as file:

        def say(msg: str) -> None:
            file.write(f"{dt.datetime.now(dt.timezone.utc):%H:%M:%S} {msg}\n")
            file.flush()
            log(msg)

        try:
            yield say
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            file.write(f"failed: {error}\n")
            if not isinstance(exc, KeyboardInterrupt):  # where it failed, for a bug report
                file.write("".join(traceback.format_exception(exc)))
            if state is not None:
                state.running_to_failed(error)
            status = {"status": "failed", "error": error}
            export.write_json(
                {**meta, **status, "timings_s": result.timings}, result.out / "run.json"
            )
            raise
        finally:
            if state is not None:
                state.close()
        file.write("done\n")
    done = {
        **meta,
        "status": "done",
        "timings_s": result.timings,
        "outputs": {k: str(v) for k, v in result.outputs.items()},
    }
    export.write_json(done, result.out / "run.json")


@contextlib.contextmanager
def unit(state: State | None, name: str) -> Iterator[None]:
    """An output written whole (NetCDF, COGs, tables, report) as a unit of work `status`
    shows: running, then done (failed if the block raises: `_recording` marks it)."""
    if state is not None:
        state.set(name, "all", "running")
    yield
    if state is not None:
        state.set(name, "all", "done")


def meta(rc: Recipe, p: Plan) -> dict[str, Any]:
    """What `run.json` records of a run before it starts."""
    versions = {}
    for name in _VERSIONED:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "vegcube_run": 1,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "recipe": rc.model_dump(mode="json"),
        "python": platform.python_version(),
        "versions": versions,
        "pid": os.getpid(),  # `vegcube status` tells a killed run from a running one
        "items": [it.id for it in p.items],
        # DN → value rule per collection and band, and the contradictions in item metadata
        "values": p.value_rules,
        # the same acquisition in several collections: the id left out → the id used
        "duplicates": p.duplicates,
        **(
            {"lst": {"items": [it.id for it in p.lst_items], "without_band": p.lst_without_band}}
            if rc.lst is not None
            else {}
        ),
    }
