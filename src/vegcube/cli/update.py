"""`vegcube update RECIPE`: append the new periods to an existing output folder."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import QuietOption, console, exit_codes, progress, recipe_out


def update(
    recipe: Path = typer.Argument(..., help="Recipe file (YAML or TOML) of an earlier run."),
    rebuild_reference: bool = typer.Option(
        False, "--rebuild-reference", help="Recompute the reference and all indicators too."
    ),
    quiet: bool = QuietOption,
) -> None:
    """Extend OUT/ to the recipe's time.end: new and provisional periods only (for cron)."""
    from ..routine import update as update_outputs

    with exit_codes(out=recipe_out(recipe)), progress(quiet) as say:
        result = update_outputs(recipe, rebuild_reference=rebuild_reference, log=say)
    if not quiet:
        if not result.outputs:
            console.print(f"[green]up to date[/] → {result.out}")
            return
        console.print(f"[green]updated[/] in {result.timings.get('total', 0):.1f} s → {result.out}")
