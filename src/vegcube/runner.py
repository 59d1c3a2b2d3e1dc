"""`vegcube run`: plan → chain over the whole series → journal.

The same execution as `vegcube update` (`routine`), over the whole window: every period is
computed from the scenes, the reference and indicators too. A rerun after a failure or a
kill resumes from the units of work the journal records as done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import calibrate, chain, export, journal
from .journal import RunResult
from .planning import Plan, plan, storage_options
from .recipe import Recipe
from .state import State, fingerprint

__all__ = ["Plan", "RunResult", "plan", "run"]


def run(
    recipe: Recipe | dict[str, Any] | str | os.PathLike[str],
    *,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Run the whole chain of a recipe and write DESIGN.md's output layout under `output.dir`."""
    say = log or (lambda msg: None)
    t0 = time.perf_counter()
    p = plan(recipe)
    rc = p.recipe
    # an unreachable scheduler is bad input: found before anything is written into OUT
    with chain.environment(
        rc.dask.scheduler, catalog_name=rc.source.catalog, storage=storage_options(p)
    ):
        out = Path(rc.output.dir)
        out.mkdir(parents=True, exist_ok=True)
        result = RunResult(out)
        result.timings["plan"] = time.perf_counter() - t0
        say(f"{len(p.items)} scenes, grid {p.grid.shape.x}×{p.grid.shape.y} px in {p.grid.crs}")
        meta = journal.meta(rc, p)
        export.write_json({**meta, "status": "running"}, out / "run.json")
        state = State(out / "state.sqlite", fingerprint=fingerprint(meta["recipe"], meta["items"]))
        with journal.record(meta, result, state=state, log=say) as say:
            state.seen(p.items, by_update=False)
            journal.say_conflicts(p, say)
            if state.resumed:
                say("resuming: units of work finished by an earlier attempt are kept")
            chain.execute(p, result, say, window=chain.Window(), state=state)
            if rc.source.calibrate is not None or (rc.lst is not None and rc.lst.calibrate):
                meta["calibration"] = calibrate.from_store(out / "composites.zarr")
            result.timings["total"] = time.perf_counter() - t0
    return result
