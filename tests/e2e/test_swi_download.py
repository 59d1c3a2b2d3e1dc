"""Copernicus SWI NetCDF files → `vegcube download` → the chain on the mirror: dekad means equal
an independent numpy computation from the NetCDF files (QFLAG and fills masked), the dry spell
is found in the right cells, and remote files listed by URL (over a misbehaving 127.0.0.1
server demanding a bearer token) give the same COGs as the local folder."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
import yaml
from pyproj import Transformer
from typer.testing import CliRunner

import vegcube
from helpers import FAST, alert_scores
from vegcube.cli import app
from vegcube.download import TOKEN_ENV, download
from vegcube.sensors.swi import SWI_TRANSFORM
from vegcube.testing.faults import Faults, serve_faulty
from vegcube.testing.swi import generate_swi_archive, write_url_list

netCDF4 = pytest.importorskip("netCDF4")
CELL = 6378137 * math.pi / 180 * 0.1  # 0.1° on the equator of EPSG:4087 (m)


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def recipe(a, catalog, out, *, start: str, end: str) -> dict:
    return {
        "name": "swi",
        "aoi": {"bbox": list(a.bbox)},
        "time": {"start": start, "end": end},
        "source": {"catalog": str(catalog), "collection": a.collection},
        # the product's own cells: 0.1° of plate carrée (EPSG:4087, x = a·λ, y = a·φ)
        "grid": {"crs": "EPSG:4087", "resolution": CELL},
        "indices": ["swi_010"],
        "composite": {"period": "dekad", "reducer": "mean"},
        "output": {"dir": str(out), "formats": ["zarr"]},
    }


def raw(path, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """DN of `name` at global (`rows`, `cols`) index arrays."""
    r0, c0 = int(rows.min()), int(cols.min())
    with netCDF4.Dataset(path) as nc:
        v = nc[name]
        v.set_auto_maskandscale(False)
        block = np.asarray(v[0, r0 : int(rows.max()) + 1, c0 : int(cols.max()) + 1])
    return block[rows - r0, cols - c0]


def test_chain_on_the_mirror_gives_dekad_means_and_finds_the_dry_spell(tmp_path):
    a = generate_swi_archive(tmp_path / "swi", start="2020-02-01", end="2023-03-31",
                             months=(2, 3), step=4)  # fmt: skip
    r = recipe(a, a.path, tmp_path / "out", start="2020-02-01", end="2023-03-31")
    m = download(r, to=tmp_path / "m", margin=1, **FAST)
    assert len(m.files) == 2 * len(a.files)  # swi_010 and qflag per file
    r["source"]["catalog"] = str(tmp_path / "m" / "catalog.json")
    r["reference"] = {"start": "2020-01-01", "end": "2022-12-31"}
    r["indicators"] = ["zscore", "anomaly"]
    r["regions"] = {"path": str(_regions(a, tmp_path / "regions.geojson")), "id": "name"}
    r["alerts"] = [{"name": "dry", "variable": "swi_010_zscore", "below": -2, "periods": 2}]
    result = vegcube.run(r)
    comp = xr.open_zarr(result.outputs["composites"]).compute()
    assert comp.swi_010.attrs["units"] == "%"
    xx, yy = np.meshgrid(comp.x.values, comp.y.values)
    lon, lat = Transformer.from_crs(4087, 4326, always_xy=True).transform(xx, yy)
    cols, rows = (np.floor(v).astype(int) for v in ~SWI_TRANSFORM * (lon, lat))
    assert rows.shape == (6, 6) and (rows[0, 0], cols[0, 0]) == (a.window[0] + 2, a.window[1] + 2)
    # independent: 0.5 · DN of the files in the dekad where DN ≤ 200 and QFLAG ≥ 25 % (DN 50)
    per_file = []
    for path in a.files:
        swi, q = raw(path, "SWI_010", rows, cols), raw(path, "QFLAG_010", rows, cols)
        per_file.append(np.where((swi <= 200) & (q >= 50) & (q <= 200), 0.5 * swi, np.nan))
    dates = pd.DatetimeIndex(a.dates)
    checked = masked = 0
    for t in comp.time.values:
        t0, t1 = pd.Timestamp(t), pd.Timestamp(comp.period_end.sel(time=t).values)
        got = comp.swi_010.sel(time=t).values
        inside = [v for v, d in zip(per_file, dates, strict=True) if t0 <= d <= t1]
        if not inside:
            assert np.isnan(got).all()
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells (the sea)
            want = np.nanmean(np.stack(inside), 0)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4, equal_nan=True)
        checked += int(np.isfinite(want).sum())
        masked += int(sum(np.isnan(v).sum() for v in inside))
    assert checked > 300 and masked > 20  # QFLAG and fills did mask cells
    ind = xr.open_zarr(result.outputs["indicators"]).compute()
    spell = ind.sel(time=slice("2023-02-11", "2023-03-31"))
    dry = a.dry[rows - a.window[0], cols - a.window[1]]
    assert dry.sum() == 4
    z, anomaly = spell.swi_010_zscore.values, spell.swi_010_anomaly.values
    assert ind.swi_010_anomaly.attrs["units"] == "%"
    assert (anomaly[:, dry] < -20).all() and (z[:, dry] < -3).all()
    wet = ~dry & np.isfinite(z).any(0)
    assert np.nanmax(np.abs(anomaly[:, wet])) < 10 and np.nanmedian(np.abs(z[:, wet])) < 1.5
    # the alerts chain: the dry cells' region on alert in the dekads of the dry spell only
    events = pd.read_parquet(result.outputs["alerts"])
    dekads = pd.DatetimeIndex(comp.time.values)
    truth = {"dry cells": (dekads >= "2023-02-01") & (dekads <= "2023-03-31"),
             "the others": np.zeros(len(dekads), bool)}  # fmt: skip
    tp, fp, fn = alert_scores(events, dekads, truth)
    assert tp >= 5 and tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.9, events


def _regions(a, path):
    """Two regions: the dry-spell cells (a block of 0.1° cells: a lon/lat rectangle) and the
    others."""
    import json

    import shapely

    rows, cols = np.nonzero(a.dry)
    r0, c0 = a.window[0] + rows.min(), a.window[1] + cols.min()
    (w, n), (e, s) = SWI_TRANSFORM * (c0, r0), SWI_TRANSFORM * (c0 + 2, r0 + 2)
    dry = shapely.box(w, s, e, n)
    x0, y0, x1, y1 = a.bbox
    others = shapely.box(x0 - 0.5, y0 - 0.5, x1 + 0.5, y1 + 0.5).difference(dry)
    features = [
        {"type": "Feature", "properties": {"name": name}, "geometry": shapely.geometry.mapping(g)}
        for name, g in (("dry cells", dry), ("the others", others))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_remote_files_from_a_url_list_give_the_same_cogs(tmp_path, monkeypatch):
    a = generate_swi_archive(tmp_path / "swi", end="2023-01-04")
    local = recipe(a, a.path, tmp_path / "o", start="2023-01-01", end="2023-01-04")
    download(local, to=tmp_path / "local", **FAST)
    faults = Faults(seed=5, error_rate=0.25, truncate_rate=0.2, require_token="swi-token")
    with serve_faulty(a.path, faults=faults) as served:
        listing = write_url_list(a, served.url, tmp_path / "urls.txt")
        r = recipe(a, listing, tmp_path / "o", start="2023-01-01", end="2023-01-04")
        monkeypatch.setenv(TOKEN_ENV, "swi-token")
        m = download(r, to=tmp_path / "remote", **FAST)
        assert m.retries > 0 and served.count("error") + served.count("truncate") > 0
        got = [q for q in served.requests if q.method == "GET" and q.status in (200, 206)]
        assert {q.path.rsplit("/", 1)[-1] for q in got} == {f.name for f in a.files}
        assert all(q.authorized for q in got)
        seen = len(served.requests)
        again = download(r, to=tmp_path / "remote", **FAST)  # complete: nothing fetched
        assert {f.mode for f in again.files} == {"skipped"} and len(served.requests) == seen
    assert not list((tmp_path / "remote").rglob("*.nc"))  # deleted once converted
    cogs = sorted((tmp_path / "local").rglob("*.tif"))
    assert len(cogs) == 2 * len(a.files)
    for cog in cogs:
        twin = tmp_path / "remote" / cog.relative_to(tmp_path / "local")
        with rasterio.open(cog) as x, rasterio.open(twin) as y:
            assert x.transform == y.transform and (x.read() == y.read()).all()


def test_cli_names_the_catalog_field(tmp_path):
    a = generate_swi_archive(tmp_path / "swi", end="2023-01-01")
    r = recipe(a, tmp_path / "nowhere", tmp_path / "o", start="2023-01-01", end="2023-01-02")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(r))
    args = ["download", str(tmp_path / "r.yaml"), "--to", str(tmp_path / "m"), "-q"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 2 and "source.catalog" in res.stderr and "does not exist" in res.stderr
