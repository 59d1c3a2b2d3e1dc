"""`vegcube view`: an interactive map of a run's outputs in a local web page.

`create_app(ViewConfig(out=...))` builds the FastAPI application (the ``serve`` extra, with
rio-tiler for the tiles); `vegcube view OUT` runs it with uvicorn. The page's libraries
(Leaflet, uPlot) are vendored from the npm registry in ``static/vendor/`` (see PROVENANCE.md).
"""

from __future__ import annotations

from .outputs import Run, RunNotFound, open_run
from .styles import STYLES, Style, style_for

__all__ = ["STYLES", "Run", "RunNotFound", "Style", "ViewConfig", "create_app", "open_run",
           "style_for"]  # fmt: skip


def __getattr__(name: str) -> object:
    """`create_app` and `ViewConfig` import FastAPI: only when asked for."""
    if name in ("create_app", "ViewConfig"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
