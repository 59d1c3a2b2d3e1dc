"""`vegcube status OUT`: what a run has done, is doing, failed and has left."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ._common import console, exit_codes


def status(
    out: Path = typer.Argument(..., help="Output folder of a run (output.dir)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show a run's status and its units of work per stage (done, running, failed, left)."""
    from ..state import status as run_status

    with exit_codes():
        info = run_status(out)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    time = info["time"] or {}
    console.print(
        f"[bold]{info['name']}[/] · {info['status']} · {time.get('start')} → {time.get('end')}"
        f" · started {info['started']}"
        + (f" · {info['updates']} updates" if info["updates"] else "")
    )
    if info["error"]:
        console.print(f"[red]error:[/] {escape(info['error'])}")
    table = Table("stage", "done", "running", "interrupted", "failed", "left")
    for st in info["stages"]:
        table.add_row(
            st["stage"], *(str(st[k]) for k in ("done", "running", "interrupted", "failed")),
            str(st["pending"]),
        )  # fmt: skip
    console.print(table)
    if info.get("latency"):
        lat = Table(
            "collection", "items", "median days", "min", "max",
            title="latency: acquisition → first seen by an update",
        )  # fmt: skip
        for coll, v in info["latency"].items():
            spread = (f"{v[k]:.1f}" for k in ("median_days", "min_days", "max_days"))
            lat.add_row(coll, str(v["items"]), *spread)
        console.print(lat)
    if info["log"]:
        console.print(f"log: {info['log']}")
