"""`vegcube demo`: generate an embedded demo archive and run the whole chain on it."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer
import yaml

from ._common import QuietOption, console, exit_codes, progress


class Chain(str, Enum):
    """Which demo: the local chain (Sentinel-2) or the global one (MODIS → VIIRS, SLSTR)."""

    local = "local"
    global_ = "global"


def demo(
    out: Path = typer.Option(
        Path("demo-out"), "--out", "-o", help="Folder for archive and outputs."
    ),
    chain: Chain = typer.Option(
        Chain.local,
        "--chain",
        help="local: Sentinel-2 L2A at 10 m, dekads, NDVI and NDWI indicators. global: MODIS "
        "NDVI continued by VIIRS (served behind a token, mirrored by `vegcube download`) and "
        "MODIS LST continued by Sentinel-3 SLSTR, each calibrated onto MODIS at its switch, "
        "on the 463 m sinusoidal grid, months, VCI/TCI/VHI (needs the test extra: h5py, "
        "rustac).",
        case_sensitive=False,
    ),
    quiet: bool = QuietOption,
) -> None:
    """Generate a demo archive (a drought in early 2023) and run the chain on it."""
    from ..runner import run as run_recipe

    with exit_codes(out=lambda: out / "result"), progress(quiet) as say:
        say(f"{chain.value} demo archive in {out / 'archive'} …")
        recipe = _local(out) if chain is Chain.local else _global(out, say)
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


def _local(out: Path) -> dict[str, Any]:
    from ..testing.demo import generate_archive

    archive = generate_archive(out / "archive")
    return archive.demo_recipe(out / "result")


def _global(out: Path, say: Any) -> dict[str, Any]:
    from ..errors import InputError
    from ..testing.global_demo import generate_global_archive

    try:
        import h5py  # noqa: F401  (writes the VIIRS granules)
    except ImportError:
        raise InputError(
            "--chain global needs h5py and rustac (they write and serve the VIIRS granules); "
            "install them with: pip install 'vegcube[test]'"
        ) from None
    archive = generate_global_archive(out / "archive")
    say(f"items: {', '.join(f'{k} {v}' for k, v in archive.items.items())}")
    return archive.recipe(out / "result")
