"""Shared CLI pieces: console, quiet option, and turning vegcube errors into exit codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import VegcubeError

console = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Settings:
    """Options of the `vegcube` command itself (before the subcommand)."""

    #: print the traceback of a failure (`--traceback`)
    traceback: bool = False


settings = Settings()

QuietOption = typer.Option(False, "--quiet", "-q", help="Print only errors (for cron).")


@contextmanager
def progress(quiet: bool) -> Iterator[Callable[[str], None]]:
    """Stage messages and a progress bar of the dask tasks computing them; silent when `quiet`."""
    if quiet:
        yield lambda msg: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("  {task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar, _dask_bar(bar):
        yield lambda msg: bar.console.print(f"[dim]›[/] {msg}")


def _dask_bar(bar: Any) -> Any:
    """A dask callback advancing a rich progress bar as the local scheduler finishes tasks
    (dask imported here: the CLI starts without it)."""
    from dask.callbacks import Callback

    class DaskBar(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.task: Any = None

        def _start_state(self, dsk: Any, state: Any) -> None:
            self.task = bar.add_task("computing", total=len(dsk))

        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            bar.advance(self.task)

        def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
            bar.remove_task(self.task)

    return DaskBar()


@contextmanager
def exit_codes(
    *, out: Callable[[], Path | None] | None = None, rerun: str | None = None
) -> Iterator[None]:
    """Print a vegcube error plainly and exit with its code (2 bad input, 1 run failure).

    A failure (exit 1) says what is kept: with `out` (the output folder of a run, update or
    demo, computed when needed), the units of work its journal records as done and what a
    rerun does (`state.kept`); else `rerun`, or that running the command again is safe.
    """
    since = dt.datetime.now(dt.timezone.utc)
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        if settings.traceback:
            console.print_exception()
        if isinstance(exc, VegcubeError):
            kind = "bad input" if exc.exit_code == 2 else "failed"
            hint = "" if exc.exit_code == 2 else f"\n{_kept(out, rerun, since)}"
            text, code = f"{kind}):[/] {escape(str(exc))}{hint}", exc.exit_code
        else:  # a failure during the run: say what, keep the exit code 1
            what = escape(f"{type(exc).__name__}: {exc}")
            text, code = f"failed):[/] {what}\n{_kept(out, rerun, since)}", 1
        # messages quote user values ("[west, south, east, north]"): never read them as markup
        console.print(f"[bold red]error ({text}", soft_wrap=True)
        raise typer.Exit(code) from None


def recipe_out(recipe: Path) -> Callable[[], Path | None]:
    """The output folder of the recipe file `recipe`, read when a failure needs it."""

    def out() -> Path | None:
        from ..recipe import load_recipe

        return Path(load_recipe(recipe).output.dir)

    return out


def _kept(out: Callable[[], Path | None] | None, rerun: str | None, since: dt.datetime) -> str:
    """What a failure left, as `state.kept` reads it from the output folder; never raises
    (the generic text when the folder or its journal cannot be read)."""
    if out is None:
        return escape(rerun or _AGAIN)
    try:
        from ..state import kept

        folder = out()
        if folder is not None:
            return escape(kept(folder, since=since))
    except Exception:  # the journal cannot be read: say what is always true
        pass
    return _RESUME


_AGAIN = "Fix the cause and run the same command again."
_RESUME = (
    "Outputs already written are kept; run.json records the failure. "
    "Fix the cause and run the same command again."
)
