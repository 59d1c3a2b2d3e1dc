"""`vegcube download RECIPE --to DIR`: mirror the assets a recipe needs, clipped to its AOI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ._common import QuietOption, console, exit_codes

if TYPE_CHECKING:
    from ..download import DownloadProgress


def download(
    recipe: Path = typer.Argument(..., help="Recipe file (YAML or TOML)."),
    to: Path = typer.Option(..., "--to", help="Folder of the mirror (created if missing)."),
    workers: int = typer.Option(4, "--workers", "-w", min=1, help="Files fetched at once."),
    no_clip: bool = typer.Option(
        False, "--no-clip", help="Copy whole files instead of the AOI window (range reads)."
    ),
    margin: int = typer.Option(
        8, "--margin", min=0, help="Pixels kept around the AOI window of each asset."
    ),
    max_wait: float = typer.Option(
        3600.0,
        "--max-wait",
        min=0,
        help="Seconds to wait for files the archive is staging (HTTP 202) before failing.",
    ),
    poll: float = typer.Option(
        10.0, "--poll", min=0.01, help="First wait (s) before re-checking a staging file."
    ),
    quiet: bool = QuietOption,
) -> None:
    """Download the recipe's assets (its bands and QA band) into a local COG mirror.

    Writes DIR/catalog.json, a static STAC catalog usable as the recipe's source.catalog.
    A rerun skips complete files and resumes partial ones. Credentials: VEGCUBE_HTTP_TOKEN
    (a bearer token; an Earthdata token for NASA's archives) or ~/.netrc; never printed or
    written. VIIRS granules (HDF5, from CMR-STAC) are fetched whole and converted to COGs.
    """
    from ..download import download as mirror_download

    with exit_codes(rerun=_RERUN), _progress(quiet) as (say, show):
        mirror = mirror_download(
            recipe,
            to=to,
            workers=workers,
            clip=not no_clip,
            margin=margin,
            max_wait=max_wait,
            poll=poll,
            log=say,
            progress=show,
        )
    if not quiet:
        skipped = sum(f.mode == "skipped" for f in mirror.files)
        console.print(
            f"[green]done[/] in {mirror.seconds:.1f} s: {len(mirror.files)} files "
            f"({skipped} already complete), {mirror.bytes / 1e6:.1f} MB written, "
            f"{mirror.retries} retries, {mirror.polls} staging polls"
        )
        console.print(f"  catalog              {mirror.catalog}")


_RERUN = (
    "Files already downloaded are kept: fix the cause and run the same command again; it "
    "skips complete files and resumes partial ones."
)


@contextmanager
def _progress(
    quiet: bool,
) -> Iterator[tuple[Callable[[str], None], Callable[[DownloadProgress], None] | None]]:
    """A bar of files done, with the bytes written and the files staging; silent when quiet."""
    if quiet:
        yield (lambda msg: None), None
        return
    from rich.filesize import decimal
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("  files"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("files", total=None, detail="")

        def show(p: DownloadProgress) -> None:
            detail = decimal(p.bytes) + (f", {p.staging} staging" if p.staging else "")
            bar.update(task, completed=p.files_done, total=p.files_total, detail=detail)

        yield (lambda msg: bar.console.print(f"[dim]›[/] {msg}")), show
