"""A real HTTP server with Range support on 127.0.0.1, serving a folder (for tests and demos)."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from RangeHTTPServer import RangeRequestHandler

__all__ = ["ServedFolder", "ServedS3", "serve_folder", "serve_s3"]


@dataclass
class ServedFolder:
    """Base URL of the served folder and a log of (method, path, Range header) requests."""

    url: str
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def range_requests(self) -> int:
        return sum(1 for _, _, r in self.requests if r)


class _Handler(RangeRequestHandler):
    served: ServedFolder

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def send_head(self) -> Any:
        self.served.requests.append((self.command, self.path, self.headers.get("Range")))
        return super().send_head()


@contextmanager
def serve_folder(folder: str | Path) -> Iterator[ServedFolder]:
    """Serve `folder` over http://127.0.0.1:<free port>/ for the duration of the block."""
    served = ServedFolder(url="")
    handler = type("Handler", (_Handler,), {"served": served})
    with serving(handler, folder) as served.url:
        yield served


@contextmanager
def serving(handler: type, folder: str | os.PathLike[str]) -> Iterator[str]:
    """Run a threading HTTP server of `handler` over `folder` on 127.0.0.1; yield its URL."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _S3Handler(_Handler):
    """Path-style S3 (``/<bucket>/<key>``) as GDAL's ``/vsis3/`` reads it. A bucket listed in
    `requester_pays` answers 403 AccessDenied, as AWS does, to a request that is unsigned or
    lacks ``x-amz-request-payer: requester``. Listings (a query string) are empty."""

    requester_pays: frozenset[str] = frozenset()
    log_path: str = ""

    def send_head(self) -> Any:
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"{self.command} {self.path} {self.headers.get('Range')}\n")
        bucket = self.path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        if bucket in self.requester_pays and (
            self.headers.get("x-amz-request-payer") != "requester"
            or not self.headers.get("Authorization")
        ):
            return self._xml(
                403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            )
        if "?" in self.path:
            return self._xml(
                200, b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
            )
        return super().send_head()

    def _xml(self, status: int, body: bytes) -> None:
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@dataclass
class ServedS3:
    """Endpoint (``127.0.0.1:<port>``, for ``AWS_S3_ENDPOINT``) of a served S3 folder."""

    endpoint: str
    log: Path

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        """(method, path, Range header) of the requests answered so far."""
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        return [(m, p, None if r == "None" else r) for m, p, r in (ln.split(" ") for ln in lines)]


@contextmanager
def serve_s3(folder: str | Path, *, requester_pays: tuple[str, ...] = ()) -> Iterator[ServedS3]:
    """Serve `folder` as an S3 endpoint on 127.0.0.1 (each sub-folder a bucket), in a child
    process: GDAL's ``/vsis3/`` open holds the GIL, so a server thread of this process could
    not answer it. Point GDAL at it with ``AWS_S3_ENDPOINT=<endpoint>``, ``AWS_HTTPS=NO``,
    ``AWS_VIRTUAL_HOSTING=FALSE``.
    """
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "requests.log"
        args = [sys.executable, "-m", "vegcube.testing.server", str(folder), str(log)]
        child = subprocess.Popen([*args, *requester_pays], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            endpoint = child.stdout.readline().strip()
            if not endpoint:
                raise RuntimeError("the S3 test server did not start")
            yield ServedS3(endpoint, log)
        finally:
            child.terminate()
            child.wait(timeout=10)


def _serve_s3_forever(folder: str, log: str, requester_pays: list[str]) -> None:
    handler = type(
        "S3Handler",
        (_S3Handler,),
        {"served": ServedFolder(""), "requester_pays": frozenset(requester_pays), "log_path": log},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=folder))
    print(f"127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":  # the child process of `serve_s3`
    import sys

    _serve_s3_forever(sys.argv[1], sys.argv[2], sys.argv[3:])
