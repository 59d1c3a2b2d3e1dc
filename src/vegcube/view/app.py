"""The map viewer as a FastAPI application: the page (static files, JavaScript vendored from
npm, no CDN), the run's metadata, map tiles and series as JSON. Endpoints only: reading and
colouring happen in `tiles`, `series` and `styles`.

``GET /``                                      the page
``GET /api/run``                               name, periods (provisional marked), layers with
                                               their dates and legends, bounds, base layer
``GET /api/regions``                           the regions as GeoJSON (EPSG:4326)
``GET /tiles/{variable}/{date}/{z}/{x}/{y}.png`` a 256 × 256 web-mercator tile
``GET /api/series/region?region=&index=``      a region's series and reference envelope
``GET /api/series/pixel?lon=&lat=&index=``     a pixel's composite, filled, reference series

Errors are JSON ``{"code": ..., "message": ...}`` (400 bad input, 404 unknown name or place).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .._version import __version__
from . import series, tiles
from .outputs import Run, open_run
from .styles import style_for

__all__ = ["STATIC", "ViewConfig", "create_app"]

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class ViewConfig:
    """The run folder to show; `basemap`: an optional online XYZ tile URL template drawn
    under the outputs (default: none, a plain background that works offline)."""

    out: Path
    basemap: str | None = None
    basemap_attribution: str = ""


def create_app(config: ViewConfig) -> FastAPI:
    """The viewer of `config.out` (`RunNotFound` when it holds no run)."""
    run = open_run(config.out)
    app = FastAPI(title=f"vegcube view: {run.name}", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None)  # fmt: skip
    app.state.run = run
    periods = run.periods
    final = {f"{t:%Y-%m-%d}" for t in periods.index[~periods["provisional"].to_numpy(bool)]}

    @app.exception_handler(tiles.TileError)
    async def _tile_error(request: Request, exc: tiles.TileError) -> JSONResponse:
        code = "NotFound" if exc.status == 404 else "BadRequest"
        return JSONResponse({"code": code, "message": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"code": "BadRequest", "message": "; ".join(parts)}, 400)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse({"code": f"HTTP{exc.status_code}", "message": message},
                            exc.status_code)  # fmt: skip

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/api/run")
    def metadata() -> dict[str, Any]:
        return _metadata(run, config)

    @app.get("/api/regions")
    def regions() -> dict[str, Any]:
        found = run.regions_geojson
        if found is None:
            raise tiles.TileError("this run has no regions (its recipe gave no regions.path)")
        return found

    @app.get("/tiles/{variable}/{date}/{z}/{x}/{y}.png")
    def tile(variable: str, date: str, z: int, x: int, y: int) -> Response:
        png = tiles.render(run, variable, date, z=z, x=x, y=y)
        # a provisional period is rewritten by the next `vegcube update`: revalidate it
        fixed = date in final
        cache = "public, max-age=3600" if fixed else "no-cache"
        return Response(png, media_type="image/png", headers={"Cache-Control": cache})

    @app.get("/api/series/region")
    def region_series(region: str, index: str) -> dict[str, Any]:
        return series.region_series(run, region, index=index)

    @app.get("/api/series/pixel")
    def pixel_series(lon: float, lat: float, index: str) -> dict[str, Any]:
        return series.pixel_series(run, lon=lon, lat=lat, index=index)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _metadata(run: Run, config: ViewConfig) -> dict[str, Any]:
    """What the page needs to start: periods, layers (dates and legend), bounds."""
    periods = run.periods
    layers = []
    for var in tiles.variables(run):
        dates = list(run.layers[var]) if var in run.layers else None
        layers.append({"name": var, "cog": var in run.layers, "dates": dates,
                       "legend": style_for(var).legend()})  # fmt: skip
    preferred = [f"{i}_drought_class" for i in run.indices] + [f"{i}_vci" for i in run.indices]
    names = [layer["name"] for layer in layers]
    default = next((v for v in [*preferred, *names] if v in names), None)
    return {
        "name": run.name,
        "indices": run.indices,
        "periods": [
            {"time": f"{t:%Y-%m-%d}", "end": f"{e:%Y-%m-%d}", "provisional": bool(p)}
            for t, e, p in zip(periods.index, periods["end"], periods["provisional"], strict=True)
        ],
        "layers": layers,
        "default_layer": default,
        "bounds": tiles.bounds(run),
        "regions": bool(run.recipe.get("regions")),
        "basemap": config.basemap,
        "basemap_attribution": config.basemap_attribution,
    }
