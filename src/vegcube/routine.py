"""Routine mode: extend an existing output folder to the recipe's new end date.

Only the new periods (and those still provisional) are searched, loaded, composited and
written into the existing Zarr stores, COGs and tables; the history is not recomputed and
the reference is kept unless asked to rebuild it. Running the same update twice changes
nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from . import chain, composite, export, journal
from .errors import RecipeError
from .journal import RunResult
from .planning import plan, storage_options
from .recipe import Recipe, load_recipe
from .state import State, fingerprint

__all__ = ["update"]

#: recipe fields an update may change; the others define the history and must stay
_FREE = ("name", "time.end", "dask.", "output.report")
#: fields that change only what is computed from the composites: allowed with a rebuild
_REBUILT = ("reference.", "drought_classes.", "indicators", "gapfill")


def update(
    recipe: Recipe | dict[str, Any] | str | os.PathLike[str],
    *,
    rebuild_reference: bool = False,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Append the periods up to the recipe's `time.end` to the outputs of an earlier run.

    Periods marked provisional by the last run are recomputed. With `rebuild_reference`,
    the gap-filled series, reference and indicators are recomputed from the stored
    composites (no scene is read again for the history). Raises `RecipeError` (exit 2) when
    `output.dir` holds no finished run or the recipe changed more than its end date.
    """
    say = log or (lambda msg: None)
    t0 = time.perf_counter()
    rc = load_recipe(recipe)
    out = Path(rc.output.dir)
    meta = _previous(out)
    _check_compatible(Recipe.model_validate(meta["recipe"]), rc, rebuild=rebuild_reference)
    comp = xr.open_zarr(out / "composites.zarr")
    first = _first_open(comp, meta)
    spec = rc.composite
    pad = dt.timedelta(days=composite.get(spec.reducer).reach_days(spec.params))
    start = max(rc.time.start, (first - pad).date())
    result = RunResult(out)
    if first.date() > rc.time.end:
        say(f"up to date: the outputs reach {rc.time.end}")
        if rebuild_reference:
            say("nothing new to append: to rebuild the reference alone, run `vegcube run`")
        return result
    span = rc.model_copy(update={"time": rc.time.model_copy(update={"start": start})})
    p = plan(span.model_copy(update={"reference": None}))  # no reference check on new data
    p = dataclasses.replace(p, recipe=span)
    known = set(meta.get("items", []))
    new = [it.id for it in p.items if it.id not in known]
    last = pd.Timestamp(comp.time.values[-1])
    more = composite.periods(rc.time.start, rc.time.end, spec.period)["start"].iloc[-1] > last
    if not new and not rebuild_reference and not (more and p.items):
        say("up to date: no new scenes")
        return result
    say(f"update from {first.date()}: {len(p.items)} scenes, {len(new)} new")
    interrupted = meta.get("update_from") is not None
    meta.update(
        recipe=rc.model_dump(mode="json"),
        status="updating",
        update_from=str(first.date()),
        pid=os.getpid(),
    )
    export.write_json(meta, out / "run.json")  # a killed update restarts from here
    record = {
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "from": str(first.date()),
        "to": str(rc.time.end),
        "new_items": len(new),
        "rebuild_reference": rebuild_reference,
        "values": p.value_rules,
        "duplicates": p.duplicates,
        **({"lst": {"without_band": p.lst_without_band}} if rc.lst is not None else {}),
    }
    meta["items"] = sorted(known | {it.id for it in p.items})
    meta["updates"] = [*meta.get("updates", []), record]
    # the update's units of work: an interrupted update resumes them, a new one starts afresh
    key = meta.get("update_key") if interrupted else None
    meta["update_key"] = key or f"update {record['started']} from {first.date()}"
    whole = fingerprint(meta["recipe"], meta["items"])
    state = State(out / "state.sqlite", fingerprint=f"{whole} {meta['update_key']}")
    with journal.record(meta, result, state=state, log=say, kind="update") as say:
        state.seen(p.items, by_update=True)
        journal.say_conflicts(p, say)
        storage = storage_options(p)
        window = chain.Window(since=first, rebuild_reference=rebuild_reference)
        with chain.environment(rc.dask.scheduler, catalog_name=rc.source.catalog, storage=storage):
            chain.execute(p, result, say, window=window, state=state)
        result.timings["total"] = round(time.perf_counter() - t0, 3)
        record["timings_s"] = dict(result.timings)
        if rc.alerts:  # what the routine's readers act on: alerts raised and ended
            record["alerts"] = result.alert_changes
        # the stores now hold what a run of the new recipe would write: the state says so
        state.rekey(whole)
        # kept until the update is done: a failed one (run.json "failed") is redone from there
        meta.pop("update_from")
        meta.pop("update_key")
    return result


def _previous(out: Path) -> dict[str, Any]:
    """`run.json` of the run to extend; `RecipeError` if there is none to extend."""
    path = out / "run.json"
    if not path.is_file() or not (out / "composites.zarr").is_dir():
        raise RecipeError(
            f"output.dir: {out} holds no earlier run (run.json and composites.zarr); "
            "run `vegcube run RECIPE` once first, then `vegcube update RECIPE`"
        )
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("status") not in ("done", "updating", "failed") or (
        meta.get("status") == "failed" and "update_from" not in meta and not meta.get("updates")
    ):
        raise RecipeError(
            f"{path}: the run did not finish (status {meta.get('status')!r}); "
            "run `vegcube run RECIPE` again before updating"
        )
    return meta


def _first_open(comp: xr.Dataset, meta: dict[str, Any]) -> pd.Timestamp:
    """Start of the first period to (re)compute: the first provisional one, else the next."""
    times = pd.DatetimeIndex(comp.time.values)
    flags = comp["provisional"].values if "provisional" in comp.coords else [False] * len(times)
    first = next(
        (t for t, f in zip(times, flags, strict=True) if f),
        pd.Timestamp(comp.period_end.values[-1]) + pd.Timedelta(days=1),
    )
    if meta.get("update_from"):  # an interrupted update: redo all it may have touched
        first = min(first, pd.Timestamp(meta["update_from"]))
    return first


def _check_compatible(old: Recipe, new: Recipe, *, rebuild: bool) -> None:
    """Only the end date (and presentation) may change; the history's definition may not."""
    changed = _differences(old.model_dump(mode="json"), new.model_dump(mode="json"))
    problems = []
    for key in changed:
        if key.startswith(_FREE) or key in _FREE:
            continue
        if key.startswith(_REBUILT):
            if not rebuild:
                problems.append(f"{key}: changed since the last run; add --rebuild-reference")
            continue
        problems.append(
            f"{key}: changed since the last run; an update only extends time.end "
            "(run `vegcube run` into a new output.dir to change it)"
        )
    if new.time.end < old.time.end:
        problems.append(f"time.end: {new.time.end} is before the last run's {old.time.end}")
    if problems:
        raise RecipeError("; ".join(problems), problems=problems)


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]
