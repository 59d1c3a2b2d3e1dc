"""What the stages of the chain share: the window of periods a run computes, and the context
(plan, journal, products so far) with the store, kept and timed helpers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from .. import export, journal
from ..journal import RunResult
from ..planning import Plan
from ..recipe import Recipe
from ..state import State

__all__ = ["Context", "Window"]


@dataclass(frozen=True)
class Window:
    """Which periods a run computes from scenes: all (`since` None: a run), or those from
    `since` on (an update, which writes them into the existing stores); and whether the
    reference and indicators are computed over the whole series (a run, or an update that
    rebuilds the reference) or the reference is kept."""

    since: pd.Timestamp | None = None
    rebuild_reference: bool = True

    @property
    def fresh(self) -> bool:
        """The reference (and every indicator) is computed anew."""
        return self.since is None or self.rebuild_reference


@dataclass
class Context:
    """What the stages share: the plan, the window, the journal, and the products so far."""

    plan: Plan
    window: Window
    result: RunResult
    say: Callable[[str], None]
    state: State | None = None
    #: Zarr products written so far (composites, gapfilled, indicators), read back lazily
    products: dict[str, xr.Dataset] = field(default_factory=dict)
    #: what the reference and indicators are computed from (composites, or the filled series)
    series: xr.Dataset | None = None
    reference: xr.Dataset | None = None
    zonal: pd.DataFrame | None = None
    alerts: pd.DataFrame | None = None

    @property
    def recipe(self) -> Recipe:
        return self.plan.recipe

    @property
    def out(self) -> Path:
        return self.result.out

    def store(
        self, name: str, ds: xr.Dataset, *, whole: bool = False, at_once: bool = False
    ) -> xr.Dataset:
        """Write `ds` as `OUT/<name>.zarr` (in an update, only the periods of the window,
        unless `whole`) and read it back; a store an earlier attempt finished is kept.
        `at_once`: one computation for the whole series (one unit of work), for a stage
        whose every period needs the whole series (gap filling): written in blocks of
        periods, each block would compute it again."""
        t = time.perf_counter()
        self.say(f"{name} …")
        path = self.out / f"{name}.zarr"
        state, since = self.state, self.window.since
        if self.kept(name, path):
            self.result.outputs[name] = path
            return xr.open_zarr(path)
        if since is None or whole:
            units = state.stage(name) if state is not None else None
            whole_series = {"block_steps": 2**31, "block_bytes": 2**62} if at_once else {}
            self.result.outputs[name] = export.write_zarr(ds, path, units=units, **whole_series)
        else:  # an update: the window's periods written into the store in place
            if state is not None:
                state.set(name, "all", "running")
            self.result.outputs[name] = export.append_zarr(ds.sel(time=ds.time >= since), path)
        if state is not None:
            state.set(name, "all", "done")
        self.result.timings[name] = round(time.perf_counter() - t, 3)
        self.say(f"{name} written in {self.result.timings[name]:.1f} s")
        return xr.open_zarr(path)

    def kept(self, name: str, *paths: Path) -> bool:
        """An output an earlier attempt of this run finished (its unit done, its files
        there): kept, not written again; its paths are recorded as this run's outputs."""
        if self.state is None or not self.state.done(name) or not all(p.exists() for p in paths):
            return False
        self.say(f"{name}: written by an earlier attempt, kept")
        return True

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """An output written whole (NetCDF, COGs, tables, report): a unit of work, timed."""
        t = time.perf_counter()
        self.say(f"{name} …")
        with journal.unit(self.state, name):
            yield
        self.result.timings[name] = round(time.perf_counter() - t, 3)
