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

__all__ = ["ServedFolder", "serve_folder"]


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
