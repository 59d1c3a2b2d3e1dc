"""The thread pool that runs the jobs: request every file, fetch the ready, poll the staging.

Every remote file is requested first (a 2-byte ranged GET): archives that stage from tape
answer 202 and start staging; ready files are fetched while the others are polled with
backoff until `max_wait`. Transient failures are retried with exponential backoff (or the
server's ``Retry-After``); a `SourceError` (bad input) stops the download at once.
"""

from __future__ import annotations

import math
import random
import shutil
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, SourceError, VegcubeError
from . import checksum
from . import clip as clipping
from .http import READY, Client, Staging, Transient
from .jobs import Job, MirroredFile

__all__ = ["DownloadProgress", "Scheduler"]

_MAX_RETRY_AFTER = 600.0


@dataclass(frozen=True)
class DownloadProgress:
    """Snapshot passed to the `progress` callback."""

    files_done: int
    files_total: int
    bytes: int
    staging: int


class Scheduler:
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
        self.http = Client()
        self.retried = 0  # transient failures survived
        self.polls = 0
        self._lock = threading.Lock()
        self._bytes = 0
        self._done = 0
        self._total = 0
        self._staging = 0

    def run(self, jobs: list[Job]) -> list[MirroredFile]:
        """Fetch the files of `jobs` not complete from an earlier run; every file's record.

        Raises `SourceError` if a file was refused or missing, `DataError` if some could not
        be fetched or verified or are still staging (complete files are kept)."""
        files: list[MirroredFile] = []
        todo = []
        for job in jobs:
            if clipping.complete(job, bbox=self.bbox, margin=self.margin):
                files.append(job.mirrored("skipped", 0))
            else:
                todo.append(job)
        self._total, self._done = len(jobs), len(files)
        self.log(f"{len(jobs)} files: {len(files)} complete already, {len(todo)} to fetch")
        self._report()
        try:
            files += self._schedule(todo)
        finally:
            self.http.close()
        return files

    def _schedule(self, jobs: list[Job]) -> list[MirroredFile]:
        start = time.monotonic()
        deadline = start + self.max_wait
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="vegcube-fetch")
        running: dict[Future[Any], tuple[str, Job]] = {}
        staging: dict[Job, float] = {}  # job -> when to poll it next
        unrequested = {j for j in jobs if j.remote}
        stuck: list[Job] = []
        errors: list[VegcubeError] = []
        files: list[MirroredFile] = []

        def submit(kind: str, job: Job) -> None:
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
                    if isinstance(out, Staging):
                        now = time.monotonic()
                        if aborted:
                            continue
                        if now >= deadline:
                            stuck.append(job)
                            continue
                        delay = out.retry_after if out.retry_after is not None else job.poll
                        job.poll = min(job.poll * 2, self.max_poll)
                        staging[job] = min(now + delay, deadline)
                    elif out == READY:
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

    def _task(self, kind: str, job: Job) -> Any:
        if kind in ("probe", "poll"):
            return self._retrying(job, lambda: self.http.probe(job))
        if job.clip:
            out = self._retrying(job, lambda: self._clip(job))
            if out != clipping.WHOLE:
                return out
            job.clip = False  # the AOI window is the whole file: copy it unchanged
        if not job.remote:
            return self._retrying(job, lambda: self._copy(job))
        return self._retrying(job, lambda: self._whole(job))

    def _retrying(self, job: Job, fn: Callable[[], Any]) -> Any:
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except Transient as exc:
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

    # -- the ways to copy a file -------------------------------------------------------------

    def _clip(self, job: Job) -> MirroredFile | str:
        env = self.http.gdal_env(job)
        out = clipping.clip(job, bbox=self.bbox, margin=self.margin, env=env)
        if isinstance(out, MirroredFile):
            self._add_bytes(out.bytes)
        return out

    def _whole(self, job: Job) -> MirroredFile | Staging:
        got = self.http.whole(job, on_bytes=self._add_bytes)
        if isinstance(got, Staging):
            return got
        return checksum.verify(job, *got, log=self.log)

    def _copy(self, job: Job) -> MirroredFile:
        src = Path(urllib.parse.unquote(urllib.parse.urlsplit(job.href).path) or job.href)
        if not src.is_file():
            raise SourceError(f"{job.name}: {src} does not exist; the catalog points to it")
        part = job.dest.with_name(job.dest.name + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, part)
        self._add_bytes(part.stat().st_size)
        return checksum.verify(job, part, src.stat().st_size, log=self.log)

    # -- progress ----------------------------------------------------------------------------

    def _add_bytes(self, n: int) -> None:
        with self._lock:
            self._bytes += n
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(DownloadProgress(self._done, self._total, self._bytes, self._staging))


def _listing(texts: list[str], sep: str, *, limit: int = 12) -> str:
    more = f"{sep}… and {len(texts) - limit} more" if len(texts) > limit else ""
    return sep.join(texts[:limit]) + more
