"""Atomic writes: every output is written under a temporary name and renamed into place.

A crash, a kill or an error never leaves a half-written output under its final name; the
temporaries a killed run left are removed by the next write of the same output.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "remove", "write_json"]


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success it replaces `final` (file or folder)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):  # left by a killed run
        remove(stale)
    tmp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
    except BaseException:
        _remove_settled(tmp)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        remove(old)


def write_json(obj: Any, path: Path) -> Path:
    """Write `obj` as indented JSON at `path`, atomically (values JSON lacks as `str`)."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
    return Path(path)


def remove(path: Path) -> None:
    """Remove the file or folder `path`, if it exists."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def _remove_settled(path: Path, *, quiet_s: float = 0.2, limit_s: float = 5.0) -> None:
    """Remove `path` until it stays gone: dask tasks already running when another failed
    may still write chunks into it for a moment after the error surfaced."""
    deadline, gone_since = time.monotonic() + limit_s, None
    while time.monotonic() < deadline:
        if path.exists():
            remove(path)
            gone_since = None
        elif gone_since is None:
            gone_since = time.monotonic()
        elif time.monotonic() - gone_since >= quiet_s:
            return
        time.sleep(0.02)
