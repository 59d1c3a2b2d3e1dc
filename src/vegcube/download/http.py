"""HTTP: sessions and credentials, ranged and resumed GETs, staging, GDAL's HTTP options.

Credentials: ``VEGCUBE_HTTP_TOKEN`` (sent as ``Authorization: Bearer …``, to GDAL too) or
``~/.netrc``; never logged, printed or written to the mirror. Transient failures (429, 5xx,
resets, truncated bodies) raise `Transient`, with the server's ``Retry-After`` when it gave
one; refused credentials, missing files and other client errors raise `SourceError`.
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3
from urllib3.util import Retry

from .._version import __version__
from ..catalog.storage import gdal_http_options
from ..errors import SourceError
from .jobs import Job

__all__ = [
    "READY",
    "TOKEN_ENV",
    "Client",
    "Staging",
    "Transient",
    "gdal_http_options",
    "scrub",
]

#: environment variable holding a bearer token sent to the archive (never logged or written)
TOKEN_ENV = "VEGCUBE_HTTP_TOKEN"
#: what a probe returns for a file that can be downloaded now
READY = "ready"

_TRANSIENT = {408, 425, 429, 500, 502, 503, 504}
_STAGING = {202}
_TIMEOUT = (30.0, 120.0)  # connect, read (s)


@dataclass(frozen=True)
class Staging:
    """The archive is bringing the file online (HTTP 202); poll again later."""

    retry_after: float | None


class Transient(Exception):
    """A failure worth retrying; `retry_after` (s) when the server said when."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Client:
    """One HTTP session per thread, with the token of ``VEGCUBE_HTTP_TOKEN`` if set."""

    def __init__(self) -> None:
        self.token = (os.environ.get(TOKEN_ENV) or "").strip() or None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    def close(self) -> None:
        """Close the sessions of every thread."""
        for s in self._sessions:
            s.close()

    def gdal_env(self, job: Job) -> dict[str, str]:
        """GDAL options to read `job`'s file uncached over ``/vsicurl/``, with the token."""
        opts = {
            **gdal_http_options(),
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            # forget what was read (or failed) when the file closes, so a retry re-reads
            "CPL_VSIL_CURL_NON_CACHED": f"/vsicurl/{job.href}",
        }
        if self.token:
            opts |= {"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": self.token}
        return opts

    def probe(self, job: Job) -> Staging | str:
        """Request the file's first 2 bytes: `READY`, or `Staging` (the request starts it)."""
        with self._get(job, {"Range": "bytes=0-1"}) as r:
            if r.status_code in _STAGING:
                return Staging(_retry_after(r))
        return READY

    def whole(
        self, job: Job, *, on_bytes: Callable[[int], None]
    ) -> Staging | tuple[Path, int | None]:
        """Download the file into ``<dest>.part``, resuming what an earlier attempt left
        (``Range: bytes=N-``); the part and the size the server announced (None: unknown).
        A broken transfer keeps what arrived and raises `Transient`."""
        part = job.dest.with_name(job.dest.name + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.exists() else 0
        total: int | None = None
        r = self._get(job, {"Range": f"bytes={have}-"} if have else {})
        with r:
            if r.status_code in _STAGING:
                return Staging(_retry_after(r))
            if r.status_code == 416:  # nothing after `have`: complete, or a stale .part
                total = _content_range(r.headers.get("Content-Range", ""))[1]
                if total != have:
                    part.unlink()
                    raise Transient("the server refused to resume the partial file")
            else:
                if r.status_code == 206:
                    first, total = _content_range(r.headers.get("Content-Range", ""))
                    if first != have:
                        part.unlink()
                        raise Transient(f"the server resumed at byte {first}, not {have}")
                else:
                    have, length = 0, r.headers.get("Content-Length")
                    total = int(length) if length is not None else None
                try:
                    with open(part, "ab" if have else "wb") as fh:
                        for chunk in _chunks(r):
                            fh.write(chunk)
                            on_bytes(len(chunk))
                        fh.flush()
                        os.fsync(fh.fileno())
                except (requests.RequestException, urllib3.exceptions.HTTPError):
                    # reset or truncated: what arrived stays in .part, the retry resumes there
                    got = part.stat().st_size if part.exists() else 0
                    raise Transient(f"transfer broken at byte {got} of {total}") from None
        return part, total

    def _session(self) -> requests.Session:
        s: requests.Session | None = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()  # trust_env: ~/.netrc is used when no token is set
            s.headers["User-Agent"] = f"vegcube/{__version__}"
            if self.token:
                s.headers["Authorization"] = f"Bearer {self.token}"
            self._local.session = s
            with self._lock:
                self._sessions.append(s)
        return s

    def _get(self, job: Job, headers: dict[str, str]) -> requests.Response:
        try:
            headers = {"Accept-Encoding": "identity", **headers}  # bytes as stored: resumable
            r = self._session().get(job.href, headers=headers, stream=True, timeout=_TIMEOUT)
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = scrub(str(exc.__context__ or exc))[-160:]
            raise Transient(f"connection failed ({type(exc).__name__}: …{reason})") from None
        code = r.status_code
        if code in _TRANSIENT:
            r.close()
            raise Transient(f"HTTP {code}", _retry_after(r))
        if code in (401, 403):
            r.close()
            host = urllib.parse.urlsplit(job.href).hostname
            raise SourceError(
                f"{job.name}: {host} refused access (HTTP {code}) to {_public(job.href)}; set "
                f"{TOKEN_ENV} to a valid bearer token or add a ~/.netrc entry for {host}"
            )
        if code in (404, 410):
            r.close()
            raise SourceError(
                f"{job.name}: {_public(job.href)} does not exist (HTTP {code}); the catalog "
                "points to a missing file"
            )
        if code >= 400 and code != 416:
            r.close()
            raise SourceError(f"{job.name}: HTTP {code} for {_public(job.href)}")
        return r


def scrub(text: str) -> str:
    """`text` without URL query strings (signed URLs carry credentials there)."""
    return re.sub(r"\?[^\s'\"]*", "?…", text)


def _public(url: str) -> str:
    """`url` without user info or query string (signed URLs carry credentials there)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _chunks(r: requests.Response) -> Iterator[bytes]:
    """The body as it arrives (``read1``: a broken transfer keeps what came before it)."""
    read1 = getattr(r.raw, "read1", None)
    if read1 is None:  # urllib3 < 2
        yield from r.iter_content(1 << 16)
        return
    while chunk := read1(1 << 16):
        yield chunk


def _retry_after(r: requests.Response) -> float | None:
    value = r.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(Retry().parse_retry_after(value))
    except Exception:  # malformed header: fall back to our own backoff
        return None


def _content_range(value: str) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range`` header (None where unknown)."""
    m = re.match(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value.strip())
    if not m:
        return None, None
    first = int(m.group(1)) if m.group(1) else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return first, total
