"""Command line: exit codes and messages; the same run on a Dask cluster gives the same result."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

import vegcube
from vegcube.cli import _common, app

VEGCUBE = [sys.executable, "-m", "vegcube"]


def small_recipe(archive, out: Path) -> dict:
    r = archive.recipe(out)
    r.update(time={"start": "2021-11-01", "end": "2022-03-31"}, indicators=[])
    r.pop("reference")
    r["output"]["formats"] = ["zarr", "netcdf"]
    return r


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*VEGCUBE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_bad_recipe_exits_2_naming_every_field(tmp_path):
    (tmp_path / "r.yaml").write_text(
        "name: x\naoi: {bbox: [1, 2, 3]}\ntime: {start: 2020-01-01, end: 2019-01-01}\n"
        "source: {catalog: earth-search}\nindices: [ndvi, ndvx]\noutput: {dir: out}\ncolor: red\n"
    )
    res = cli("run", str(tmp_path / "r.yaml"))
    assert res.returncode == 2, res.stderr
    for words in (
        "aoi.bbox",
        "time: end 2019-01-01 is before start",
        "unknown index 'ndvx'",
        "color: unknown key",
    ):
        assert words in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()  # nothing started


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            {"source": {"catalog": "CATALOG", "collection": "viirs-13a1"}},
            "source.collection: 'viirs-13a1' is not supported",
        ),
        ({"source": {"catalog": "/no/such/catalog.json"}}, "source.catalog"),
        ({"time": {"start": "2015-01-01", "end": "2015-12-31"}}, "no sentinel-2-l2a scenes"),
        ({"indices": ["ndvi", "NDREI"]}, "band 'rededge1'"),
        (
            {
                "time": {"start": "2021-01-01", "end": "2022-03-31"},
                "reference": {"start": "2021-01-01", "end": "2021-06-30", "min_years": 1},
                "indicators": ["vci"],
            },
            "reference: 2021-01-01..2021-06-30 holds no scene",
        ),
    ],
)
def test_bad_input_found_before_work_exits_2(small, tmp_path, change, words):
    r = small_recipe(small, tmp_path / "out")
    for k, v in change.items():
        r[k] = json.loads(json.dumps(v).replace("CATALOG", str(small.catalog)))
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(r))
    res = cli("run", str(tmp_path / "r.yaml"))
    assert res.returncode == 2, res.stderr
    assert words in res.stderr.replace("\n", " "), res.stderr
    assert not (tmp_path / "out").exists()


def test_run_prints_outputs_and_recipe_init_check(small, tmp_path):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(small_recipe(small, tmp_path / "out")))
    res = cli("run", str(tmp_path / "r.yaml"))
    assert res.returncode == 0, res.stderr
    assert "composites.zarr" in res.stderr and "done" in res.stderr
    nc = xr.open_dataset(tmp_path / "out" / "composites.nc", decode_coords="all")
    assert nc.rio.crs.to_epsg() == small.epsg and "ndvi" in nc
    quiet = cli("run", "-q", str(tmp_path / "r.yaml"))
    assert quiet.returncode == 0 and quiet.stderr.strip() == "" and quiet.stdout.strip() == ""
    assert cli("recipe", "init", str(tmp_path / "t.yaml")).returncode == 0
    assert cli("recipe", "check", str(tmp_path / "t.yaml")).returncode == 0
    again = cli("recipe", "init", str(tmp_path / "t.yaml"))
    assert again.returncode == 2 and "--force" in again.stderr


def test_dask_cluster_address_gives_same_result(small, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = vegcube.run(small_recipe(small, tmp_path / "local"))
    r = small_recipe(small, tmp_path / "cluster")
    with distributed.LocalCluster(  # worker processes: the fat tasks travel pickled
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        r["dask"] = {"scheduler": cluster.scheduler_address}
        vegcube.run(r)
    a = xr.open_zarr(local.out / "composites.zarr").load()
    b = xr.open_zarr(tmp_path / "cluster" / "composites.zarr").load()
    xr.testing.assert_identical(a, b)
    assert int(a.ndvi_count.sum()) > 0


def test_unreachable_scheduler_is_bad_input(small, tmp_path):
    r = small_recipe(small, tmp_path / "out")
    r["dask"] = {"scheduler": "tcp://127.0.0.1:9"}
    with pytest.raises(vegcube.SourceError, match=r"dask\.scheduler"):
        vegcube.run(r)


def test_version_and_traceback_options(tmp_path, monkeypatch):
    runner = CliRunner()
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"vegcube {importlib.metadata.version('vegcube')}"

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("vegcube.runner.run", broken)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("x: 1\n")
    monkeypatch.setattr(_common, "settings", _common.Settings())
    plain = runner.invoke(app, ["run", str(recipe)])
    assert plain.exit_code == 1 and "ZeroDivisionError: a bug" in plain.output
    assert "Traceback" not in plain.output
    traced = runner.invoke(app, ["--traceback", "run", str(recipe)])
    assert traced.exit_code == 1 and "Traceback" in traced.output and "broken" in traced.output


def test_demo_documents_the_global_chain_and_refuses_an_unknown_one(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["demo", "--chain", "global", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "--chain" in res.output and "local|global" in res.output
    assert "VIIRS" in res.output and "SLSTR" in res.output and "[default: local]" in res.output
    bad = runner.invoke(
        app, ["demo", "--chain", "mars", "-o", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert bad.exit_code == 2 and "'mars' is not one of 'local', 'global'" in bad.output
    assert not list(tmp_path.iterdir())  # refused before anything is generated
