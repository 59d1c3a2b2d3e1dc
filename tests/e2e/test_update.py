"""Routine mode: `vegcube update` appends new periods and equals one full run.

Two runs on the demo archive: one full run to 2023-06-30, and one to 2023-03-25 (mid-dekad,
so its last dekad is provisional) extended by `vegcube.update` to 2023-06-30.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pystac
import pytest
import rasterio
import xarray as xr

import vegcube
from vegcube import reference

STORES = (
    "composites",
    "gapfilled",
    "reference",
    "indicators",
    "monthly/composites",
    "monthly/reference",
    "monthly/indicators",
)


def _recipe(demo, out, end):
    rc = demo.recipe(out)
    w, s, e, n = demo.bbox
    rc["aoi"] = {"bbox": [w, s, (w + e) / 2, (s + n) / 2]}  # a quarter: the test stays quick
    # three years: the test stays quick, and a run's composites are three blocks of a year
    # (two written at once on 2 cores, then one: a kill can fall between them)
    rc["time"] = {"start": "2020-07-01", "end": end}
    rc["reference"] = {"start": "2021-07-01", "end": "2022-12-31", "min_years": 1}
    rc["indices"] = ["ndvi"]
    rc["gapfill"] = {"method": "linear"}
    # a class needs two periods in a row: the update's first periods look back on stored ones
    rc["drought_classes"] = {"persistence": 2}
    rc["composite"]["monthly"] = True
    rc["regions"] = {"path": str(demo.regions), "id": "name"}
    return rc


@pytest.fixture(scope="module")
def runs(demo, tmp_path_factory):
    full, upd = tmp_path_factory.mktemp("full"), tmp_path_factory.mktemp("upd")
    vegcube.run(_recipe(demo, full, "2023-06-30"))
    vegcube.run(_recipe(demo, upd, "2023-03-25"))
    before = xr.open_zarr(upd / "composites.zarr").load()
    messages: list[str] = []
    result = vegcube.update(_recipe(demo, upd, "2023-06-30"), log=messages.append)
    return full, upd, before, result, messages


def test_update_equals_full_run(runs):
    full, upd, _, result, _ = runs
    assert result.outputs  # it did work
    for store in STORES:
        a = xr.open_zarr(full / f"{store}.zarr").load()
        b = xr.open_zarr(upd / f"{store}.zarr").load()
        xr.testing.assert_identical(a, b)
    comp = xr.open_zarr(upd / "composites.zarr")
    assert pd.Timestamp(comp.time.values[-1]) == pd.Timestamp("2023-06-21")
    a, b = pd.read_parquet(full / "zonal.parquet"), pd.read_parquet(upd / "zonal.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert b["time"].max() == pd.Timestamp("2023-06-21")


def test_update_revises_the_smoothing_before_the_new_periods(small, tmp_path):
    """A smoother's last values move when later data arrive: the update rewrites them."""

    def recipe(out, end):
        rc = small.recipe(out)
        rc.update(indices=["ndvi"], indicators=[], time={"start": "2021-11-01", "end": end})
        rc["gapfill"] = {"method": "whittaker", "lmbda": 3, "smooth_observed": True}
        rc["output"]["formats"] = ["zarr"]
        del rc["reference"]
        return rc

    vegcube.run(recipe(tmp_path / "full", "2022-03-31"))
    vegcube.run(recipe(tmp_path / "upd", "2022-02-15"))
    before = xr.open_zarr(tmp_path / "upd" / "gapfilled.zarr").load()
    vegcube.update(recipe(tmp_path / "upd", "2022-03-31"))
    full = xr.open_zarr(tmp_path / "full" / "gapfilled.zarr").load()
    after = xr.open_zarr(tmp_path / "upd" / "gapfilled.zarr").load()
    # the end of the first run's series was revised (by more than noise) …
    old = before.ndvi.sel(time=slice("2022-01-11", None))
    assert float(np.nanmax(np.abs(old - full.ndvi.sel(time=old.time)))) > 1e-3
    # … to what one full run gives (up to 36 periods back; this series is shorter)
    np.testing.assert_allclose(after.ndvi.values, full.ndvi.values, atol=1e-6)


def test_update_recomputes_the_provisional_period(runs):
    _, upd, before, _, _ = runs
    # the first run ended on 2023-03-25: its dekad 21-31 March was open
    assert bool(before.provisional.sel(time="2023-03-21"))
    assert not before.provisional.sel(time="2023-03-11")
    assert int(before.provisional.sum()) == 1
    after = xr.open_zarr(upd / "composites.zarr").load()
    new_obs = after.ndvi_count.sel(time="2023-03-21") - before.ndvi_count.sel(time="2023-03-21")
    assert int(new_obs.max()) > 0  # the scene of 29 March was added
    assert not bool(after.provisional.sel(time="2023-03-21"))
    # history before the open period is untouched
    old = before.drop_vars("provisional").sel(time=slice(None, "2023-03-11"))
    xr.testing.assert_identical(old, after.drop_vars("provisional").sel(time=old.time))
    assert bool(after.provisional.values[-1])  # June 21-30: no scene after it yet


def test_update_writes_new_cogs_and_catalog(runs):
    full, upd, _, _, _ = runs
    tifs = sorted(p.relative_to(upd) for p in (upd / "cog").rglob("*.tif"))
    assert tifs == sorted(p.relative_to(full) for p in (full / "cog").rglob("*.tif"))
    ind = xr.open_zarr(upd / "indicators.zarr")
    with rasterio.open(upd / "cog" / "ndvi_vci" / "2023-05-11.tif") as src:
        np.testing.assert_array_equal(src.read(1), ind.ndvi_vci.sel(time="2023-05-11").values)
    with rasterio.open(upd / "cog" / "ndvi_vci" / "2023-03-21.tif") as src:  # was provisional
        np.testing.assert_array_equal(src.read(1), ind.ndvi_vci.sel(time="2023-03-21").values)
    cat = pystac.Catalog.from_file(str(upd / "cog" / "catalog.json"))
    items = {it.id: it for it in cat.get_items(recursive=True)}
    assert len(items) == ind.sizes["time"]
    assert items["2023-06-21"].properties["vegcube:provisional"] is True
    assert items["2023-03-21"].properties["vegcube:provisional"] is False


def test_update_records_itself_in_run_json(runs):
    _, upd, _, _, messages = runs
    meta = json.loads((upd / "run.json").read_text())
    assert meta["status"] == "done"
    assert meta["recipe"]["time"]["end"] == "2023-06-30"
    (record,) = meta["updates"]
    assert record["from"] == "2023-03-21" and record["to"] == "2023-06-30"
    assert record["new_items"] > 0
    assert any("update from 2023-03-21" in m for m in messages)
    # the latency a routine service observes: acquisition → the update that first saw it
    from vegcube.state import latency, status

    seen = latency(upd / "state.sqlite")
    assert list(seen) == ["sentinel-2-l2a"]
    assert seen["sentinel-2-l2a"]["items"] == record["new_items"]
    age = (dt.datetime.now(dt.timezone.utc).date() - dt.date(2023, 6, 30)).days
    assert age - 1 <= seen["sentinel-2-l2a"]["min_days"] <= seen["sentinel-2-l2a"]["max_days"]
    assert seen["sentinel-2-l2a"]["max_days"] <= age + 100  # first scene after 2023-03-21
    assert status(upd)["latency"] == seen


def test_second_update_changes_nothing(runs, demo):
    _, upd, _, _, _ = runs
    files = [p for p in upd.rglob("*") if p.is_file()]
    stamps = {p: p.stat().st_mtime_ns for p in files}
    result = vegcube.update(_recipe(demo, upd, "2023-06-30"))
    assert result.outputs == {}
    assert {p: p.stat().st_mtime_ns for p in files} == stamps
    assert sorted(p for p in upd.rglob("*") if p.is_file()) == sorted(files)


def test_rebuild_reference_recomputes_from_stored_composites(runs, demo, tmp_path):
    _, upd, _, _, _ = runs
    import shutil

    out = tmp_path / "rebuild"
    shutil.copytree(upd, out)
    meta = json.loads((out / "run.json").read_text())
    meta["recipe"]["output"]["dir"] = str(out)
    (out / "run.json").write_text(json.dumps(meta))
    rc = _recipe(demo, out, "2023-07-31")
    rc["reference"] = {"start": "2022-01-01", "end": "2022-12-31", "min_years": 1}
    with pytest.raises(vegcube.RecipeError, match=r"reference\.start: changed.*--rebuild"):
        vegcube.update(rc)
    vegcube.update(rc, rebuild_reference=True)
    series = xr.open_zarr(out / "gapfilled.zarr")
    expect = reference.compute(series, start="2022-01-01", end="2022-12-31", variables=["ndvi"])
    got = xr.open_zarr(out / "reference.zarr")
    np.testing.assert_allclose(got.ndvi_mean.values, expect.ndvi_mean.values, rtol=1e-6)
    assert int(got.ndvi_count.max()) == 1
    ind = xr.open_zarr(out / "indicators.zarr")
    assert pd.Timestamp(ind.time.values[-1]) == pd.Timestamp("2023-07-21")
    assert int(ind.ndvi_ref_years.max()) == 1  # every period against the new reference


def test_update_refuses_a_changed_history(runs, demo, tmp_path):
    _, upd, _, _, _ = runs
    rc = _recipe(demo, upd, "2023-07-31")
    rc["indices"] = ["ndvi", "ndwi"]
    rc["time"]["start"] = "2020-02-01"
    with pytest.raises(vegcube.RecipeError) as err:
        vegcube.update(rc)
    assert "indices: changed since the last run" in str(err.value)
    assert "time.start: changed since the last run" in str(err.value)
    # nothing was touched
    assert json.loads((upd / "run.json").read_text())["recipe"]["time"]["end"] == "2023-06-30"


def test_update_cli_without_earlier_run_is_bad_input(demo, tmp_path):
    import yaml

    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(_recipe(demo, tmp_path / "empty", "2023-06-30")))
    proc = subprocess.run(
        [sys.executable, "-m", "vegcube", "update", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "holds no earlier run" in proc.stderr and "vegcube run" in proc.stderr


# ----------------------------------------------------------------- resuming a killed run


def _units(db):
    import sqlite3

    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {(s, u): st for s, u, st in con.execute("SELECT stage, unit, status FROM units")}
    except sqlite3.OperationalError:  # table not created yet
        return {}
    finally:
        con.close()


def _run_until(recipe_path, out, stop):
    """Start `vegcube run` and SIGKILL it once `stop(units, out)` holds (or let it finish)."""
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "vegcube", "run", str(recipe_path), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "DASK_NUM_WORKERS": "2"},  # two blocks written at once, not three
    )
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if stop is not None and stop(_units(out / "state.sqlite"), out):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.05)
    proc.wait()
    assert stop is None or proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    return False


def test_run_killed_twice_resumes_and_equals_an_uninterrupted_run(runs, demo, tmp_path):
    import yaml

    full = runs[0]
    out = tmp_path / "killed"
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(_recipe(demo, out, "2023-06-30")))

    def composites_half(units, _):
        blocks = [u for (s, u), st in units.items() if s == "composites" and u.startswith("time")]
        done = [u for u in blocks if units[("composites", u)] == "done"]
        return len(blocks) >= 2 and 1 <= len(done) < len(blocks)

    assert _run_until(recipe_path, out, composites_half), "the run ended before the kill"
    assert not (out / "composites.zarr").exists()  # only the partial store, never a torn one
    assert (out / ".composites.zarr.partial").is_dir()
    first = _units(out / "state.sqlite")
    kept = {k for k, st in first.items() if k[0] == "composites" and st == "done"}
    assert kept and json.loads((out / "run.json").read_text())["status"] == "running"
    from vegcube.state import status

    assert status(out)["status"] == "interrupted"  # the killed run is no longer running

    def some_cogs(units, path):
        return (
            units.get(("indicators", "all")) == "done"
            and len(list((path / "cog").rglob("*.tif"))) > 20
        )

    assert _run_until(recipe_path, out, some_cogs), "the second attempt ended before the kill"
    assert (out / "indicators.zarr").is_dir()
    log = sorted((out / "log").glob("run-*.log"))[-1].read_text()
    assert "resuming" in log  # the second attempt picked up the first one's blocks

    assert not _run_until(recipe_path, out, None)  # third attempt: to the end
    log = sorted((out / "log").glob("run-*.log"))[-1].read_text()
    assert "composites: written by an earlier attempt, kept" in log
    assert "indicators: written by an earlier attempt, kept" in log
    for store in STORES:
        a = xr.open_zarr(full / f"{store}.zarr").load()
        b = xr.open_zarr(out / f"{store}.zarr").load()
        xr.testing.assert_identical(a, b)
    pd.testing.assert_frame_equal(
        pd.read_parquet(full / "zonal.parquet"), pd.read_parquet(out / "zonal.parquet")
    )
    tifs = sorted(p.relative_to(out) for p in (out / "cog").rglob("*.tif"))
    assert tifs == sorted(p.relative_to(full) for p in (full / "cog").rglob("*.tif"))
    assert not list(out.glob(".*.partial")) and not list(out.rglob(".*.tmp-*"))

    proc = subprocess.run(
        [sys.executable, "-m", "vegcube", "status", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["status"] == "done"
    stages = {s["stage"]: s for s in info["stages"]}
    # the blocks planned by the first attempt, and the stage itself ("all")
    assert stages["composites"]["done"] == len([k for k in first if k[0] == "composites"]) + 1
    assert stages["composites"]["pending"] == 0
    assert all(s["failed"] == s["running"] == s["interrupted"] == 0 for s in stages.values())
    # outputs written whole are units of work too
    assert all(stages[name]["done"] == 1 for name in ("cog", "zonal")), stages
