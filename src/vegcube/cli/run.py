"""`vegcube run RECIPE`: run the whole chain of a recipe."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import QuietOption, console, exit_codes, progress, recipe_out


def run(
    recipe: Path = typer.Argument(..., help="Recipe file (YAML or TOML)."),
    quiet: bool = QuietOption,
) -> None:
    """Run a recipe: search, cube, masks, indices, composites, reference, indicators, outputs."""
    from ..runner import run as run_recipe

    with exit_codes(out=recipe_out(recipe)), progress(quiet) as say:
        result = run_recipe(recipe, log=say)
    if not quiet:
        console.print(f"[green]done[/] in {result.timings.get('total', 0):.1f} s → {result.out}")
        for name, path in result.outputs.items():
            console.print(f"  {name:<20} {path}")
