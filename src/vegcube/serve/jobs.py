"""Batch jobs kept on disk under the state folder, one worker process per job.

Layout (nothing is written outside the state folder)::

    STATE/server.json               the collections workers load (written at start)
    STATE/jobs/<id>/job.json        metadata and status, written atomically (temporary + rename)
    STATE/jobs/<id>/logs.jsonl      log entries, one JSON object a line
    STATE/jobs/<id>/results/        result files and results.json describing them
    STATE/jobs/<id>/worker.log      what the worker printed (a crash's traceback)

Starting a job queues it; at most `max_running` workers (``python -m vegcube.serve.worker``)
run at once, each claiming its job with a run token. Cancelling or deleting kills the worker.
A job left ``queued`` or ``running`` by a server that died becomes ``error`` when the next
server opens the folder (its log says so); a worker that dies without finishing is found out
by `JobStore.poll` the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import OpenEOError

__all__ = [
    "JobStore",
    "append_log",
    "read_job",
    "read_sources_json",
    "results_document",
    "update_job",
    "write_json",
    "write_sources_json",
]

LEVELS = ("debug", "info", "warning", "error")
ACTIVE = ("queued", "running")
#: job fields the API shows (the others are the server's own)
_PUBLIC = (
    "id",
    "title",
    "description",
    "process",
    "status",
    "progress",
    "created",
    "updated",
    "plan",
    "budget",
    "log_level",
)
_EDITABLE = ("title", "description", "process", "plan", "budget", "log_level")


def now() -> str:
    """The current time, RFC 3339 in UTC."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- files


def write_json(path: Path, doc: Any) -> None:
    """Write `doc` to `path` atomically (a temporary file in the same folder, renamed)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Exclusive access to a job's files between the server and its worker."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: single writer at a time anyway
        yield
        return
    with open(folder / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_job(folder: Path) -> dict[str, Any]:
    """The job record in `folder`."""
    return dict(json.loads((folder / "job.json").read_text(encoding="utf-8")))


def update_job(folder: Path, *, expect_run: str | None = None, **changes: Any) -> bool:
    """Apply `changes` to the job record (and ``updated``) under the lock; with `expect_run`,
    only while the job still belongs to that run (False: it was cancelled or recovered)."""
    with _locked(folder):
        job = read_job(folder)
        if expect_run is not None and job.get("run") != expect_run:
            return False
        job.update(changes, updated=now())
        write_json(folder / "job.json", job)
        return True


def append_log(folder: Path, level: str, message: str, *, code: str | None = None) -> None:
    """Add a log entry (``id`` = its line number) to the job's logs."""
    with _locked(folder):
        path = folder / "logs.jsonl"
        count = sum(1 for _ in path.open(encoding="utf-8")) if path.exists() else 0
        entry = {"id": str(count), "level": level, "message": message, "time": now()}
        if code:
            entry["code"] = code
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


def write_sources_json(root: Path, sources: Mapping[str, Any], *, chunk: int = 1024) -> None:
    """The collections the workers load (`read_sources_json`), in ``STATE/server.json``."""
    keys = ("catalog", "collection", "title", "description", "resolution", "crs")
    doc = {
        "chunk": chunk,
        "sources": {i: {k: getattr(s, k) for k in keys} for i, s in sources.items()},
    }
    write_json(root / "server.json", doc)


def read_sources_json(root: Path) -> tuple[dict[str, Any], int]:
    """(sources, chunk) written by `write_sources_json`."""
    from .collections import Source

    doc = json.loads((root / "server.json").read_text(encoding="utf-8"))
    sources = {i: Source(id=i, **fields) for i, fields in doc["sources"].items()}
    return sources, int(doc.get("chunk", 1024))


# --------------------------------------------------------------------------- the store


class JobStore:
    """The batch jobs under `root` (see the module docstring).

    `worker` is the command a job runs, followed by the state folder, the job id and its
    run token (default ``python -m vegcube.serve.worker``); `max_running` caps the workers
    running at once. Opening a store recovers the jobs a dead server left active.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        worker: Sequence[str] | None = None,
        max_running: int = 2,
    ) -> None:
        self.root = Path(root).absolute()
        self.jobs_dir = self.root / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.worker = list(worker or [sys.executable, "-m", "vegcube.serve.worker"])
        self.max_running = max_running
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.RLock()
        self._recover()

    # ----------------------------------------------------------------- records

    def folder(self, job_id: str) -> Path:
        """The job's folder; `JobNotFound` if there is no such job."""
        folder = self.jobs_dir / job_id
        if not job_id.replace("-", "").isalnum() or not (folder / "job.json").is_file():
            raise OpenEOError("JobNotFound", f"The batch job '{job_id}' does not exist.")
        return folder

    def create(self, process: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
        """A new job (status ``created``) running `process` (``{"process_graph": ...}``);
        `fields` other than title, description, plan, budget, log_level (back-end specific
        ones such as ``job_options``) are not used, as the job's log says."""
        if not isinstance(process, Mapping) or not isinstance(process.get("process_graph"), dict):
            raise OpenEOError(
                "ProcessGraphMissing",
                "Invalid process specified. It doesn't contain a process graph.",
            )
        job_id = uuid.uuid4().hex[:16]
        folder = self.jobs_dir / job_id
        folder.mkdir()
        stamp = now()
        job = {
            "id": job_id,
            "process": dict(process),
            "status": "created",
            "progress": 0,
            "created": stamp,
            "updated": stamp,
            "secret": secrets.token_urlsafe(16),
            "run": None,
            "error": None,
            **{k: fields[k] for k in _EDITABLE if fields.get(k) is not None},
        }
        write_json(folder / "job.json", job)
        append_log(folder, "info", "job created")
        unused = sorted(set(fields) - set(_EDITABLE))
        if unused:
            append_log(folder, "warning", f"not used by this back-end: {', '.join(unused)}")
        return public(job)

    def get(self, job_id: str) -> dict[str, Any]:
        """The job's full record as the API shows it."""
        self.poll()
        return public(read_job(self.folder(job_id)))

    def list(self) -> list[dict[str, Any]]:
        """Every job, newest first, without its process."""
        self.poll()
        jobs = [read_job(f) for f in self.jobs_dir.iterdir() if (f / "job.json").is_file()]
        jobs.sort(key=lambda j: j["created"], reverse=True)
        return [{k: v for k, v in public(j).items() if k != "process"} for j in jobs]

    def update(self, job_id: str, changes: Mapping[str, Any]) -> None:
        """Change title, description, process, … of a job that is not queued or running."""
        folder = self.folder(job_id)
        bad = sorted(set(changes) - set(_EDITABLE))
        if bad:
            raise OpenEOError(
                "PropertyNotEditable",
                f"The specified property '{bad[0]}' is read-only; editable: {', '.join(_EDITABLE)}",
            )
        if "process" in changes:
            process = changes["process"]
            if not isinstance(process, Mapping) or not isinstance(
                process.get("process_graph"), dict
            ):
                raise OpenEOError(
                    "ProcessGraphMissing",
                    "Invalid process specified. It doesn't contain a process graph.",
                )
        with self._lock:
            if read_job(folder)["status"] in ACTIVE:
                raise OpenEOError(
                    "JobLocked", "Batch job is locked due to a queued or running batch computation."
                )
            update_job(folder, **dict(changes))

    def delete(self, job_id: str) -> None:
        """Stop the job's worker and remove everything of the job."""
        folder = self.folder(job_id)
        with self._lock:
            self._kill(job_id)
            shutil.rmtree(folder, ignore_errors=True)
        self.poll()

    # ----------------------------------------------------------------- running

    def start(self, job_id: str) -> None:
        """Queue the job (no effect if queued or running); earlier results are discarded."""
        folder = self.folder(job_id)
        with self._lock:
            job = read_job(folder)
            if job["status"] in ACTIVE:
                return
            for old in (folder / "results", *folder.glob(".results-*")):
                shutil.rmtree(old, ignore_errors=True)
            update_job(folder, status="queued", progress=0, run=None, error=None)
            append_log(folder, "info", "job queued")
        self.poll()

    def cancel(self, job_id: str) -> None:
        """Stop the job's worker: ``canceled`` if it was running, ``created`` if queued."""
        folder = self.folder(job_id)
        with self._lock:
            status = read_job(folder)["status"]
            if status not in ACTIVE:
                return
            self._kill(job_id)
            update_job(folder, status="canceled" if status == "running" else "created", run=None)
            append_log(folder, "info", f"job canceled by the user (it was {status})")
        self.poll()  # a worker is free: start the next queued job

    def poll(self) -> None:
        """Reap finished workers (a worker gone without finishing makes its job ``error``)
        and start queued jobs while fewer than `max_running` run."""
        with self._lock:
            for job_id, proc in list(self._procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                del self._procs[job_id]
                folder = self.jobs_dir / job_id
                if (folder / "job.json").is_file() and read_job(folder)["status"] in ACTIVE:
                    message = f"the worker stopped (exit code {code}) before the job finished"
                    tail = _tail(folder / "worker.log")
                    self._fail(folder, message + (f": {tail}" if tail else ""))
            free = self.max_running - len(self._procs)
            if free <= 0:
                return
            queued = [
                j
                for f in self.jobs_dir.iterdir()
                if (f / "job.json").is_file()
                for j in [read_job(f)]
                if j["status"] == "queued" and j["id"] not in self._procs
            ]
            for job in sorted(queued, key=lambda j: j["updated"])[:free]:
                self._launch(job["id"])

    def close(self) -> None:
        """Stop every worker (the server is stopping): their unfinished jobs become ``error``."""
        with self._lock:
            for job_id in list(self._procs):
                self._kill(job_id)
                folder = self.jobs_dir / job_id
                if (folder / "job.json").is_file() and read_job(folder)["status"] in ACTIVE:
                    self._fail(
                        folder, "the server stopped while the job was running; start it again"
                    )

    def _launch(self, job_id: str) -> None:
        folder = self.jobs_dir / job_id
        run = uuid.uuid4().hex
        update_job(folder, run=run)
        with (folder / "worker.log").open("ab") as out:
            self._procs[job_id] = subprocess.Popen(
                [*self.worker, str(self.root), job_id, run],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _kill(self, job_id: str) -> None:
        proc = self._procs.pop(job_id, None)
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _fail(self, folder: Path, message: str, code: str = "Internal") -> None:
        update_job(folder, status="error", run=None, error={"code": code, "message": message})
        append_log(folder, "error", message, code=code)

    def _recover(self) -> None:
        for folder in self.jobs_dir.iterdir():
            if not (folder / "job.json").is_file():
                continue
            status = read_job(folder)["status"]
            if status in ACTIVE:
                self._fail(
                    folder,
                    f"the server stopped while the job was {status}; its worker is gone: start "
                    "the job again",
                )

    # ----------------------------------------------------------------- results and logs

    def results(self, job_id: str) -> tuple[dict[str, Any], Sequence[dict[str, Any]]]:
        """(job record, result files) of a finished job; ``JobNotFinished`` before, and the
        job's error (HTTP 424) when it failed."""
        self.poll()
        folder = self.folder(job_id)
        job = read_job(folder)
        if job["status"] == "error":
            err = job.get("error") or {"code": "Internal", "message": "the job failed"}
            raise OpenEOError(err["code"], err["message"], status=424)
        if job["status"] != "finished":
            raise OpenEOError(
                "JobNotFinished",
                f"Batch job has not finished computing the results yet (status {job['status']}).",
            )
        doc = json.loads((folder / "results" / "results.json").read_text(encoding="utf-8"))
        files: Sequence[dict[str, Any]] = doc["files"]
        return job, files

    def asset(self, job_id: str, secret: str, name: str) -> Path:
        """The result file `name` of a job, reached through its secret (a signed URL)."""
        try:
            folder = self.folder(job_id)
        except OpenEOError:
            raise OpenEOError("FileNotFound", f"File '{name}' does not exist.") from None
        path = folder / "results" / name
        ok = secrets.compare_digest(read_job(folder)["secret"], secret)
        if (
            not ok
            or "/" in name
            or name.startswith(".")
            or name == "results.json"
            or not path.is_file()
        ):
            raise OpenEOError("FileNotFound", f"File '{name}' does not exist.")
        return path

    def logs(
        self,
        job_id: str,
        *,
        offset: str | None = None,
        level: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The job's log entries after `offset` (an entry id) at `level` or above."""
        folder = self.folder(job_id)
        path = folder / "logs.jsonl"
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        entries = [json.loads(x) for x in text.splitlines() if x]
        lowest = level or "debug"
        if lowest not in LEVELS:
            raise OpenEOError(
                "BadRequest", f"log level {level!r} is not one of {', '.join(LEVELS)}"
            )
        rank = LEVELS.index(lowest)
        if offset is not None:
            if not str(offset).isdigit():
                raise OpenEOError("BadRequest", f"offset {offset!r} is not a log entry id")
            entries = [e for e in entries if int(e["id"]) > int(offset)]
        entries = [e for e in entries if LEVELS.index(e["level"]) >= rank]
        links = []
        if limit is not None and len(entries) > limit:
            entries = entries[:limit]
            links.append({"rel": "next", "href": f"?offset={entries[-1]['id']}&limit={limit}"})
        return {"level": lowest, "logs": entries, "links": links}


def results_document(
    job: Mapping[str, Any], files: Sequence[Mapping[str, Any]], base_url: str
) -> dict[str, Any]:
    """The STAC collection of ``GET /jobs/{id}/results``: one asset per file, its href a
    signed download URL (``/download/<id>/<secret>/<name>``, no credentials needed)."""
    base = base_url.rstrip("/")
    boxes = [f["bbox"] for f in files if f.get("bbox")]
    bbox = (
        [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ]
        if boxes
        else [-180.0, -90.0, 180.0, 90.0]
    )
    starts = sorted(f["start"] for f in files if f.get("start"))
    ends = sorted(f["end"] for f in files if f.get("end"))
    assets = {}
    for f in files:
        asset: dict[str, Any] = {
            "href": f"{base}/download/{job['id']}/{job['secret']}/{f['name']}",
            "type": f["type"],
            "roles": ["data"],
            "title": f["name"],
            "file:size": f["size"],
        }
        if f.get("bands"):
            asset["eo:bands"] = [{"name": b} for b in f["bands"]]
        assets[f["name"]] = asset
    return {
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
            "https://stac-extensions.github.io/file/v2.1.0/schema.json",
        ],
        "type": "Collection",
        "id": job["id"],
        "title": job.get("title") or f"results of batch job {job['id']}",
        "description": job.get("description") or "Results of a vegcube batch job.",
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [bbox]},
            "temporal": {"interval": [[starts[0] if starts else None, ends[-1] if ends else None]]},
        },
        "assets": assets,
        "links": [
            {"rel": "self", "href": f"{base}/jobs/{job['id']}/results", "type": "application/json"},
        ],
        "openeo:status": job["status"],
    }


def public(job: Mapping[str, Any]) -> dict[str, Any]:
    """A job record as the API shows it."""
    return {k: job[k] for k in _PUBLIC if job.get(k) is not None}


def _tail(path: Path, lines: int = 3) -> str:
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])
