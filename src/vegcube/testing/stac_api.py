"""A real STAC API on 127.0.0.1 for tests: rustac's server, behind a small front door.

`serve_stac_api` loads the items of a static catalog (e.g. a `generate_archive` archive) into
``rustac serve`` (stac-utils' Rust STAC API server, in-memory backend: item search with
``collections``, ``bbox``, ``datetime``, ``limit`` and POST pagination) and puts a thin HTTP
front door before it that

- caps every page at ``page_size`` items, as real APIs cap ``limit``;
- serves the COGs under ``/assets/`` from `serve_folder` (HTTP Range), refusing (403) asset
  requests without ``?token=<token>`` when a ``token`` is required, like a signed-URL store;
- logs every request (method, path, JSON body) and can answer the next ones with an error
  (`ServedStacApi.fail`: HTTP 429/5xx with ``Retry-After``), to test retries;
- can advertise conformance classes and queryables the backend lacks (``conformance``,
  ``queryables``), to check what a client sends to a server that filters. rustac's memory
  backend cannot evaluate ``filter``/``query`` (it answers no items), so the front door then
  logs and drops them: results come back unfiltered and the client's own filter must hold.

Needs the ``rustac`` package (``pip install 'vegcube[test]'``).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pystac

from .server import ServedFolder, serve_folder

__all__ = ["ApiRequest", "ServedStacApi", "serve_stac_api"]

_ASSETS = "/assets/"
_UNEVALUATED = ("filter", "filter-lang", "filter_lang", "filter-crs", "query")
_FORWARDED = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified")


@dataclass(frozen=True)
class ApiRequest:
    """One request the API received: method, path with query string, JSON body if any."""

    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass
class ServedStacApi:
    """A running STAC API: its URL, the folder server behind its assets, and request logs."""

    url: str
    assets: ServedFolder
    page_size: int
    token: str | None = None
    #: API requests (not assets), in arrival order
    requests: list[ApiRequest] = field(default_factory=list)
    #: asset requests as (method, path with query string, Range header)
    asset_requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    _faults: deque[tuple[int, float | None, str]] = field(default_factory=deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def searches(self) -> list[ApiRequest]:
        """The item searches received (``/search``, GET or POST)."""
        return [r for r in self.requests if urlsplit(r.path).path.rstrip("/") == "/search"]

    def fail(
        self,
        status: int = 429,
        *,
        times: int = 1,
        retry_after: float | None = None,
        path: str = "/",
    ) -> None:
        """Answer the next `times` API requests whose path starts with `path` with HTTP
        `status` (and a ``Retry-After`` header when given)."""
        with self._lock:
            self._faults.extend([(status, retry_after, path)] * times)

    def _next_fault(self, path: str) -> tuple[int, float | None] | None:
        with self._lock:
            if self._faults and path.startswith(self._faults[0][2]):
                status, retry_after, _ = self._faults.popleft()
                return status, retry_after
            return None


class _Front(BaseHTTPRequestHandler):
    served: ServedStacApi
    backend: tuple[str, int]
    folder: tuple[str, int]
    conformance: tuple[str, ...]
    queryables: dict[str, Any] | None

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._route()

    def do_HEAD(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    # ----------------------------------------------------------------- routing

    def _route(self) -> None:
        if self.path.startswith(_ASSETS):
            self._asset()
            return
        body = self._body()
        self.served.requests.append(ApiRequest(self.command, self.path, body))
        fault = self.served._next_fault(self.path)
        if fault is not None:
            status, retry_after = fault
            headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
            self._json(status, {"code": "injected", "description": f"HTTP {status}"}, headers)
            return
        path = urlsplit(self.path).path.rstrip("/")
        if self.queryables is not None and path.endswith("/queryables"):
            self._json(200, self.queryables)
            return
        target, payload = self._capped(body)
        status, headers, data = _request(self.backend, self.command, target, payload)
        if self.conformance and path in ("", "/conformance") and status == 200:
            doc = json.loads(data)
            doc["conformsTo"] = [*doc.get("conformsTo", []), *self.conformance]
            data = json.dumps(doc).encode()
        self._reply(status, headers, data)

    def _body(self) -> dict[str, Any] | None:
        size = int(self.headers.get("Content-Length") or 0)
        if not size:
            return None
        raw = self.rfile.read(size)
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    def _capped(self, body: dict[str, Any] | None) -> tuple[str, bytes | None]:
        """The request to forward, with ``limit`` capped at the page size."""
        cap = self.served.page_size
        if body is not None:
            body = {**body, "limit": min(int(body.get("limit") or cap), cap)}
            if self.conformance:  # advertised, not evaluated: see the module docstring
                body = {k: v for k, v in body.items() if k not in _UNEVALUATED}
            return self.path, json.dumps(body).encode()
        parts = urlsplit(self.path)
        if parts.path.rstrip("/").endswith(("/search", "/items")):
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            query["limit"] = str(min(int(query.get("limit") or cap), cap))
            return f"{parts.path}?{urlencode(query)}", None
        return self.path, None

    def _asset(self) -> None:
        self.served.asset_requests.append((self.command, self.path, self.headers.get("Range")))
        token = self.served.token
        if token is not None:
            given = parse_qs(urlsplit(self.path).query).get("token", [])
            if given != [token]:
                self._json(403, {"code": "Forbidden", "description": "missing or wrong token"})
                return
        target = "/" + self.path[len(_ASSETS) :]
        headers = {"Range": self.headers["Range"]} if self.headers.get("Range") else {}
        status, got, data = _request(self.folder, self.command, target, None, headers)
        self._reply(status, got, data)

    # ----------------------------------------------------------------- replies

    def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(doc).encode()
        self._reply(status, {"Content-Type": "application/json", **(headers or {})}, data)

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key != "Content-Length":
                self.send_header(key, value)
        self.send_header("Content-Length", headers.get("Content-Length", str(len(data))))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _request(
    where: tuple[str, int],
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*where, timeout=60)
    try:
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        data = resp.read()
        kept = {k.title(): v for k, v in resp.getheaders() if k.title() in _FORWARDED}
        if method != "HEAD":  # the reply says the length of what it sends
            kept.pop("Content-Length", None)
        return resp.status, kept, data
    finally:
        conn.close()


# --------------------------------------------------------------------------- items


def _catalog_root(catalog: str | os.PathLike[str]) -> Path:
    path = Path(catalog)
    return path / "catalog.json" if path.is_dir() else path


def _asset_url(href: str, root: Path, base: str) -> str:
    """An asset's local path under `root` → its URL under the front door's /assets/."""
    if "://" in href and not href.startswith("file://"):
        return href
    path = Path(href.removeprefix("file://")).resolve()
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise ValueError(f"asset {href} is not under the served folder {root}") from None
    return f"{base}{_ASSETS}{rel.as_posix()}"


def _item_doc(item: pystac.Item, root: Path, base: str) -> dict[str, Any]:
    doc = item.to_dict(include_self_link=False, transform_hrefs=False)
    doc["links"] = []
    for key, asset in item.assets.items():
        href = asset.get_absolute_href() or asset.href
        doc["assets"][key]["href"] = _asset_url(href, root, base)
    return doc


def _write_backend_files(
    catalog: Path, extra: Sequence[pystac.Item], base: str, folder: Path
) -> list[Path]:
    root = pystac.Catalog.from_file(str(catalog))
    top = catalog.parent.resolve()
    files: list[Path] = []
    features: list[dict[str, Any]] = []
    for i, coll in enumerate(root.get_all_collections()):
        doc = coll.to_dict(include_self_link=False, transform_hrefs=False)
        doc["links"] = []
        path = folder / f"collection-{i}.json"
        path.write_text(json.dumps(doc))
        files.append(path)
        features.extend(_item_doc(it, top, base) for it in coll.get_items(recursive=True))
    features.extend(_item_doc(it, top, base) for it in extra)
    if features:
        path = folder / "items.json"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        files.append(path)
    return files


# --------------------------------------------------------------------------- processes


def _rustac() -> str:
    beside = Path(sys.executable).with_name("rustac")
    found = str(beside) if beside.is_file() else shutil.which("rustac")
    if not found:
        raise RuntimeError(
            "serve_stac_api needs the `rustac` package (its `rustac serve` STAC API server); "
            "install it with `pip install 'vegcube[test]'`"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-2000:]
            raise RuntimeError(f"rustac serve exited ({proc.returncode}): {tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"rustac serve did not answer within {timeout:g} s: {log.read_text()}")


@contextmanager
def _background(server: ThreadingHTTPServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_stac_api(
    catalog: str | os.PathLike[str],
    *,
    page_size: int = 10,
    items: Sequence[pystac.Item] = (),
    token: str | None = None,
    conformance: Sequence[str] = (),
    queryables: dict[str, Any] | None = None,
    startup_timeout: float = 30.0,
) -> Iterator[ServedStacApi]:
    """Serve the static `catalog` (a ``catalog.json`` or its folder) as a STAC API.

    Its collections and items, plus `items` (e.g. a reprocessed duplicate), are loaded into
    ``rustac serve`` on 127.0.0.1; asset hrefs point at ``<url>/assets/…``, the catalog's folder
    served with HTTP Range. At most `page_size` items per page. When `token` is given, asset
    requests must carry ``?token=<token>`` (else 403). `conformance` classes are added to the
    advertised ones and `queryables` is served at ``/collections/<id>/queryables``.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be >= 1, got {page_size}")
    path = _catalog_root(catalog)
    if not path.is_file():
        raise FileNotFoundError(f"no static catalog at {path}")
    exe = _rustac()
    with ExitStack() as stack:
        folder = stack.enter_context(serve_folder(path.parent))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vegcube-stac-api-")))
        served = ServedStacApi(url="", assets=folder, page_size=page_size, token=token)
        backend_port = _free_port()
        handler = type(
            "Front",
            (_Front,),
            {
                "served": served,
                "backend": ("127.0.0.1", backend_port),
                "folder": _host_port(folder.url),
                "conformance": tuple(conformance),
                "queryables": queryables,
            },
        )
        front = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        front.daemon_threads = True
        served.url = f"http://127.0.0.1:{front.server_address[1]}"
        stack.enter_context(_background(front))
        files = _write_backend_files(path, items, served.url, work)
        log = work / "rustac.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [exe, "serve", "--addr", served.url, "--bind", f"127.0.0.1:{backend_port}"]
                + [str(f) for f in files],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        stack.callback(_stop, proc)
        _wait_ready(proc, backend_port, log, startup_timeout)
        yield served


def _host_port(url: str) -> tuple[str, int]:
    m = re.match(r"https?://([^:/]+):(\d+)", url)
    if m is None:
        raise ValueError(f"not a host:port URL: {url}")
    return m.group(1), int(m.group(2))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
