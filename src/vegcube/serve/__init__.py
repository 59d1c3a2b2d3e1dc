"""`vegcube serve`: an openEO API (1.2) on your own machine.

`processes` evaluates openEO process graphs lazily on vegcube's own functions (no web stack
needed); the web layer (FastAPI, the `serve` extra) is a thin layer over it:

- `collections`: the collections offered (`Source`, a YAML file of them) and their
  `Backend` (load_collection on `vegcube.catalog` + `vegcube.cube`);
- `formats`: netCDF, GTiff and JSON output; `jobs`: batch jobs on disk, run by `worker`;
- `errors`: openEO JSON errors; `app`: `create_app(ServeConfig)`, the endpoints.

`ServeConfig` and `create_app` are imported on first use (they need FastAPI).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServeConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
