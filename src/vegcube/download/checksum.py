"""Verification of whole-file downloads: size, and the item's ``file:checksum`` multihash."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .http import Transient
from .jobs import Job, MirroredFile

__all__ = ["check_multihash", "verify"]


def verify(job: Job, part: Path, total: int | None, *, log: Callable[[str], None]) -> MirroredFile:
    """Check the downloaded `part` against the size the server announced (`total`), the
    item's ``file:size`` and ``file:checksum``, then rename it to `job.dest`.

    Raises `Transient`: an incomplete part is kept (the retry resumes it), a wrong one removed.
    """
    got = part.stat().st_size
    if total is not None and got < total:
        raise Transient(f"incomplete: {got} of {total} bytes")  # keep .part: resume
    for expect, what in ((total, "the server announced"), (job.size, "file:size says")):
        if expect is not None and got != expect:
            part.unlink()
            raise Transient(f"{got} bytes downloaded but {what} {expect}")
    if job.checksum:
        ok, digest = check_multihash(part, job.checksum)
        if ok is None:
            log(f"{job.name}: cannot verify file:checksum {job.checksum[:12]}… (unknown hash)")
        elif not ok:
            part.unlink()
            raise Transient(
                f"checksum mismatch for {job.dest.name}: file:checksum is {job.checksum} "
                f"but the download hashes to {digest}"
            )
    os.replace(part, job.dest)
    return job.mirrored("whole", got)


def check_multihash(path: Path, multihash: str) -> tuple[bool | None, str]:
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


def _varint(raw: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = raw[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
