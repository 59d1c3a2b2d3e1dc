"""`vegcube demo`: generate the embedded demo archive and run the whole chain on it."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from ._common import QuietOption, console, exit_codes, progress


def demo(
    out: Path = typer.Option(
        Path("demo-out"), "--out", "-o", help="Folder for archive and outputs."
    ),
    quiet: bool = QuietOption,
) -> None:
    """Generate the demo Sentinel-2 archive (a drought in early 2023) and run the chain on it."""
    from ..runner import run as run_recipe
    from ..testing.demo import generate_archive

    with exit_codes(out=lambda: out / "result"), progress(quiet) as say:
        say(f"demo archive in {out / 'archive'} …")
        archive = generate_archive(out / "archive")
        recipe = archive.demo_recipe(out / "result")
        recipe_path = out / "recipe.yaml"
        recipe_path.parent.mkdir(parents=True, exist_ok=True)
        recipe_path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
        say(f"recipe written to {recipe_path}")
        result = run_recipe(recipe, log=say)
    if not quiet:
        console.print(f"[green]done[/] in {result.timings.get('total', 0):.1f} s")
        console.print(f"  recipe               {recipe_path}")
        for name, path in result.outputs.items():
            console.print(f"  {name:<20} {path}")
