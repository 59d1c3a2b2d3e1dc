"""`vegcube view OUT`: an interactive map of a run's outputs in the browser, on this machine."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ._common import console, exit_codes


def view(
    out: Path = typer.Argument(..., metavar="OUT", help="Output folder of a run (holds run.json)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8001, "--port", help="Port to listen on."),
    basemap: str | None = typer.Option(
        None,
        "--basemap",
        metavar="URL",
        help="An online XYZ tile URL template ({z}/{x}/{y}) drawn under the outputs; "
        "default: none (a plain background that works offline).",
    ),
    attribution: str = typer.Option(
        "", "--basemap-attribution", help="Attribution text the base layer's terms require."
    ),
) -> None:
    """Show a run's maps, periods, regions and series in the browser (a local web page)."""
    from ..errors import needs_extra

    with exit_codes(rerun="fix the option and run `vegcube view` again"):
        try:
            import rio_tiler  # noqa: F401  (checked here: the tiles import it lazily)
            import uvicorn

            from ..view.app import ViewConfig, create_app
        except ModuleNotFoundError as exc:
            if exc.name not in ("fastapi", "uvicorn", "starlette", "rio_tiler"):
                raise
            raise needs_extra(str(exc.name), "serve", what="vegcube view") from None
        app = create_app(ViewConfig(out=out, basemap=basemap, basemap_attribution=attribution))
    console.print(
        f"vegcube view of {escape(str(out.absolute()))} on [bold]http://{host}:{port}/[/] "
        "(Ctrl+C to stop)"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
