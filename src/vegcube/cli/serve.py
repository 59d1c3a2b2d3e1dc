"""`vegcube serve`: an openEO API (1.2) on this machine, for the official clients."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ._common import console, exit_codes


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    collections: Path | None = typer.Option(
        None,
        "--collections",
        help="YAML file mapping openEO collection ids to catalogs, one line each: "
        "ID: {catalog: <name | STAC API URL | catalog.json>, collection: <id>}. "
        "Default: Sentinel-2 L2A, Landsat C2 L2 and MODIS 13Q1 from the known catalogs.",
    ),
    state: Path = typer.Option(
        Path("vegcube-serve"),
        "--state",
        help="Folder of batch jobs, their results and logs (nothing is written elsewhere).",
    ),
    basic_auth: str | None = typer.Option(
        None,
        "--basic-auth",
        metavar="USER:PASS",
        help="Accept only this user (HTTP Basic, then bearer tokens); default: anyone.",
    ),
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Serve the generated demo archive as SENTINEL2_L2A, offline (built in STATE/demo "
        "the first time).",
    ),
) -> None:
    """Serve an openEO API: the official openEO clients' scripts run on your own machine."""
    from ..errors import InputError, needs_extra

    with exit_codes(rerun="fix the option and run `vegcube serve` again"):
        try:
            import uvicorn

            from ..serve.app import ServeConfig, create_app
        except ModuleNotFoundError as exc:
            if exc.name not in ("fastapi", "uvicorn", "starlette"):
                raise
            raise needs_extra(str(exc.name), "serve", what="vegcube serve") from None
        from ..serve.collections import default_sources, demo_sources, read_sources

        if demo and collections is not None:
            raise InputError("--demo and --collections: give one of them", field="--demo")
        credentials = None
        if basic_auth is not None:
            user, sep, password = basic_auth.partition(":")
            if not sep or not user:
                raise InputError("expected USER:PASS", field="--basic-auth")
            credentials = (user, password)
        note = ""
        if demo:
            from ..testing.demo import generate_archive

            console.print(f"demo archive in {state / 'demo'} (generated once) …")
            archive = generate_archive(state / "demo")
            sources = demo_sources(archive.catalog)
            note = (
                f"\n  demo: SENTINEL2_L2A over bbox {list(archive.bbox)}, "
                f"{archive.start} to {archive.end} (a drought in early 2023)"
            )
        elif collections is not None:
            sources = read_sources(collections)
        else:
            sources = default_sources()
        config = ServeConfig(sources=sources, state=state, basic_auth=credentials)
        app = create_app(config)
    console.print(
        f"openEO API on [bold]http://{host}:{port}[/] — collections: {', '.join(sources)}; "
        f"state in {escape(str(state.absolute()) + note)}\n"
        f'  Python: con = openeo.connect("http://{host}:{port}")'
    )
    if credentials is None and host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"[yellow]warning:[/] listening on {host} without --basic-auth: anyone who can "
            "reach this address can run jobs here"
        )
    uvicorn.run(app, host=host, port=port, log_level="warning")
