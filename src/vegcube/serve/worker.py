"""The process that runs one batch job: ``python -m vegcube.serve.worker STATE JOB_ID RUN``.

It claims the job (status ``queued`` with run token RUN → ``running``), evaluates its process
graph on the collections of ``STATE/server.json``, writes the results into a temporary folder
renamed to ``results/`` and marks the job ``finished`` (or ``error`` with the openEO error),
each step only while the job still belongs to its run: a job cancelled or recovered meanwhile
is left alone. It exits by itself when the server that started it is gone.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .jobs import append_log, read_job, read_sources_json, update_job, write_json

__all__ = ["main", "run_job"]

#: seconds between checks that the server is still there, and between progress writes
WATCH_S = 1.0
PROGRESS_S = 2.0


def run_job(root: Path, job_id: str, run: str) -> int:
    """Run the job (see the module docstring); 0 when finished, 1 on error, 2 not claimed."""
    folder = root / "jobs" / job_id
    job = read_job(folder)
    if job.get("run") != run or job["status"] != "queued":
        return 2
    if not update_job(folder, expect_run=run, status="running", progress=0):
        return 2
    append_log(folder, "info", f"job running (worker process {os.getpid()})")
    staging = folder / f".results-{run}"
    try:
        from .collections import Backend
        from .formats import write_result
        from .processes import evaluate

        sources, chunk = read_sources_json(root)
        started = time.monotonic()
        with _progress(folder, run):
            result = evaluate(
                job["process"]["process_graph"], backend=Backend(sources, chunk=chunk)
            )
            written = write_result(result, staging)
        files = [
            {
                "name": w.path.name,
                "type": w.media_type,
                "size": w.path.stat().st_size,
                "bands": w.bands,
                "bbox": w.bbox,
                "start": w.start,
                "end": w.end,
            }
            for w in written
        ]
        write_json(staging / "results.json", {"files": files})
        if read_job(folder).get("run") != run:
            return 2
        shutil.rmtree(folder / "results", ignore_errors=True)
        staging.rename(folder / "results")
        names = ", ".join(w.path.name for w in written)
        append_log(
            folder, "info", f"results written in {time.monotonic() - started:.1f} s: {names}"
        )
        update_job(folder, expect_run=run, status="finished", progress=100, run=None)
        return 0
    except Exception as exc:
        from .errors import as_openeo

        err = as_openeo(exc)
        if update_job(
            folder,
            expect_run=run,
            status="error",
            run=None,
            error={"code": err.code, "message": err.message},
        ):
            append_log(folder, "error", err.message, code=err.code)
        return 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _progress:
    """Job progress (percent of dask tasks done), written at most every `PROGRESS_S`."""

    def __init__(self, folder: Path, run: str) -> None:
        from dask.callbacks import Callback

        outer = self

        class Progress(Callback):
            def _start_state(self, dsk: Any, state: Any) -> None:
                outer.total, outer.done = len(dsk), 0

            def _posttask(self, *args: Any) -> None:
                outer.done += 1
                outer.report()

        self.folder, self.run, self.total, self.done, self.last = folder, run, 0, 0, 0.0
        self.callback = Progress()

    def report(self) -> None:
        if self.total and time.monotonic() - self.last > PROGRESS_S:
            self.last = time.monotonic()
            pct = round(min(99.0, 100.0 * self.done / self.total), 1)
            update_job(self.folder, expect_run=self.run, progress=pct)

    def __enter__(self) -> None:
        self.callback.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.callback.__exit__(*exc)


def _watch_parent() -> None:
    """Exit when the server that started this worker is gone (its pid changes)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(WATCH_S)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``STATE JOB_ID RUN``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m vegcube.serve.worker STATE JOB_ID RUN", file=sys.stderr)
        return 2
    _watch_parent()
    import warnings

    for text in ("Mean of empty slice", "All-NaN slice", "invalid value", "Degrees of freedom"):
        warnings.filterwarnings("ignore", message=text, category=RuntimeWarning)
    return run_job(Path(args[0]), args[1], args[2])


if __name__ == "__main__":
    sys.exit(main())
