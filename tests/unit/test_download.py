"""Download mirror: faults survived byte for byte, resume with Range, staging, checksums."""

from __future__ import annotations

import filecmp
import hashlib
import json
import shutil

import pytest

import vegcube
from helpers import ALL_FAULTS, FAST, fetch_recipe
from vegcube.download import download
from vegcube.errors import DataError
from vegcube.testing import Faults, serve_faulty, serve_folder


def test_whole_files_through_faults_are_byte_identical_and_resume(fetch_archive, tmp_path):
    faults = Faults(seed=3, **ALL_FAULTS)
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        mirror = download(
            fetch_recipe(fetch_archive, tmp_path / "x", f"{served.url}/catalog.json"),
            to=tmp_path / "mirror",
            clip=False,
            **FAST,
        )
    assert {f.mode for f in mirror.files} == {"whole"}
    for f in mirror.files:
        src = fetch_archive.path / "sentinel-2-l2a" / f.item / f"{f.asset}.tif"
        assert filecmp.cmp(f.path, src, shallow=False)
    assert served.count("truncate") >= 2
    resumed = [r for r in served.requests if r.range and not r.range.startswith("bytes=0-")]
    assert resumed  # a broken transfer continued from its .part, not from byte 0
    # Retry-After: 1 was honoured by the HTTP client
    for fault in (f for f in served.injected if f.kind == "throttle"):
        after = [r.at for r in served.requests if (r.path, r.range) == (fault.path, fault.range)]
        later = [t for t in after if t > fault.at]
        assert later and min(later) - fault.at >= 0.9
    assert not list((tmp_path / "mirror").rglob("*.part"))


def test_interrupted_download_resumes_with_range_and_rerun_skips(fetch_archive, tmp_path):
    r = fetch_recipe(
        fetch_archive, tmp_path / "x", fetch_archive.catalog, start="2023-01-01", end="2023-01-03"
    )
    (scene,) = [it.id for it in vegcube.plan(r).items]
    first = fetch_archive.path / "sentinel-2-l2a" / scene / "red.tif"
    part = tmp_path / "mirror" / "sentinel-2-l2a" / scene / "red.tif.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(first.read_bytes()[:1000])  # what a killed run leaves behind
    with serve_folder(fetch_archive.path) as served:
        r["source"]["catalog"] = f"{served.url}/catalog.json"
        mirror = download(r, to=tmp_path / "mirror", clip=False, **FAST)
        path = f"/sentinel-2-l2a/{scene}/red.tif"
        gets = [rng for _, p, rng in served.requests if p == path and rng != "bytes=0-1"]
        assert gets == ["bytes=1000-"]
        assert filecmp.cmp(part.with_suffix(""), first, shallow=False)
        assert not part.exists()
        served.requests.clear()
        again = download(r, to=tmp_path / "mirror", clip=False, **FAST)
        assert not [p for _, p, _ in served.requests if p.endswith(".tif")]
    assert {f.mode for f in again.files} == {"skipped"} and len(again.files) == 4
    assert len(mirror.files) == 4


def test_staging_requests_every_file_before_polling(fetch_archive, tmp_path):
    faults = Faults(staging_requests=2, pattern="*.tif")
    r = fetch_recipe(fetch_archive, tmp_path / "x", "", start="2023-01-01", end="2023-01-20")
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        r["source"]["catalog"] = f"{served.url}/catalog.json"
        mirror = download(r, to=tmp_path / "mirror", **FAST)
    log = [q.path for q in served.requests if q.path.endswith(".tif")]
    firsts = {p: log.index(p) for p in set(log)}
    seconds = [i for i, p in enumerate(log) if i != firsts[p]]
    assert len(firsts) == len(mirror.files) >= 12
    assert max(firsts.values()) < min(seconds)  # all requested, then polled
    assert served.count("staging") == 2 * len(mirror.files)
    assert mirror.polls >= 2 * len(mirror.files)


def test_checksum_mismatch_is_retried_then_names_the_file(fetch_archive, tmp_path):
    copy = tmp_path / "archive"
    shutil.copytree(fetch_archive.path, copy)
    r = fetch_recipe(
        fetch_archive, tmp_path / "x", fetch_archive.catalog, start="2023-01-01", end="2023-01-08"
    )
    items = [copy / "sentinel-2-l2a" / it.id / f"{it.id}.json" for it in vegcube.plan(r).items]
    assert len(items) == 2
    for path in items:
        doc = json.loads(path.read_text())
        for key, asset in doc["assets"].items():
            digest = hashlib.sha256((path.parent / f"{key}.tif").read_bytes()).hexdigest()
            asset["file:checksum"] = "1220" + digest
        path.write_text(json.dumps(doc))
    bad = json.loads(items[1].read_text())
    bad["assets"]["nir"]["file:checksum"] = "1220" + "0" * 64
    items[1].write_text(json.dumps(bad))
    with serve_folder(copy) as served:
        r["source"]["catalog"] = f"{served.url}/catalog.json"
        with pytest.raises(DataError) as err:
            download(r, to=tmp_path / "m", clip=False, retries=2, backoff=0.01)
    scene = items[1].parent.name
    msg = str(err.value)
    assert f"{scene}/nir: checksum mismatch for nir.tif" in msg and "3 attempts" in msg
    full = [p for _, p, rng in served.requests if p.endswith(f"{scene}/nir.tif") and not rng]
    assert len(full) == 3  # downloaded, found wrong, downloaded again… then given up
    assert not (tmp_path / "m" / "sentinel-2-l2a" / scene / "nir.tif").exists()
    assert (tmp_path / "m" / "sentinel-2-l2a" / scene / "red.tif").exists()  # verified: kept
    assert not (tmp_path / "m" / "sentinel-2-l2a" / scene / "nir.tif.part").exists()
