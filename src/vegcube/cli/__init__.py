"""Command line: one small module per subcommand; no logic here, only parse → call → print."""

from __future__ import annotations

import typer

from .._version import __version__
from . import _common
from . import demo as _demo
from . import download as _download
from . import recipe as _recipe
from . import run as _run
from . import search as _search
from . import serve as _serve
from . import status as _status
from . import update as _update
from . import view as _view

__all__ = ["app", "main"]

app = typer.Typer(
    name="vegcube",
    help="Vegetation and drought indicators from open satellite archives, on your machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vegcube {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    traceback: bool = typer.Option(
        False,
        "--traceback",
        help="On a failure, also print where it happened (OUT/log always keeps it).",
    ),
) -> None:
    """Vegetation and drought indicators from open satellite archives, on your machine."""
    _common.settings.traceback = traceback


app.command("run")(_run.run)
app.command("search")(_search.search)
app.command("update")(_update.update)
app.command("status")(_status.status)
app.command("demo")(_demo.demo)
app.command("download")(_download.download)
app.command("serve")(_serve.serve)
app.command("view")(_view.view)
app.add_typer(_recipe.app, name="recipe")


def main() -> None:
    """Console-script entry point."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    # odc-loader warps into an in-memory dataset that has no transform yet: not the user's data
    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
    # NaN is how vegcube says "no value" (clouds, short references): numpy's notes on
    # all-NaN slices and 0/0 are expected, not news for the user
    for text in ("Mean of empty slice", "All-NaN slice", "Degrees of freedom", "invalid value"):
        warnings.filterwarnings("ignore", message=text, category=RuntimeWarning)
    app()
