"""The openEO API (1.2) as a FastAPI application: endpoints only, each a call into
`collections`, `formats`, `jobs` or the evaluator (`vegcube.serve.processes`).

`create_app(config)` builds it; `vegcube serve` runs it with uvicorn. With
`ServeConfig.basic_auth` every non-public endpoint needs the bearer token
``basic//<token>`` that ``GET /credentials/basic`` hands out; without it anyone is accepted.
"""

from __future__ import annotations

import base64
import contextlib
import re
import secrets
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Body, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from .._version import __version__
from ..errors import VegcubeError
from .collections import Backend, Source, collection_metadata
from .errors import OpenEOError, as_openeo, validation_errors
from .formats import FORMATS, file_formats, write_result
from .jobs import JobStore, results_document, write_sources_json

__all__ = ["API_VERSION", "ServeConfig", "create_app"]

API_VERSION = "1.2.0"
_CONFORMANCE = [
    "https://api.openeo.org/1.2.0",
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
]
_HEADERS = ["Location", "OpenEO-Identifier", "OpenEO-Costs", "Link", "Content-Range"]


@dataclass
class ServeConfig:
    """What the server offers and where it keeps its state.

    `sources` are the collections (openEO id → `Source`), `state` the folder of jobs and
    temporary results (nothing is written elsewhere), `basic_auth` the one (user, password)
    accepted (None: anyone), `worker` the batch-job worker command (default: `worker`).
    """

    sources: Mapping[str, Source]
    state: Path
    basic_auth: tuple[str, str] | None = None
    title: str = "vegcube"
    chunk: int = 1024
    max_jobs: int = 2
    poll_s: float = 0.5
    worker: Sequence[str] | None = None


class _Tokens:
    """Bearer tokens handed out for HTTP Basic credentials (kept in memory)."""

    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self.credentials, self.lock = credentials, threading.Lock()
        self.users: dict[str, str] = {}

    def issue(self, authorization: str | None) -> str:
        user, password = _basic(authorization)
        if self.credentials is not None and not (
            secrets.compare_digest(user, self.credentials[0])
            and secrets.compare_digest(password, self.credentials[1])
        ):
            raise OpenEOError("CredentialsInvalid", "Credentials are not correct.")
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.users[token] = user
        return token

    def user(self, authorization: str | None) -> str:
        if not authorization:
            if self.credentials is None:
                return "anonymous"
            raise OpenEOError("AuthenticationRequired", "Unauthorized: authenticate first.")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.startswith("basic//"):
            if self.credentials is None:
                return "anonymous"
            raise OpenEOError(
                "AuthenticationSchemeInvalid",
                "Authentication method not supported: use the bearer token basic//<token> "
                "from GET /credentials/basic",
            )
        user = self.users.get(value.removeprefix("basic//"))
        if user is None:
            if self.credentials is None:
                return "anonymous"
            raise OpenEOError(
                "TokenInvalid",
                "Authorization token has expired or is invalid. Please authenticate again.",
            )
        return user


class _MergeSlashes:
    """Paths with repeated slashes (``//jobs``, from clients joining a base URL that ends in
    ``/``) are read as with one, as Werkzeug-based back-ends do."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = re.sub("/{2,}", "/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def _basic(authorization: str | None) -> tuple[str, str]:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        raise OpenEOError("AuthenticationRequired", "Unauthorized: send HTTP Basic credentials.")
    try:
        user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
    except ValueError:
        raise OpenEOError("CredentialsInvalid", "Credentials are not correct.") from None
    return user, password


def create_app(config: ServeConfig) -> FastAPI:
    """The openEO API over `config` (see the module docstring)."""
    state = Path(config.state).absolute()
    shutil.rmtree(state / "tmp", ignore_errors=True)  # synchronous results a crash left
    (state / "tmp").mkdir(parents=True, exist_ok=True)
    write_sources_json(state, config.sources, chunk=config.chunk)
    store = JobStore(state, worker=config.worker, max_running=config.max_jobs)
    backend = Backend(config.sources, chunk=config.chunk)
    tokens = _Tokens(config.basic_auth)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(config.poll_s):
                store.poll()

        thread = threading.Thread(target=poll, daemon=True, name="vegcube-jobs")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            store.close()

    app = FastAPI(title=f"{config.title} openEO API", version=__version__, lifespan=lifespan)
    app.state.store, app.state.backend = store, backend
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=_HEADERS,
    )
    app.add_middleware(_MergeSlashes)

    def user(request: Request) -> str:
        return tokens.user(request.headers.get("Authorization"))

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    # ------------------------------------------------------------------ errors

    @app.exception_handler(OpenEOError)
    async def _openeo(request: Request, exc: OpenEOError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(VegcubeError)
    async def _vegcube(request: Request, exc: VegcubeError) -> JSONResponse:
        return _error(as_openeo(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(OpenEOError("BadRequest", f"invalid request: {where}"))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequest")
        return _error(OpenEOError(code, str(exc.detail), status=exc.status_code))

    @app.exception_handler(Exception)
    async def _other(request: Request, exc: Exception) -> JSONResponse:
        return _error(as_openeo(exc))

    # ------------------------------------------------------------------ discovery

    @app.get("/", include_in_schema=False)
    def capabilities(request: Request) -> dict[str, Any]:
        root = base(request)
        return {
            "api_version": API_VERSION,
            "backend_version": __version__,
            "stac_version": "1.0.0",
            "type": "Catalog",
            "id": "vegcube",
            "title": config.title,
            "description": "vegcube's openEO back-end: open satellite archives read on your "
            "own machine (STAC catalogs, COGs), processed lazily with xarray and dask.",
            "production": False,
            "conformsTo": _CONFORMANCE,
            "endpoints": _endpoints(app),
            "links": [
                {"rel": "self", "href": f"{root}/", "type": "application/json"},
                {
                    "rel": "version-history",
                    "href": f"{root}/.well-known/openeo",
                    "type": "application/json",
                },
                {"rel": "data", "href": f"{root}/collections", "type": "application/json"},
                {"rel": "conformance", "href": f"{root}/conformance", "type": "application/json"},
            ],
        }

    @app.get("/.well-known/openeo", include_in_schema=False)
    def well_known(request: Request) -> dict[str, Any]:
        return {
            "versions": [
                {"url": f"{base(request)}/", "api_version": API_VERSION, "production": False}
            ]
        }

    @app.get("/conformance")
    def conformance() -> dict[str, Any]:
        return {"conformsTo": _CONFORMANCE}

    @app.get("/file_formats")
    def formats() -> dict[str, Any]:
        return file_formats()

    @app.get("/collections")
    def collections(request: Request) -> dict[str, Any]:
        docs = [collection_metadata(s, base(request)) for s in config.sources.values()]
        return {"collections": docs, "links": []}

    @app.get("/collections/{collection_id}")
    def collection(collection_id: str, request: Request) -> dict[str, Any]:
        return collection_metadata(backend.source(collection_id), base(request))

    @app.get("/udf_runtimes")
    def udf_runtimes() -> dict[str, Any]:
        return {}  # no user-defined functions run here

    @app.get("/service_types")
    def service_types() -> dict[str, Any]:
        return {}  # no secondary web services

    @app.get("/processes")
    def processes() -> dict[str, Any]:
        from .processes import definitions

        return {"processes": definitions(), "links": []}

    # ------------------------------------------------------------------ accounts

    @app.get("/credentials/basic")
    def credentials_basic(request: Request) -> dict[str, Any]:
        return {"access_token": tokens.issue(request.headers.get("Authorization"))}

    @app.get("/me")
    def me(who: str = Depends(user)) -> dict[str, Any]:
        return {"user_id": who, "name": who, "links": []}

    # ------------------------------------------------------------------ processing

    @app.post("/validation")
    def validation(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        from .processes import implemented

        ids = set(implemented())
        process = body.get("process")
        graph = process.get("process_graph") if isinstance(process, dict) else None
        graph = body.get("process_graph", graph)
        found = validation_errors(
            graph,
            processes=ids,
            collections=config.sources,
            formats=[f.name for f in FORMATS.values()],
        )
        return {"errors": found}

    @app.post("/result")
    def result(body: dict[str, Any] = Body(...), who: str = Depends(user)) -> Response:
        graph = _graph(body.get("process"))
        folder = state / "tmp" / uuid.uuid4().hex
        from .processes import evaluate

        try:
            value = evaluate(graph, backend=backend)
            written = write_result(value, folder)
            if len(written) != 1:
                names = ", ".join(w.path.name for w in written)
                raise OpenEOError(
                    "FormatUnsuitable",
                    f"this result is {len(written)} files ({names}): run it as a batch job, "
                    "or save it as netCDF",
                )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        out = written[0]
        return FileResponse(
            out.path,
            media_type=out.media_type,
            filename=out.path.name,
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    # ------------------------------------------------------------------ batch jobs

    @app.post("/jobs", status_code=201)
    def create_job(
        request: Request, body: dict[str, Any] = Body(...), who: str = Depends(user)
    ) -> Response:
        _graph(body.get("process"))
        fields = {k: v for k, v in body.items() if k != "process"}
        job = store.create(body["process"], **fields)
        headers = {"Location": f"{base(request)}/jobs/{job['id']}", "OpenEO-Identifier": job["id"]}
        return Response(status_code=201, headers=headers)

    @app.get("/jobs")
    def list_jobs(limit: int | None = None, who: str = Depends(user)) -> dict[str, Any]:
        jobs = store.list()
        return {"jobs": jobs[:limit] if limit else jobs, "links": []}

    @app.get("/jobs/{job_id}")
    def describe_job(job_id: str, request: Request, who: str = Depends(user)) -> dict[str, Any]:
        job = store.get(job_id)
        root = f"{base(request)}/jobs/{job_id}"
        job["links"] = [
            {"rel": "monitor", "href": f"{root}/logs", "type": "application/json"},
            {"rel": "result", "href": f"{root}/results", "type": "application/json"},
        ]
        return job

    @app.patch("/jobs/{job_id}", status_code=204)
    def update_job(
        job_id: str, body: dict[str, Any] = Body(...), who: str = Depends(user)
    ) -> Response:
        store.update(job_id, body)
        return Response(status_code=204)

    @app.delete("/jobs/{job_id}", status_code=204)
    def delete_job(job_id: str, who: str = Depends(user)) -> Response:
        store.delete(job_id)
        return Response(status_code=204)

    @app.post("/jobs/{job_id}/results", status_code=202)
    def start_job(job_id: str, who: str = Depends(user)) -> Response:
        store.start(job_id)
        return Response(status_code=202)

    @app.delete("/jobs/{job_id}/results", status_code=204)
    def cancel_job(job_id: str, who: str = Depends(user)) -> Response:
        store.cancel(job_id)
        return Response(status_code=204)

    @app.get("/jobs/{job_id}/results")
    def job_results(job_id: str, request: Request, who: str = Depends(user)) -> dict[str, Any]:
        job, files = store.results(job_id)
        return results_document(job, files, base(request))

    @app.get("/jobs/{job_id}/logs")
    def job_logs(
        job_id: str,
        offset: str | None = None,
        level: str | None = None,
        limit: int | None = None,
        who: str = Depends(user),
    ) -> dict[str, Any]:
        return store.logs(job_id, offset=offset, level=level, limit=limit)

    @app.api_route(
        "/download/{job_id}/{secret}/{name}", methods=["GET", "HEAD"], include_in_schema=False
    )
    def download(job_id: str, secret: str, name: str) -> FileResponse:
        path = store.asset(job_id, secret, name)
        media = next(
            (f.media_type for f in FORMATS.values() if path.suffix in _SUFFIX[f.name]), None
        )
        return FileResponse(path, media_type=media or "application/octet-stream", filename=name)

    return app


_SUFFIX = {"netCDF": (".nc",), "GTiff": (".tif", ".tiff"), "JSON": (".json",)}


def _graph(process: Any) -> dict[str, Any]:
    if not isinstance(process, dict) or not isinstance(process.get("process_graph"), dict):
        raise OpenEOError(
            "ProcessGraphMissing", "Invalid process specified. It doesn't contain a process graph."
        )
    return dict(process["process_graph"])


def _error(exc: OpenEOError) -> JSONResponse:
    body = exc.body()
    if exc.status == 424:  # a failed job's results: its last error, as a log entry
        body["level"] = "error"
    return JSONResponse(body, status_code=exc.status)


def _endpoints(app: FastAPI) -> list[dict[str, Any]]:
    """The openEO endpoints served, each path once with its methods (GET / not listed)."""
    found: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            found.setdefault(route.path, set()).update(set(route.methods or ()) - {"HEAD"})
    order = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    return [{"path": p, "methods": [m for m in order if m in ms]} for p, ms in found.items()]
