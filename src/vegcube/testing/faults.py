"""A fault-injecting HTTP server on 127.0.0.1: a served folder that misbehaves on purpose.

`serve_faulty(folder, faults=Faults(...))` serves `folder` with Range support (like
`serve_folder`) and injects, deterministically from `Faults.seed`, the failures real archives
show: 500s, 503s, dropped connections, truncated bodies, slow answers, 429 with `Retry-After`, 401
without the expected bearer token, and tape staging (202 until a file has been requested and
`staging_s` seconds or `staging_requests` requests have passed). Every request and every fault
injected is logged, so tests can check that the faults really happened.

Whether a request fails depends only on the seed, the request (method, path, Range) and how
many times that same request was seen before, never on thread timing; and no request fails
more than `max_consecutive` times in a row, so a client that retries always gets through.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from RangeHTTPServer import RangeRequestHandler

from .server import serving

__all__ = ["Faults", "FaultyFolder", "Injected", "Request", "serve_faulty"]

#: fault kinds, in the order their rates are stacked (a new kind goes last: the decisions of
#: the existing kinds for a given seed stay the same)
KINDS = ("error", "drop", "truncate", "slow", "throttle", "unavailable")


@dataclass(frozen=True, kw_only=True)
class Faults:
    """What to inject and how often (rates are probabilities per request, summing to ≤ 1)."""

    seed: int = 0
    error_rate: float = 0.0  #: answer 500 Internal Server Error
    drop_rate: float = 0.0  #: reset the connection (RST) without answering
    truncate_rate: float = 0.0  #: send the headers and half the body, then close
    slow_rate: float = 0.0  #: wait `slow_s` before answering (correctly)
    slow_s: float = 0.3
    throttle_rate: float = 0.0  #: answer 429 Too Many Requests with `Retry-After`
    retry_after: str = "1"  #: the `Retry-After` value sent with 429 (seconds or HTTP date)
    unavailable_rate: float = 0.0  #: answer 503 Service Unavailable (no `Retry-After`)
    staging_s: float | None = None  #: offline files answer 202 until this long after 1st request
    staging_requests: int = 0  #: ... or until this many requests of the file were answered 202
    pattern: str = "*"  #: fnmatch pattern of URL paths that get faults and need the token
    max_consecutive: int = 2  #: never more faults than this in a row for the same request
    require_token: str | None = None  #: answer 401 unless "Authorization: Bearer <token>"

    def __post_init__(self) -> None:
        rates = [getattr(self, f"{k}_rate") for k in KINDS]
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError(f"fault rates must be ≥ 0 and sum to ≤ 1, got {rates}")

    @property
    def staging(self) -> bool:
        return self.staging_s is not None or self.staging_requests > 0


@dataclass(frozen=True)
class Request:
    """One request as the server saw it (the Authorization value is never kept)."""

    method: str
    path: str
    range: str | None
    status: int | None  #: None when the connection was dropped
    at: float
    authorized: bool


@dataclass(frozen=True)
class Injected:
    """One fault injected: kind is one of `KINDS`, "staging" or "unauthorized"."""

    kind: str
    method: str
    path: str
    range: str | None
    at: float


@dataclass
class FaultyFolder:
    """Base URL of the served folder, and logs of the requests and of the faults injected."""

    url: str
    faults: Faults
    requests: list[Request] = field(default_factory=list)
    injected: list[Injected] = field(default_factory=list)
    bytes_sent: int = 0  #: body bytes sent (GET answers, truncated ones included)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seen: Counter[tuple[str, str, str | None]] = field(default_factory=Counter, repr=False)
    _streak: Counter[tuple[str, str, str | None]] = field(default_factory=Counter, repr=False)
    _staged: dict[str, tuple[float, int]] = field(default_factory=dict, repr=False)

    def count(self, kind: str) -> int:
        """How many faults of `kind` were injected."""
        return sum(1 for f in self.injected if f.kind == kind)

    @property
    def range_requests(self) -> int:
        return sum(1 for r in self.requests if r.range)

    # -- decisions (called by the handler) --------------------------------------------------

    def _decide(self, method: str, path: str, rng: str | None) -> str | None:
        """The fault for this request (or None), deterministic from seed, request and count."""
        f = self.faults
        if not fnmatch.fnmatch(path, f.pattern):
            return None
        key = (method, path, rng)
        with self._lock:
            n = self._seen[key]
            self._seen[key] += 1
            if self._streak[key] >= f.max_consecutive:
                self._streak[key] = 0
                return None
            digest = hashlib.sha256(f"{f.seed}|{method}|{path}|{rng}|{n}".encode()).digest()
            u = int.from_bytes(digest[:8], "big") / 2**64
            edge = 0.0
            for kind in KINDS:
                edge += getattr(f, f"{kind}_rate")
                if u < edge:
                    if kind != "slow":  # a slow answer is still an answer
                        self._streak[key] += 1
                    return kind
            self._streak[key] = 0
            return None

    def _offline(self, path: str) -> bool:
        """True while `path` is still being staged (the first request starts the staging)."""
        f = self.faults
        if not f.staging or not fnmatch.fnmatch(path, f.pattern):
            return False
        now = time.monotonic()
        with self._lock:
            first, answered = self._staged.setdefault(path, (now, 0))
            waiting = f.staging_s is not None and now - first < f.staging_s
            waiting = waiting or answered < f.staging_requests
            if waiting:
                self._staged[path] = (first, answered + 1)
            return waiting

    def _log(self, req: Request, kind: str | None) -> None:
        with self._lock:
            self.requests.append(req)
            if kind is not None:
                self.injected.append(Injected(kind, req.method, req.path, req.range, req.at))


class _FaultyHandler(RangeRequestHandler):
    folder: FaultyFolder
    _truncate = False

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_head(self) -> Any:
        folder, f = self.folder, self.folder.faults
        self._status: int | None = None
        path = urllib.parse.urlsplit(self.path).path
        rng = self.headers.get("Range")
        auth = self.headers.get("Authorization")
        guarded = f.require_token is not None and fnmatch.fnmatch(path, f.pattern)
        ok = not guarded or auth == f"Bearer {f.require_token}"

        def log(status: int | None, kind: str | None = None) -> None:
            folder._log(Request(self.command, path, rng, status, time.time(), ok), kind)

        if not ok:
            log(401, "unauthorized")
            self._answer(401, {"WWW-Authenticate": 'Bearer realm="vegcube-test"'})
            return None
        kind = folder._decide(self.command, path, rng)
        if kind == "truncate" and self.command != "GET":
            kind = None  # nothing to truncate in a HEAD answer
        if kind == "drop":  # reset the connection (RST), as a failing proxy or balancer does
            log(None, kind)
            self.close_connection = True
            with suppress(OSError):
                linger = struct.pack("ii", 1, 0)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                self.connection.close()
            return None
        if kind == "error":
            log(500, kind)
            self._answer(500)
            return None
        if kind == "throttle":
            log(429, kind)
            self._answer(429, {"Retry-After": f.retry_after})
            return None
        if kind == "unavailable":
            log(503, kind)
            self._answer(503)
            return None
        if folder._offline(path):
            log(202, "staging")
            self._answer(202)
            return None
        if kind == "slow":
            time.sleep(f.slow_s)
        self._truncate = kind == "truncate"
        result = super().send_head()
        log(self._status, kind)
        return result

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = int(code)
        super().send_response(code, message)

    def copyfile(self, source: BinaryIO, outputfile: Any) -> None:
        """Copy the requested bytes (the whole file or the Range), or half of them if truncating."""
        if self.range:
            start, stop = self.range
        else:
            start, stop = 0, None
        size = os.fstat(source.fileno()).st_size
        stop = size - 1 if stop is None or stop >= size else stop
        length = stop - start + 1
        if self._truncate:
            length = max(1, length // 2)
            self.close_connection = True
        source.seek(start)
        while length > 0:
            buf = source.read(min(64 * 1024, length))
            if not buf:
                break
            outputfile.write(buf)
            length -= len(buf)
            with self.folder._lock:
                self.folder.bytes_sent += len(buf)
        if self._truncate:
            with suppress(OSError):
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def serve_faulty(folder: str | os.PathLike[str], *, faults: Faults) -> Iterator[FaultyFolder]:
    """Serve `folder` over http://127.0.0.1:<free port>/ with `faults`, for the block."""
    served = FaultyFolder(url="", faults=faults)
    handler = type("FaultyHandler", (_FaultyHandler,), {"folder": served})
    with serving(handler, folder) as served.url:
        yield served
