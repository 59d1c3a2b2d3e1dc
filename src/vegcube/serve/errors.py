"""openEO errors: ``{"id", "code", "message", "links"}`` with the HTTP status of their code.

`OpenEOError` is raised by the serve layer (collections, formats, jobs) with one of the
openEO codes (`CODES`: the API's ``errors.json`` and the process exceptions vegcube raises);
`as_openeo` turns any exception into one: an error that carries ``code`` and ``status`` (the
evaluator's `ProcessGraphError`) keeps them, vegcube's `InputError` is a 400 with its
message (a catalog that does not answer, `UnreachableError`, a 503 ``ServiceUnavailable``), a
`DataError` about no scenes is ``NoDataAvailable``, anything else a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from ..errors import DataError, InputError, UnreachableError, VegcubeError

__all__ = ["CODES", "OpenEOError", "as_openeo", "validation_errors"]

#: openEO error code → HTTP status (the codes this back-end answers with)
CODES: dict[str, int] = {
    "AuthenticationRequired": 401,
    "AuthenticationSchemeInvalid": 403,
    "BadRequest": 400,
    "CollectionNotFound": 404,
    "CredentialsInvalid": 403,
    "FileNotFound": 404,
    "FormatUnsuitable": 400,
    "FormatUnsupported": 400,
    "Internal": 500,
    "JobLocked": 400,
    "JobNotFinished": 400,
    "JobNotFound": 404,
    "MethodNotAllowed": 405,
    "NoDataAvailable": 400,
    "NotFound": 404,
    "ProcessGraphInvalid": 400,
    "ProcessGraphMissing": 400,
    "ProcessParameterInvalid": 400,
    "ProcessUnsupported": 400,
    "PropertyNotEditable": 400,
    "ServiceUnavailable": 503,
    "TokenInvalid": 403,
}


class OpenEOError(VegcubeError, ValueError):
    """An error answered as openEO JSON: `code` (an openEO error code) and its HTTP `status`
    (default: the code's, `CODES`); a 4xx is bad input (exit code 2).

    Not an `InputError`: the evaluator re-codes those raised inside a process as
    ``ProcessParameterInvalid``, while this one must reach the client with its own code.
    """

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status if status is not None else CODES.get(code, 400)
        self.exit_code = 2 if self.status < 500 else 1

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        """The JSON error object of the openEO API (a fresh `id` per answer)."""
        return {"id": uuid.uuid4().hex, "code": self.code, "message": self.message, "links": []}


def as_openeo(exc: BaseException) -> OpenEOError:
    """The openEO error to answer for `exc` (see the module docstring)."""
    if isinstance(exc, OpenEOError):
        return exc
    code, status = getattr(exc, "code", None), getattr(exc, "status", None)
    if isinstance(code, str) and isinstance(status, int):  # the evaluator's ProcessGraphError
        return OpenEOError(code, _text(exc), status=status)
    if isinstance(exc, DataError) and "no scenes" in str(exc):
        return OpenEOError("NoDataAvailable", _text(exc))
    if isinstance(exc, UnreachableError):  # the server's catalog, not the request, failed
        return OpenEOError("ServiceUnavailable", _text(exc), status=503)
    if isinstance(exc, InputError):
        return OpenEOError(type(exc).__name__, _text(exc), status=400)
    if isinstance(exc, VegcubeError):
        return OpenEOError(type(exc).__name__, _text(exc), status=500)
    return OpenEOError("Internal", f"Server error: {type(exc).__name__}: {exc}", status=500)


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def validation_errors(
    graph: Any,
    *,
    processes: Collection[str],
    collections: Collection[str],
    formats: Collection[str],
) -> list[dict[str, Any]]:
    """The openEO errors ``POST /validation`` reports for a process graph (callbacks
    included): unknown processes, collections and output formats; no data is read."""
    if not isinstance(graph, dict) or not graph:
        return [OpenEOError("ProcessGraphMissing", "the process has no process graph").body()]
    found: list[OpenEOError] = []
    known = {f.lower() for f in formats}
    for nid, node in _nodes(graph):
        pid = node.get("process_id") if isinstance(node, dict) else None
        if not isinstance(pid, str):
            found.append(OpenEOError("ProcessGraphInvalid", f"node {nid!r} has no process_id"))
            continue
        args = node.get("arguments") or {}
        cid, fmt = args.get("id"), args.get("format")
        if pid not in processes:
            message = f"Process with identifier '{pid}' is not available."
            found.append(OpenEOError("ProcessUnsupported", message))
        elif pid == "load_collection" and isinstance(cid, str) and cid not in collections:
            found.append(OpenEOError("CollectionNotFound", f"Collection '{cid}' does not exist."))
        elif pid == "save_result" and isinstance(fmt, str) and fmt.lower() not in known:
            found.append(OpenEOError("FormatUnsupported", f"Format '{fmt}' is not supported."))
    return [e.body() for e in found]


def _nodes(graph: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every node of `graph` and of the process graphs in its arguments."""
    out: list[tuple[str, Any]] = []
    for nid, node in graph.items():
        out.append((str(nid), node))
        stack = list((node.get("arguments") or {}).values()) if isinstance(node, dict) else []
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                if isinstance(value.get("process_graph"), dict):
                    out.extend(_nodes(value["process_graph"]))
                else:
                    stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
    return out
