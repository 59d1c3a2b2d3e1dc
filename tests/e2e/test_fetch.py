"""Download mirror and runs over HTTP: faults survived, clipped COGs, credentials, and
`vegcube download`."""

from __future__ import annotations

import filecmp
import json
import logging
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr
import yaml
from click.testing import Result
from pyproj import Transformer
from rio_cogeo.cogeo import cog_validate
from typer.testing import CliRunner

import vegcube
from helpers import ALL_FAULTS, FAST, fetch_aoi, fetch_recipe
from vegcube.cli import app
from vegcube.download import TOKEN_ENV, download
from vegcube.errors import DataError, SourceError
from vegcube.testing import Faults, serve_faulty, serve_folder

NEEDED = {"red", "nir", "swir16", "scl"}  # ndvi + ndwi + the QA band


def tif_files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*.tif"))}


@pytest.fixture(scope="module")
def clean(fetch_archive, tmp_path_factory):
    """A fault-free clipped download, and a run on the original archive."""
    base = tmp_path_factory.mktemp("clean")
    with serve_folder(fetch_archive.path) as served:
        mirror = download(
            fetch_recipe(fetch_archive, base / "x", f"{served.url}/catalog.json"),
            to=base / "mirror",
        )
    vegcube.run(fetch_recipe(fetch_archive, base / "run", fetch_archive.catalog))
    return mirror, base / "mirror", xr.open_zarr(base / "run" / "composites.zarr").load()


def test_clean_download_clips_needed_bands_to_valid_cogs(fetch_archive, clean):
    mirror, root, _ = clean
    assert {f.asset for f in mirror.files} == NEEDED
    assert {f.mode for f in mirror.files} == {"clip"}
    to_utm = Transformer.from_crs(4326, fetch_archive.epsg, always_xy=True)
    w, s, e, n = fetch_aoi(fetch_archive)
    xs, ys = to_utm.transform([w, w, e, e], [s, n, s, n])
    clipped = whole = 0
    for f in mirror.files:
        src = fetch_archive.path / "sentinel-2-l2a" / f.item / f"{f.asset}.tif"
        assert cog_validate(str(f.path), quiet=True)[0]
        with rasterio.open(f.path) as got, rasterio.open(src) as full:
            res = full.transform.a
            # on the source pixel grid, covering the AOI plus the 8-pixel margin, no more
            assert (got.transform.c - full.transform.c) % res == 0
            assert (got.transform.f - full.transform.f) % res == 0
            b = got.bounds
            assert b.left <= min(xs) - 7 * res and b.right >= max(xs) + 7 * res
            assert b.bottom <= min(ys) - 7 * res and b.top >= max(ys) + 7 * res
            assert got.width <= math.ceil((max(xs) - min(xs)) / res) + 2 * 8 + 2
            assert got.width < full.width and got.height < full.height
            window = rasterio.windows.from_bounds(*b, transform=full.transform)
            want = full.read(window=window.round_offsets().round_lengths())
            np.testing.assert_array_equal(got.read(), want)
            assert got.nodata == full.nodata and got.dtypes == full.dtypes
        clipped += f.bytes
        whole += src.stat().st_size
    assert clipped < 0.6 * whole
    # the catalog describes the local clipped files
    cat = pystac.Catalog.from_file(str(mirror.catalog))
    items = list(cat.get_items(recursive=True))
    assert len(items) == len(mirror.files) // 4
    for item in items:
        assert set(item.assets) == NEEDED
        for key, asset in item.assets.items():
            path = Path(asset.get_absolute_href())
            assert path.is_file() and path.parent.parent.parent == root
            with rasterio.open(path) as ds:
                assert asset.extra_fields["proj:shape"] == [ds.height, ds.width]
                assert asset.extra_fields["proj:transform"] == list(ds.transform)[:6]
            assert asset.extra_fields["raster:bands"][0]["nodata"] == 0
            if key != "scl":
                assert asset.extra_fields["raster:bands"][0]["scale"] == 0.0001


def test_faulty_download_equals_clean_one_and_runs_the_same(fetch_archive, clean, tmp_path):
    _, clean_root, want = clean
    faults = Faults(seed=7, staging_requests=1, **ALL_FAULTS)
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        mirror = download(
            fetch_recipe(fetch_archive, tmp_path / "x", f"{served.url}/catalog.json"),
            to=tmp_path / "mirror",
            **FAST,
        )
    kinds = Counter(f.kind for f in served.injected)
    assert all(kinds[k] >= 2 for k in ("error", "drop", "truncate", "slow", "throttle")), kinds
    assert kinds["staging"] == len(mirror.files)  # every file was offline once
    assert mirror.retries > 0 and mirror.polls >= len(mirror.files)
    # only the needed assets were requested
    asked = {Path(r.path).stem for r in served.requests if r.path.endswith(".tif")}
    assert asked == NEEDED
    got, ref = tif_files(tmp_path / "mirror"), tif_files(clean_root)
    assert list(got) == list(ref)
    for name in ref:  # byte for byte: same pixels, same COG layout
        assert filecmp.cmp(got[name], ref[name], shallow=False), name
    vegcube.run(fetch_recipe(fetch_archive, tmp_path / "run", mirror.catalog))
    xr.testing.assert_identical(xr.open_zarr(tmp_path / "run" / "composites.zarr").load(), want)


def test_still_staging_after_max_wait_fails_naming_the_files(fetch_archive, tmp_path):
    faults = Faults(staging_s=60, pattern="*/S2A_*/scl.tif")
    r = fetch_recipe(
        fetch_archive, tmp_path / "x", fetch_archive.catalog, start="2023-01-01", end="2023-01-20"
    )
    scenes = [it.id for it in vegcube.plan(r).items]
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        r["source"]["catalog"] = f"{served.url}/catalog.json"
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(r))
        args = ["download", str(tmp_path / "r.yaml"), "--to", str(tmp_path / "m")]
        res = cli(*args, "--max-wait", "1", "--poll", "0.2", "-q")
    assert res.exit_code == 1, res.stderr
    text = " ".join(res.stderr.split())
    staged = [s for s in scenes if s.startswith("S2A")]
    assert served.count("staging") >= 2 * len(staged) > 0  # requested, then polled
    assert "still staging after 1 s" in text
    for scene in staged:
        assert f"{scene}/scl" in text
    for scene in set(scenes) - set(staged):
        assert f"{scene}/scl" not in text
    kept = list((tmp_path / "m").rglob("*.tif"))
    assert len(kept) == 4 * len(scenes) - len(staged)  # the rest is downloaded and kept
    assert not (tmp_path / "m" / "catalog.json").exists()


def test_run_over_faulty_http_equals_clean_run(fetch_archive, clean, tmp_path):
    *_, want = clean
    faults = Faults(seed=5, error_rate=0.1, throttle_rate=0.05, drop_rate=0.05, slow_rate=0.1,
                    slow_s=0.2, pattern="*.tif")  # fmt: skip
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        vegcube.run(fetch_recipe(fetch_archive, tmp_path / "run", f"{served.url}/catalog.json"))
    kinds = Counter(f.kind for f in served.injected)
    assert all(kinds[k] >= 2 for k in ("error", "throttle", "drop", "slow")), kinds
    xr.testing.assert_identical(xr.open_zarr(tmp_path / "run" / "composites.zarr").load(), want)


def test_run_over_truncating_http_fails_clearly_never_wrong(fetch_archive, tmp_path, monkeypatch):
    """A server that truncates every answer (transient truncation is retried: see the fault
    run below): the run fails naming the file after its retries, never with wrong pixels."""
    from vegcube import cube

    monkeypatch.setattr(cube, "READ_BACKOFF_S", 0.01)
    faults = Faults(seed=1, truncate_rate=1.0, max_consecutive=10**6, pattern="*.tif")
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        with pytest.raises(DataError, match=r"\.tif: cannot be read .*corrupt or truncated"):
            vegcube.run(fetch_recipe(fetch_archive, tmp_path / "run", f"{served.url}/catalog.json"))
        settle(served)  # reads already running when the run failed end against a live server
    assert served.count("truncate") >= cube.READ_ATTEMPTS
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    assert status["status"] == "failed"
    assert not (tmp_path / "run" / "composites.zarr").exists()


def test_credentials_are_sent_and_never_leak(fetch_archive, tmp_path, monkeypatch, capsys, caplog):
    token = "tok-9f8e7d6c5b4a-SECRET"
    faults = Faults(require_token=token, pattern="*.tif", error_rate=0.05)
    caplog.set_level(logging.DEBUG)
    r = fetch_recipe(fetch_archive, tmp_path / "run", "", start="2023-01-01", end="2023-01-20")
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        r["source"]["catalog"] = f"{served.url}/catalog.json"
        with pytest.raises(SourceError, match=f"HTTP 401.*set {TOKEN_ENV}"):
            download(r, to=tmp_path / "denied", **FAST)
        monkeypatch.setenv(TOKEN_ENV, token)
        messages: list[str] = []
        download(r, to=tmp_path / "m", log=messages.append, **FAST)  # GDAL range reads
        download(r, to=tmp_path / "w", clip=False, log=messages.append, **FAST)
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(r))
        res = cli("download", str(tmp_path / "r.yaml"), "--to", str(tmp_path / "c"), "-w", "2",
                  env={TOKEN_ENV: token})  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert "done" in res.stderr and "catalog" in res.stderr
    granted = [q for q in served.requests if q.path.endswith(".tif") and q.authorized]
    assert {q.method for q in granted} == {"GET", "HEAD"}  # requests and GDAL both sent it
    r["source"]["catalog"] = str(tmp_path / "m" / "catalog.json")
    vegcube.run(r)
    out = capsys.readouterr()
    texts = [out.out, out.err, res.stdout, res.stderr, caplog.text, *messages]
    assert not any(token in t for t in texts)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_download_bad_input_exits_2(tmp_path):
    (tmp_path / "r.yaml").write_text("name: x\naoi: {bbox: [1, 2, 3]}\n")
    res = cli("download", str(tmp_path / "r.yaml"), "--to", str(tmp_path / "m"))
    assert res.exit_code == 2 and "aoi.bbox" in res.stderr
    assert not (tmp_path / "m").exists()


def settle(served, quiet_s: float = 0.5, limit_s: float = 15.0) -> None:
    """Wait until the server has had no request for `quiet_s` seconds."""
    deadline, seen = time.monotonic() + limit_s, -1
    while time.monotonic() < deadline and len(served.requests) != seen:
        seen = len(served.requests)
        time.sleep(quiet_s)


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """`vegcube ARGS` in this process (typer's runner): exit code, stdout, stderr."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def test_run_over_http_with_faults_on_catalog_and_data_equals_clean(
    fetch_archive, clean, tmp_path, monkeypatch
):
    """Faults on every request, catalog JSON and COG range reads alike (500, resets,
    truncated bodies, 429 with Retry-After): the run ends with the clean run's outputs."""
    from vegcube import catalog, cube

    monkeypatch.setattr(catalog.static, "STATIC_BACKOFF_S", 0.02)
    monkeypatch.setattr(cube, "READ_BACKOFF_S", 0.02)
    _, _, want = clean
    faults = Faults(seed=11, **{**ALL_FAULTS, "pattern": "*", "retry_after": "0"})
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        vegcube.run(fetch_recipe(fetch_archive, tmp_path / "run", f"{served.url}/catalog.json"))
    kinds = Counter(f.kind for f in served.injected)
    on_json = Counter(f.kind for f in served.injected if f.path.endswith(".json"))
    on_tif = Counter(f.kind for f in served.injected if f.path.endswith(".tif"))
    assert on_json["error"] >= 1 and on_json["truncate"] >= 1, on_json  # catalog reads
    assert on_tif["truncate"] >= 1, on_tif  # range reads GDAL does not retry itself
    assert all(kinds[k] >= 1 for k in ("error", "drop", "truncate", "throttle")), kinds
    got = xr.open_zarr(tmp_path / "run" / "composites.zarr").load()
    xr.testing.assert_identical(got, want)


def test_run_over_a_protected_server_names_the_credentials(fetch_archive, tmp_path, monkeypatch):
    """A refused read (401) is named as such with the setting to fix, not as a corrupt file;
    with GDAL's bearer settings the same run reads the data."""
    from vegcube.errors import AccessError

    token = "s3cr3t-token"
    faults = Faults(require_token=token, pattern="*.tif")
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        with pytest.raises(AccessError, match="GDAL_HTTP_AUTH=BEARER") as err:
            vegcube.run(
                fetch_recipe(fetch_archive, tmp_path / "refused", f"{served.url}/catalog.json")
            )
        assert "corrupt" not in str(err.value) and token not in str(err.value)
    monkeypatch.setenv("GDAL_HTTP_AUTH", "BEARER")
    monkeypatch.setenv("GDAL_HTTP_BEARER", token)
    # another server (address): GDAL remembers refused URLs for the life of the process
    with serve_faulty(fetch_archive.path, faults=faults) as served:
        vegcube.run(fetch_recipe(fetch_archive, tmp_path / "ok", f"{served.url}/catalog.json"))
    assert (tmp_path / "ok" / "composites.zarr").is_dir()
    run_json = (tmp_path / "ok" / "run.json").read_text()
    assert token not in run_json  # credentials never written
