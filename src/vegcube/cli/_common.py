"""Shared CLI pieces: console, quiet option, and turning vegcube errors into exit codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from ..errors import VegcubeError

console = Console(stderr=True, highlight=False, soft_wrap=True)

QuietOption = typer.Option(False, "--quiet", "-q", help="Print only errors (for cron).")


def logger(quiet: bool) -> Callable[[str], None]:
    """A progress printer, silent when `quiet`."""
    if quiet:
        return lambda msg: None
    return lambda msg: console.print(f"[dim]›[/] {msg}")


@contextmanager
def exit_codes() -> Iterator[None]:
    """Print a vegcube error plainly and exit with its code (2 bad input, 1 run failure)."""
    try:
        yield
    except VegcubeError as exc:
        kind = "bad input" if exc.exit_code == 2 else "failed"
        console.print(f"[bold red]error ({kind}):[/] {exc}", markup=True, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except Exception as exc:  # a failure during the run: say what, keep the exit code 1
        console.print(
            f"[bold red]error (failed):[/] {type(exc).__name__}: {exc}\n"
            "Outputs already written are kept; run.json records the failure. "
            "Fix the cause and run the same command again.",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
