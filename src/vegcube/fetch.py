"""Download mirror: the assets a recipe needs → local COGs + a static STAC catalog of them.

`download(recipe, to=DIR)` copies, for every scene the recipe finds, only the assets of its
bands (the QA band included) into ``DIR/<collection>/<item>/<asset>.tif`` and writes
``DIR/catalog.json``, a static catalog a recipe can use as ``source.catalog``.

Two ways to copy a file:

- **clip** (default): GDAL opens the remote COG (``/vsicurl/``, HTTP range reads), reads the
  window of the AOI bbox in the asset's CRS, snapped outwards to its pixel grid plus `margin`
  pixels, and writes it as a COG with the source's tiling, compression and predictor (and
  overviews by the COG driver's AUTO rule). Verified by validating the COG and reading it back.
- **whole**: HTTP streaming of the unchanged file (`clip=False`, or when the AOI window covers
  the whole asset), resumed from a ``.part`` file with ``Range: bytes=N-``, verified by size
  and, when the item has one, its ``file:checksum`` multihash.

Every file is requested first (a 2-byte ranged GET): archives that stage from tape answer 202
and start staging; ready files are downloaded while the others are polled with backoff until
`max_wait`. Transient failures (429, 5xx, resets, truncated bodies, bad checksums) are retried
with exponential backoff, honouring ``Retry-After``. Everything is written under a temporary
name and renamed, so a rerun skips complete files and resumes the rest.

Credentials: ``VEGCUBE_HTTP_TOKEN`` (sent as ``Authorization: Bearer …``) or ``~/.netrc``;
never logged, printed or written to the mirror.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pystac
import rasterio
import rasterio.shutil
import requests
import urllib3
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
from rasterio.transform import Affine
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds
from shapely.geometry import box, mapping, shape
from urllib3.util import Retry

from . import cube, sensors
from .errors import DataError, RecipeError, SourceError, VegcubeError
from .export import atomic_path

__all__ = [
    "TOKEN_ENV",
    "DownloadProgress",
    "Mirror",
    "MirroredFile",
    "download",
    "gdal_http_options",
]

#: environment variable holding a bearer token sent to the archive (never logged or written)
TOKEN_ENV = "VEGCUBE_HTTP_TOKEN"

_TRANSIENT = {408, 425, 429, 500, 502, 503, 504}
_STAGING = {202}
_TIMEOUT = (30.0, 120.0)  # connect, read (s)
_MAX_RETRY_AFTER = 600.0
_OVERVIEW_MIN = 256  # px: a clip this small is read whole, it needs no overviews
_COG_MEDIA = "image/tiff; application=geotiff; profile=cloud-optimized"


def gdal_http_options() -> dict[str, str]:
    """GDAL config options that make ``/vsicurl/`` reads retry transient HTTP failures.

    GDAL ≥ 3.10 retries the listed codes (and connection resets) with exponential backoff
    from ``GDAL_HTTP_RETRY_DELAY`` (it does not read ``Retry-After``): 0.1 s, the base delay
    of the AWS SDKs, about doubling each time (10 retries span minutes); a stalled transfer
    (< 1 byte/s for 60 s) fails instead of hanging. A truncated body is not retried by GDAL:
    the read fails with an error, never with wrong pixels. Options already set in the
    environment win (also over odc-stac's cloud defaults), so users and tests can tune them.
    """
    opts = {
        "GDAL_HTTP_MAX_RETRY": "10",
        "GDAL_HTTP_RETRY_DELAY": "0.1",
        "GDAL_HTTP_RETRY_CODES": "429,500,502,503,504",
        "GDAL_HTTP_CONNECTTIMEOUT": "30",
        "GDAL_HTTP_LOW_SPEED_LIMIT": "1",
        "GDAL_HTTP_LOW_SPEED_TIME": "60",
    }
    return {k: os.environ.get(k, v) for k, v in opts.items()}


@dataclass(frozen=True)
class MirroredFile:
    """One asset of the mirror: where it is, how it was copied, how many bytes it holds."""

    item: str
    asset: str
    path: Path
    mode: str  #: "clip", "whole" or "skipped" (complete from an earlier run)
    bytes: int


@dataclass(frozen=True)
class DownloadProgress:
    """Snapshot passed to the `progress` callback."""

    files_done: int
    files_total: int
    bytes: int
    staging: int


@dataclass
class Mirror:
    """What `download` wrote, and what it took."""

    catalog: Path
    files: list[MirroredFile] = field(default_factory=list)
    retries: int = 0  #: transient failures survived (HTTP 429/5xx, resets, truncation, checksum)
    polls: int = 0  #: staging polls made
    seconds: float = 0.0

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files if f.mode != "skipped")


@dataclass(eq=False)
class _Job:
    item: pystac.Item
    key: str
    href: str
    dest: Path
    clip: bool
    categorical: bool
    size: int | None
    checksum: str | None
    grid: _Grid | None  # from the item's proj metadata
    poll: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.item.id}/{self.key}"

    @property
    def remote(self) -> bool:
        return urllib.parse.urlsplit(self.href).scheme in ("http", "https")


@dataclass(frozen=True)
class _Staging:
    retry_after: float | None


class _Transient(Exception):
    """A failure worth retrying; `retry_after` (s) when the server said when."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


_Grid = tuple[CRS, Affine, tuple[int, int]]  # CRS, transform, (rows, cols)
_READY = "ready"
_WHOLE = "whole"


def download(
    recipe: Any,
    *,
    to: str | os.PathLike[str],
    workers: int = 4,
    clip: bool = True,
    margin: int = 8,
    retries: int = 5,
    backoff: float = 0.5,
    poll: float = 10.0,
    max_poll: float = 300.0,
    max_wait: float = 3600.0,
    log: Callable[[str], None] | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
) -> Mirror:
    """Mirror the assets `recipe` needs into `to` and write ``to/catalog.json``.

    `recipe` is anything `vegcube.plan` accepts. `margin` pixels are kept around the AOI
    window (`clip=False` copies whole files). A transient failure is retried `retries` times,
    waiting `backoff`·2ⁿ s (or ``Retry-After``). Files still staging are polled every `poll` s,
    doubling up to `max_poll`, until `max_wait` s have passed since the start.

    Raises `RecipeError`/`SourceError` (exit 2) for bad input, an unknown asset, a 404 or a
    refused credential; `DataError` (exit 1) when files cannot be fetched or verified, or are
    still staging after `max_wait` — a rerun resumes where this one stopped.
    """
    from .planning import plan

    if workers < 1:
        raise RecipeError(f"workers: must be ≥ 1, got {workers}")
    if margin < 0:
        raise RecipeError(f"margin: must be ≥ 0 pixels, got {margin}")
    p = plan(recipe)
    rc = p.recipe
    root = Path(to).absolute()
    root.mkdir(parents=True, exist_ok=True)
    bbox = tuple(float(v) for v in p.geometry.boundingbox)
    jobs = []
    for coll, items in _by_collection(p.items, rc.source.collections).items():
        sensor = sensors.for_collection(coll)
        bands = sensors.bands_for(coll, rc.indices)
        keys = cube.asset_keys(items, bands, collection=coll)
        qa = set(getattr(sensor, "QA_BANDS", ())) | {sensor.QA_BAND}
        for item in items:
            for band, key in keys.items():
                jobs.append(_job(item, key, root / coll, clip=clip, categorical=band in qa))
    fetcher = _Fetcher(
        bbox=bbox,  # type: ignore[arg-type]
        margin=margin,
        workers=workers,
        retries=retries,
        backoff=backoff,
        poll=poll,
        max_poll=max_poll,
        max_wait=max_wait,
        log=log or (lambda msg: None),
        progress=progress,
    )
    t0 = time.monotonic()
    mirror = Mirror(catalog=root / "catalog.json")
    mirror.files = fetcher.run(jobs)
    mirror.retries, mirror.polls = fetcher.retried, fetcher.polls
    _write_catalog(root, rc, jobs)
    mirror.seconds = round(time.monotonic() - t0, 3)
    return mirror


def _by_collection(items: list[pystac.Item], colls: list[str]) -> dict[str, list[pystac.Item]]:
    """Items per collection id (all of them when the recipe names a single collection)."""
    if len(colls) == 1:
        return {colls[0]: list(items)}
    out: dict[str, list[pystac.Item]] = {c: [] for c in colls}
    for item in items:
        if item.collection_id not in out:
            raise SourceError(
                f"item {item.id}: its collection {item.collection_id!r} is not one of "
                f"source.collection ({', '.join(colls)})"
            )
        out[item.collection_id].append(item)
    return {c: its for c, its in out.items() if its}


def _job(item: pystac.Item, key: str, folder: Path, *, clip: bool, categorical: bool) -> _Job:
    asset = item.assets[key]
    href = asset.get_absolute_href() or asset.href
    suffix = PurePosixPath(urllib.parse.urlsplit(href).path).suffix or ".tif"
    size = asset.extra_fields.get("file:size")
    return _Job(
        item=item,
        key=key,
        href=href,
        dest=folder / item.id / f"{key}{suffix if not clip else '.tif'}",
        clip=clip,
        categorical=categorical,
        size=int(size) if size is not None else None,
        checksum=asset.extra_fields.get("file:checksum"),
        grid=_proj_grid(item, asset),
    )


def _proj_grid(item: pystac.Item, asset: pystac.Asset) -> _Grid | None:
    """CRS, transform and (rows, cols) of an asset from its (or its item's) ``proj:`` fields."""

    def get(name: str) -> Any:
        return asset.extra_fields.get(name, item.properties.get(name))

    code, epsg = get("proj:code"), get("proj:epsg")
    tr, shp = get("proj:transform"), get("proj:shape")
    if tr is None or shp is None or (code is None and epsg is None):
        return None
    try:
        crs = CRS.from_user_input(code if code is not None else int(epsg))
        return crs, Affine(*tr[:6]), (int(shp[0]), int(shp[1]))
    except Exception:  # malformed metadata: decide from the file itself
        return None


def _window(grid: _Grid, bbox: tuple[float, ...], margin: int) -> Window | None:
    """The AOI window on the asset's pixel grid, `margin` pixels wider; None if it is the file."""
    crs, tr, (rows, cols) = grid
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, *bbox, densify_pts=21)
    w = from_bounds(left, bottom, right, top, transform=tr)
    c0 = max(0, math.floor(w.col_off + 1e-6) - margin)
    r0 = max(0, math.floor(w.row_off + 1e-6) - margin)
    c1 = min(cols, math.ceil(w.col_off + w.width - 1e-6) + margin)
    r1 = min(rows, math.ceil(w.row_off + w.height - 1e-6) + margin)
    if c1 <= c0 or r1 <= r0 or (c0, r0, c1, r1) == (0, 0, cols, rows):
        return None  # the AOI covers the asset (or misses it): copy the file unchanged
    return Window(c0, r0, c1 - c0, r1 - r0)


def _same_grid(a: _Grid, b: tuple[Any, Affine, tuple[int, int]]) -> bool:
    return a[2] == b[2] and a[1].almost_equals(b[1]) and a[0] == b[0]


def _public(url: str) -> str:
    """`url` without user info or query string (signed URLs carry credentials there)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _scrub(text: str) -> str:
    return re.sub(r"\?[^\s'\"]*", "?…", text)


class _Fetcher:
    """Runs the jobs on a thread pool: request all, download the ready, poll the staging."""

    def __init__(
        self,
        *,
        bbox: tuple[float, float, float, float],
        margin: int,
        workers: int,
        retries: int,
        backoff: float,
        poll: float,
        max_poll: float,
        max_wait: float,
        log: Callable[[str], None],
        progress: Callable[[DownloadProgress], None] | None,
    ) -> None:
        self.bbox, self.margin, self.workers = bbox, margin, workers
        self.max_retries, self.backoff = retries, backoff
        self.poll, self.max_poll, self.max_wait = poll, max_poll, max_wait
        self.log, self.progress = log, progress
        self.token = (os.environ.get(TOKEN_ENV) or "").strip() or None
        self.retried = 0  # transient failures survived
        self.polls = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._bytes = 0
        self._done = 0
        self._total = 0
        self._staging = 0

    # -- orchestration ---------------------------------------------------------------------

    def run(self, jobs: list[_Job]) -> list[MirroredFile]:
        files: list[MirroredFile] = []
        todo = []
        for job in jobs:
            if self._complete(job):
                files.append(MirroredFile(job.item.id, job.key, job.dest, "skipped", 0))
            else:
                todo.append(job)
        self._total, self._done = len(jobs), len(files)
        self.log(f"{len(jobs)} files: {len(files)} complete already, {len(todo)} to fetch")
        self._report()
        try:
            files += self._schedule(todo)
        finally:
            for s in self._sessions:
                s.close()
        return files

    def _schedule(self, jobs: list[_Job]) -> list[MirroredFile]:
        start = time.monotonic()
        deadline = start + self.max_wait
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="vegcube-fetch")
        running: dict[Future[Any], tuple[str, _Job]] = {}
        staging: dict[_Job, float] = {}  # job -> when to poll it next
        unrequested = {j for j in jobs if j.remote}
        stuck: list[_Job] = []
        errors: list[VegcubeError] = []
        files: list[MirroredFile] = []

        def submit(kind: str, job: _Job) -> None:
            running[pool.submit(self._task, kind, job)] = (kind, job)

        for job in jobs:  # every file is requested before anything is downloaded
            job.poll = self.poll
            submit("probe" if job.remote else "fetch", job)
        announced = False
        try:
            while running or staging:
                now = time.monotonic()
                if not unrequested and staging and not announced:
                    announced = True
                    self.log(
                        f"{len(staging)} of {len(jobs)} files are staging (not yet online): "
                        f"polling them for up to {self.max_wait:g} s while the others download"
                    )
                if not unrequested:  # polls start once every file has been requested
                    for job, when in list(staging.items()):
                        if when <= now:
                            del staging[job]
                            self.polls += 1
                            submit("poll", job)
                timeout = 0.5 if running else math.inf
                if staging and not unrequested:
                    timeout = min(timeout, max(0.0, min(staging.values()) - now))
                done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
                for fut in done:
                    _, job = running.pop(fut)
                    unrequested.discard(job)
                    try:
                        out = fut.result()
                    except VegcubeError as exc:
                        errors.append(exc)
                        if isinstance(exc, SourceError):  # bad input: stop, don't hammer
                            for other in running:
                                other.cancel()
                            running = {f: kj for f, kj in running.items() if not f.cancelled()}
                            staging.clear()
                        continue
                    except CancelledError:
                        continue
                    aborted = any(isinstance(e, SourceError) for e in errors)
                    if isinstance(out, _Staging):
                        now = time.monotonic()
                        if aborted:
                            continue
                        if now >= deadline:
                            stuck.append(job)
                            continue
                        delay = out.retry_after if out.retry_after is not None else job.poll
                        job.poll = min(job.poll * 2, self.max_poll)
                        staging[job] = min(now + delay, deadline)
                    elif out == _READY:
                        if not aborted:
                            submit("fetch", job)
                    else:
                        files.append(out)
                        with self._lock:
                            self._done += 1
                with self._lock:
                    self._staging = len(staging) + sum(k == "poll" for k, _ in running.values())
                self._report()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        if stuck:
            names = _listing([j.name for j in stuck], ", ")
            errors.append(
                DataError(
                    f"{len(stuck)} file(s) still staging after {self.max_wait:g} s: {names}. "
                    "The archive is bringing them online; run the same command again later "
                    "(complete files are kept), or raise --max-wait"
                )
            )
        bad = [str(e) for e in errors if isinstance(e, SourceError)]
        if bad:
            raise SourceError(
                "download stopped (files already complete are kept; fix this and run the same "
                "command again):\n  " + _listing(bad, "\n  ")
            )
        if errors:
            raise DataError(
                f"download: {len(errors)} of {len(jobs)} file(s) failed; files already "
                "complete are kept and a rerun resumes the rest:\n  "
                + _listing([str(e) for e in errors], "\n  ")
            )
        return files

    def _task(self, kind: str, job: _Job) -> Any:
        if kind in ("probe", "poll"):
            return self._retrying(job, lambda: self._probe(job))
        if job.clip:
            out = self._retrying(job, lambda: self._clip(job))
            if out != _WHOLE:
                return out
            job.clip = False  # the AOI window is the whole file: copy it unchanged
        if not job.remote:
            return self._retrying(job, lambda: self._copy(job))
        return self._retrying(job, lambda: self._whole(job))

    def _retrying(self, job: _Job, fn: Callable[[], Any]) -> Any:
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except _Transient as exc:
                if attempt == self.max_retries:
                    raise DataError(
                        f"{job.name}: {exc} (gave up after {attempt + 1} attempts)"
                    ) from None
                if exc.retry_after is not None:
                    delay = min(exc.retry_after, _MAX_RETRY_AFTER)
                else:
                    delay = self.backoff * 2**attempt * random.uniform(0.75, 1.25)
                with self._lock:
                    self.retried += 1
                self.log(
                    f"{job.name}: {exc}; retry {attempt + 1}/{self.max_retries} in {delay:.1f} s"
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- HTTP ------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        s: requests.Session | None = getattr(self._local, "session", None)
        if s is None:
            from . import __version__

            s = requests.Session()  # trust_env: ~/.netrc is used when no token is set
            s.headers["User-Agent"] = f"vegcube/{__version__}"
            if self.token:
                s.headers["Authorization"] = f"Bearer {self.token}"
            self._local.session = s
            with self._lock:
                self._sessions.append(s)
        return s

    def _get(self, job: _Job, headers: dict[str, str]) -> requests.Response:
        try:
            headers = {"Accept-Encoding": "identity", **headers}  # bytes as stored: resumable
            r = self._session().get(job.href, headers=headers, stream=True, timeout=_TIMEOUT)
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = _scrub(str(exc.__context__ or exc))[-160:]
            raise _Transient(f"connection failed ({type(exc).__name__}: …{reason})") from None
        code = r.status_code
        if code in _TRANSIENT:
            r.close()
            raise _Transient(f"HTTP {code}", _retry_after(r))
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

    def _probe(self, job: _Job) -> Any:
        with self._get(job, {"Range": "bytes=0-1"}) as r:
            if r.status_code in _STAGING:
                return _Staging(_retry_after(r))
        return _READY

    def _whole(self, job: _Job) -> Any:
        part = job.dest.with_name(job.dest.name + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.exists() else 0
        total: int | None = None
        r = self._get(job, {"Range": f"bytes={have}-"} if have else {})
        with r:
            if r.status_code in _STAGING:
                return _Staging(_retry_after(r))
            if r.status_code == 416:  # nothing after `have`: complete, or a stale .part
                total = _content_range(r.headers.get("Content-Range", ""))[1]
                if total != have:
                    part.unlink()
                    raise _Transient("the server refused to resume the partial file")
            else:
                if r.status_code == 206:
                    first, total = _content_range(r.headers.get("Content-Range", ""))
                    if first != have:
                        part.unlink()
                        raise _Transient(f"the server resumed at byte {first}, not {have}")
                else:
                    have, length = 0, r.headers.get("Content-Length")
                    total = int(length) if length is not None else None
                try:
                    with open(part, "ab" if have else "wb") as fh:
                        for chunk in _chunks(r):
                            fh.write(chunk)
                            self._add_bytes(len(chunk))
                        fh.flush()
                        os.fsync(fh.fileno())
                except (requests.RequestException, urllib3.exceptions.HTTPError):
                    # reset or truncated: what arrived stays in .part, the retry resumes there
                    got = part.stat().st_size if part.exists() else 0
                    raise _Transient(f"transfer broken at byte {got} of {total}") from None
        return self._verify_whole(job, part, total)

    def _copy(self, job: _Job) -> MirroredFile:
        src = Path(urllib.parse.unquote(urllib.parse.urlsplit(job.href).path) or job.href)
        if not src.is_file():
            raise SourceError(f"{job.name}: {src} does not exist; the catalog points to it")
        part = job.dest.with_name(job.dest.name + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, part)
        self._add_bytes(part.stat().st_size)
        return self._verify_whole(job, part, src.stat().st_size)

    def _verify_whole(self, job: _Job, part: Path, total: int | None) -> MirroredFile:
        got = part.stat().st_size
        if total is not None and got < total:
            raise _Transient(f"incomplete: {got} of {total} bytes")  # keep .part: resume
        for expect, what in ((total, "the server announced"), (job.size, "file:size says")):
            if expect is not None and got != expect:
                part.unlink()
                raise _Transient(f"{got} bytes downloaded but {what} {expect}")
        if job.checksum:
            ok, digest = _check_multihash(part, job.checksum)
            if ok is None:
                self.log(
                    f"{job.name}: cannot verify file:checksum {job.checksum[:12]}… (unknown hash)"
                )
            elif not ok:
                part.unlink()
                raise _Transient(
                    f"checksum mismatch for {job.dest.name}: file:checksum is {job.checksum} "
                    f"but the download hashes to {digest}"
                )
        os.replace(part, job.dest)
        return MirroredFile(job.item.id, job.key, job.dest, "whole", got)

    # -- GDAL clip ---------------------------------------------------------------------------

    def _gdal_env(self, job: _Job) -> dict[str, str]:
        opts = {
            **gdal_http_options(),
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            # forget what was read (or failed) when the file closes, so a retry re-reads
            "CPL_VSIL_CURL_NON_CACHED": f"/vsicurl/{job.href}",
        }
        if self.token:
            opts |= {"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": self.token}
        return opts

    def _clip(self, job: _Job) -> Any:
        if job.grid is not None and _window(job.grid, self.bbox, self.margin) is None:
            return _WHOLE  # known from the metadata: no need to open the file
        try:
            with rasterio.Env(**self._gdal_env(job)), rasterio.open(job.href) as src:
                grid = (src.crs, src.transform, (src.height, src.width))
                if (
                    src.crs is None
                    or src.transform.is_identity
                    or (job.grid is not None and not _same_grid(job.grid, grid))
                ):  # a truncated header read: GDAL may open it without its georeferencing
                    raise _Transient("the header read does not match the item's proj: grid")
                win = _window(grid, self.bbox, self.margin)
                if win is None:
                    return _WHOLE
                data = src.read(window=win)
                profile = _cog_profile(src, win)
                meta = _band_meta(src)
        except RasterioError as exc:
            raise _Transient(f"GDAL read failed: {_scrub(str(exc))}") from None
        with atomic_path(job.dest) as tmp:
            _write_cog(tmp, data, profile, meta, categorical=job.categorical)
            _verify_cog(job, tmp, data, profile)
        size = job.dest.stat().st_size
        self._add_bytes(size)
        return MirroredFile(job.item.id, job.key, job.dest, "clip", size)

    def _complete(self, job: _Job) -> bool:
        """A file from an earlier run is complete if it exists with the grid expected now."""
        if not job.dest.is_file():
            return False
        if job.grid is None:
            return True
        win = _window(job.grid, self.bbox, self.margin) if job.clip else None
        _, tr, (rows, cols) = job.grid
        if win is not None:
            tr = rasterio.windows.transform(win, tr)
            rows, cols = int(win.height), int(win.width)
        elif job.size is not None and job.dest.stat().st_size != job.size:
            return False
        try:
            with rasterio.open(job.dest) as ds:
                return ds.shape == (rows, cols) and ds.transform.almost_equals(tr)
        except RasterioError:
            return False

    # -- progress ----------------------------------------------------------------------------

    def _add_bytes(self, n: int) -> None:
        with self._lock:
            self._bytes += n
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(DownloadProgress(self._done, self._total, self._bytes, self._staging))


def _chunks(r: requests.Response) -> Iterator[bytes]:
    """The body as it arrives (``read1``: a broken transfer keeps what came before it)."""
    read1 = getattr(r.raw, "read1", None)
    if read1 is None:  # urllib3 < 2
        yield from r.iter_content(1 << 16)
        return
    while chunk := read1(1 << 16):
        yield chunk


def _listing(texts: list[str], sep: str, *, limit: int = 12) -> str:
    more = f"{sep}… and {len(texts) - limit} more" if len(texts) > limit else ""
    return sep.join(texts[:limit]) + more


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


def _varint(raw: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = raw[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def _check_multihash(path: Path, multihash: str) -> tuple[bool | None, str]:
    """Compare `path` with a hex multihash (sha1/sha2-256/sha2-512/md5/blake2b-256).

    Returns (ok, multihash of the file); ok is None when the hash function is unknown.
    """
    try:
        raw = bytes.fromhex(multihash)
        code, i = _varint(raw, 0)
        length, i = _varint(raw, i)
    except (ValueError, IndexError):
        return None, ""
    names = {0x11: "sha1", 0x12: "sha256", 0x13: "sha512", 0xD5: "md5"}
    h: Any
    if code == 0xB220:
        h = hashlib.blake2b(digest_size=32)
    elif code in names:
        h = hashlib.new(names[code])
    else:
        return None, ""
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.digest()[:length]
    got = raw[:i].hex() + digest.hex()
    return digest == raw[i:], got


def _cog_profile(src: Any, win: Window) -> dict[str, Any]:
    block = src.block_shapes[0][1] if src.profile.get("tiled") else 512
    structure = src.tags(ns="IMAGE_STRUCTURE")
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "dtype": src.dtypes[0],
        "count": src.count,
        "height": int(win.height),
        "width": int(win.width),
        "crs": src.crs,
        "transform": src.window_transform(win),
        "nodata": src.nodata,
        "BLOCKSIZE": max(16, min(block - block % 16, 512)),
        "COMPRESS": (src.compression.name if src.compression else "DEFLATE").upper(),
    }
    if structure.get("PREDICTOR") in ("2", "3"):
        profile["PREDICTOR"] = structure["PREDICTOR"]
    return profile


def _band_meta(src: Any) -> dict[str, Any]:
    return {
        "tags": src.tags(),
        "band_tags": [src.tags(i) for i in src.indexes],
        "descriptions": src.descriptions,
        "scales": src.scales,
        "offsets": src.offsets,
        "units": src.units,
        "colorinterp": src.colorinterp,
    }


def _write_cog(
    path: Path,
    data: np.ndarray,
    profile: dict[str, Any],
    meta: dict[str, Any],
    *,
    categorical: bool,
) -> None:
    """Write `data` as a COG with the source's compression and predictor, tiles of at most
    512 px, and overviews halving until the smallest fits in `_OVERVIEW_MIN` px (nearest
    resampling for categorical QA bands, average otherwise)."""
    base = {k: v for k, v in profile.items() if k.islower()}
    opts = {k: v for k, v in profile.items() if k.isupper()}
    levels = max(0, math.ceil(math.log2(max(data.shape[1:]) / _OVERVIEW_MIN)))
    opts |= {
        "OVERVIEWS": "AUTO" if levels else "NONE",
        "OVERVIEW_COUNT": levels,
        "OVERVIEW_RESAMPLING": "NEAREST" if categorical else "AVERAGE",
        "BIGTIFF": "IF_SAFER",
    }
    if not levels:
        del opts["OVERVIEW_COUNT"]
    with MemoryFile() as mem, mem.open(**base) as ds:
        ds.write(data)
        ds.update_tags(**meta["tags"])
        for i, tags in enumerate(meta["band_tags"], start=1):
            ds.update_tags(i, **tags)
            if meta["descriptions"][i - 1]:
                ds.set_band_description(i, meta["descriptions"][i - 1])
            if meta["units"][i - 1]:
                ds.set_band_unit(i, meta["units"][i - 1])
        ds.scales, ds.offsets = meta["scales"], meta["offsets"]
        ds.colorinterp = meta["colorinterp"]
        rasterio.shutil.copy(ds, str(path), driver="COG", **opts)


def _verify_cog(job: _Job, path: Path, data: np.ndarray, profile: dict[str, Any]) -> None:
    from rio_cogeo.cogeo import cog_validate

    valid, errors, _ = cog_validate(str(path), quiet=True)
    if not valid:
        raise DataError(f"{job.name}: the clipped file is not a valid COG: {'; '.join(errors)}")
    with rasterio.open(path) as ds:
        same = ds.transform.almost_equals(profile["transform"]) and ds.crs == profile["crs"]
        if not same or not np.array_equal(ds.read(), data):
            raise DataError(f"{job.name}: the clipped file does not read back as written")


# --------------------------------------------------------------------------- the catalog


def _write_catalog(root: Path, rc: Any, jobs: list[_Job]) -> None:
    """A self-contained static catalog of the mirror, each JSON file written atomically."""
    groups: dict[str, dict[int, list[_Job]]] = {}
    for job in jobs:
        coll_id = job.dest.parent.parent.name
        groups.setdefault(coll_id, {}).setdefault(id(job.item), []).append(job)
    cat = pystac.Catalog("vegcube-mirror", f"vegcube download mirror for recipe {rc.name!r}")
    for coll_id, per_item in groups.items():
        mirrored = [_mirror_item(js[0].item, js) for js in per_item.values()]
        boxes = [it.bbox for it in mirrored if it.bbox]
        times = [it.datetime for it in mirrored if it.datetime]
        extent = pystac.Extent(
            pystac.SpatialExtent([[min(b[0] for b in boxes), min(b[1] for b in boxes),
                                   max(b[2] for b in boxes), max(b[3] for b in boxes)]]),
            pystac.TemporalExtent([[min(times), max(times)]]),
        )  # fmt: skip
        keys = sorted({j.key for js in per_item.values() for j in js})
        coll = pystac.Collection(
            coll_id,
            f"vegcube mirror of {coll_id} for recipe {rc.name!r}: assets {', '.join(keys)} "
            "clipped to the AOI.",
            extent,
            license="other",
        )
        cat.add_child(coll)
        coll.add_items(mirrored)
    with tempfile.TemporaryDirectory(prefix=".catalog-", dir=root) as tmp:
        cat.normalize_hrefs(tmp)
        cat.save(pystac.CatalogType.SELF_CONTAINED)
        written = sorted(Path(tmp).rglob("*.json"), key=lambda q: -len(q.parts))
        for src in written:  # items first, catalog.json last
            final = root / src.relative_to(tmp)
            with atomic_path(final) as dst:
                shutil.copyfile(src, dst)


def _mirror_item(item: pystac.Item, jobs: list[_Job]) -> pystac.Item:
    """A copy of `item` whose assets are the local files, with their clipped grids."""
    new = item.clone()
    new.clear_links()
    new.collection_id = jobs[0].dest.parent.parent.name
    new.assets = {}
    footprint = None
    for job in jobs:
        asset = item.assets[job.key].clone()
        asset.href = f"./{job.dest.name}"
        extra = asset.extra_fields
        extra.pop("alternate", None)
        with rasterio.open(job.dest) as ds:
            extra["proj:shape"] = [ds.height, ds.width]
            extra["proj:transform"] = list(ds.transform)[:6]
            if "proj:bbox" in extra:
                extra["proj:bbox"] = list(ds.bounds)
            ll = box(*transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21))
            full = job.grid[2] if job.grid is not None else None
            clipped = job.clip if full is None else (ds.height, ds.width) != full
        if clipped:
            extra.pop("file:checksum", None)
            extra.pop("file:size", None)
            footprint = ll if footprint is None else footprint.union(ll)
        if asset.media_type is None:
            asset.media_type = _COG_MEDIA
        new.add_asset(job.key, asset)
    if footprint is not None and item.geometry is not None:
        geom = shape(item.geometry).intersection(footprint)
        if not geom.is_empty:
            new.geometry, new.bbox = mapping(geom), list(geom.bounds)
    return new
