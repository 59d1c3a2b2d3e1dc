"""`vegcube recipe init|check`: write an annotated template, or validate a recipe."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import console, exit_codes

app = typer.Typer(help="Write or check recipe files.", no_args_is_help=True)


@app.command("init")
def init(
    path: Path = typer.Argument(Path("recipe.yaml"), help="Where to write the template."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write an annotated recipe template documenting every key."""
    if path.exists() and not force:
        console.print(f"[red]error (bad input):[/] {path} exists; use --force to overwrite")
        raise typer.Exit(2)
    from ..recipe import template

    path.write_text(template(), encoding="utf-8")
    console.print(f"wrote {path}")


@app.command("check")
def check(path: Path = typer.Argument(..., help="Recipe file to validate.")) -> None:
    """Validate a recipe without running it (exit 2 and every problem if invalid)."""
    from ..recipe import load_recipe

    with exit_codes():
        rc = load_recipe(path)
    console.print(f"[green]ok[/] {rc.name}")
