"""`vegcube download` of SMAP HDF5 granules over 127.0.0.1 (a CMR-STAC-shaped STAC API, a
granule server demanding an Earthdata bearer token), conversion to daily COGs on the
EASE-Grid 2.0 global 9 km grid, then the chain on the mirror. Expected values are computed
with numpy from the HDF5 files read with h5py."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pystac
import pytest
import rasterio
import xarray as xr
import yaml
from typer.testing import CliRunner

import vegcube
from helpers import FAST, alert_scores
from vegcube.cli import app
from vegcube.download import TOKEN_ENV, download
from vegcube.errors import SourceError
from vegcube.sensors.smap import EASE2_CELL, EASE2_M09
from vegcube.testing.smap import L3, L4, generate_smap_archive, serve_smap

h5py = pytest.importorskip("h5py")


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def recipe(archive, catalog: str, out, *, start: str, end: str, index: str) -> dict:
    return {
        "name": "smap",
        "aoi": {"bbox": list(archive.bbox)},
        "time": {"start": start, "end": end},
        "source": {"catalog": catalog, "collection": archive.collection},
        "grid": {"crs": "EPSG:6933", "resolution": EASE2_CELL},  # the EASE-Grid's own cells
        "indices": [index],
        "composite": {"period": "dekad", "reducer": "mean"},
        "output": {"dir": str(out), "formats": ["zarr"]},
    }


def read(archive, gid: str, name: str, rows, cols) -> np.ndarray:
    """``name`` of granule `gid` at global (`rows`, `cols`): index arrays or slices."""
    if isinstance(rows, slice):
        with h5py.File(archive.h5(gid), "r") as f:
            return f[name][rows, cols]
    r0, c0 = int(rows.min()), int(cols.min())
    with h5py.File(archive.h5(gid), "r") as f:
        block = f[name][r0 : int(rows.max()) + 1, c0 : int(cols.max()) + 1]
    return block[rows - r0, cols - c0]


@contextmanager
def _quiet():
    """Without numpy's warnings on all-NaN cells (the sea)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def cells(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Global (row, col) of each cube pixel (its centre on the EASE grid)."""
    xx, yy = np.meshgrid(ds.x.values, ds.y.values)
    cols, rows = (np.floor(a).astype(int) for a in ~EASE2_M09 * (xx, yy))
    return rows, cols


def test_l4_download_needs_the_token_then_mirrors_daily_means(tmp_path, monkeypatch):
    a = generate_smap_archive(tmp_path / "a", product=L4, end="2023-01-02")
    with serve_smap(a) as served:
        r = recipe(a, served.url, tmp_path / "o", start="2023-01-01", end="2023-01-02",
                   index="sm_rootzone")  # fmt: skip
        with pytest.raises(SourceError, match=f"HTTP 401.*set {TOKEN_ENV}"):
            download(r, to=tmp_path / "denied", **FAST)
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(r))
        args = ["download", str(tmp_path / "r.yaml"), "--to", str(tmp_path / "d2"), "-q"]
        res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert res.exit_code == 2 and "401" in res.stderr and TOKEN_ENV in res.stderr
        assert not any(q.authorized for q in served.files.requests)
        monkeypatch.setenv(TOKEN_ENV, served.token)
        mirror = download(r, to=tmp_path / "m", **FAST)
        assert {f.mode for f in mirror.files} == {"hdf5"} and len(mirror.files) == 4
        fetched = [q for q in served.files.requests if q.method == "GET" and q.status == 200]
        assert len({q.path for q in fetched}) == 16 and all(q.authorized for q in fetched)
        seen = len(served.files.requests)
        again = download(r, to=tmp_path / "m", **FAST)  # complete COGs: nothing fetched
        assert {f.mode for f in again.files} == {"skipped"} and len(served.files.requests) == seen
    assert not list((tmp_path / "m").rglob("*.h5"))  # granules removed once converted
    cat = pystac.Catalog.from_file(str(tmp_path / "m" / "catalog.json"))
    items = sorted(cat.get_items(recursive=True), key=lambda it: it.id)
    assert [it.id for it in items] == ["SPL4SMGP_20230101", "SPL4SMGP_20230102"]
    for k, item in enumerate(items):
        assert item.collection_id == L4 and item.properties["proj:code"] == "EPSG:6933"
        assert item.properties["vegcube:granules"] == list(a.ids[8 * k : 8 * k + 8])
        assert item.datetime.hour == 12 and set(item.assets) == {"sm_rootzone", "granule_count"}
        rb = item.assets["sm_rootzone"].extra_fields["raster:bands"][0]
        assert (rb["data_type"], rb["nodata"], rb["unit"]) == ("float32", -9999, "m3 m-3")
        with rasterio.open(item.assets["sm_rootzone"].get_absolute_href()) as ds:
            got, tr = ds.read(1), ds.transform
        c0, r0 = (round(v) for v in ~EASE2_M09 * (tr.c, tr.f))
        assert tr.almost_equals(EASE2_M09 * EASE2_M09.translation(c0, r0), precision=1e-6)
        rows = slice(r0, r0 + got.shape[0])
        cols = slice(c0, c0 + got.shape[1])
        day = np.stack([read(a, g, "Geophysical_Data/sm_rootzone", rows, cols)
                        for g in a.ids[8 * k : 8 * k + 8]]).astype("float64")  # fmt: skip
        day[day == -9999] = np.nan
        n = np.isfinite(day).sum(0)
        want = np.where(n > 0, np.nanmean(np.where(n > 0, day, 0), 0), -9999)
        np.testing.assert_allclose(got, want.astype("float32"), rtol=0, atol=1e-7)
        assert (got == -9999).sum() == 3  # the sea cells: fill in every granule → nodata


def test_chain_on_the_l4_mirror_gives_dekad_means_and_finds_the_dry_spell(tmp_path, monkeypatch):
    a = generate_smap_archive(tmp_path / "a", product=L4, start="2020-02-01", end="2023-03-31",
                              months=(2, 3), step=3, per_day=2)  # fmt: skip
    with serve_smap(a) as served:
        monkeypatch.setenv(TOKEN_ENV, served.token)
        r = recipe(a, served.url, tmp_path / "out", start="2020-02-01", end="2023-03-31",
                   index="sm_rootzone")  # fmt: skip
        download(r, to=tmp_path / "m", margin=1, **FAST)
    r["source"]["catalog"] = str(tmp_path / "m" / "catalog.json")
    r["reference"] = {"start": "2020-01-01", "end": "2022-12-31"}
    r["indicators"] = ["zscore", "anomaly"]
    r["regions"] = {"path": str(_regions(a, tmp_path / "regions.geojson")), "id": "name"}
    r["alerts"] = [{"name": "dry", "variable": "sm_rootzone_zscore", "below": -2, "periods": 2}]
    result = vegcube.run(r)
    comp = xr.open_zarr(result.outputs["composites"]).compute()
    assert comp.sm_rootzone.attrs["units"] == "m3 m-3"
    rows, cols = cells(comp)
    # independent: the day's mean of its granules, then the dekad's mean of its days
    daily: dict[pd.Timestamp, np.ndarray] = {}
    for gid, t in zip(a.ids, a.times, strict=True):
        v = read(a, gid, "Geophysical_Data/sm_rootzone", rows, cols).astype("float64")
        daily.setdefault(pd.Timestamp(t.date()), []).append(np.where(v == -9999, np.nan, v))
    checked = 0
    for t in comp.time.values:
        t0 = pd.Timestamp(t)
        t1 = pd.Timestamp(comp.period_end.sel(time=t).values)
        got = comp.sm_rootzone.sel(time=t).values
        with _quiet():
            days = [np.nanmean(np.stack(v), 0) for d, v in daily.items() if t0 <= d <= t1]
            if not days:
                assert np.isnan(got).all()
                continue
            want = np.nanmean(np.stack(days), 0)
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6, equal_nan=True)
        checked += int(np.isfinite(want).sum())
    assert checked > 500
    ind = xr.open_zarr(result.outputs["indicators"]).compute()
    spell = ind.sel(time=slice("2023-02-11", "2023-03-31"))
    dry = a.dry[tuple(np.ix_(rows[:, 0] - a.window[0], cols[0] - a.window[1]))]
    assert dry.sum() == 9
    assert ind.sm_rootzone_anomaly.attrs["units"] == "m3 m-3"
    z, anomaly = spell.sm_rootzone_zscore.values, spell.sm_rootzone_anomaly.values
    assert (anomaly[:, dry] < -0.08).all() and (z[:, dry] < -3).all()
    wet = ~dry & np.isfinite(z[0])
    assert np.abs(anomaly[:, wet]).max() < 0.05 and np.median(np.abs(z[:, wet])) < 1.5
    # the alerts chain: the dry cells' region on alert in the dekads of the dry spell, and
    # nothing else (precision and recall per region-dekad)
    events = pd.read_parquet(result.outputs["alerts"])
    dekads = pd.DatetimeIndex(comp.time.values)
    truth = {"dry cells": (dekads >= "2023-02-01") & (dekads <= "2023-03-31"),
             "the others": np.zeros(len(dekads), bool)}  # fmt: skip
    tp, fp, fn = alert_scores(events, dekads, truth)
    assert tp >= 5 and tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.9, events


def _regions(a, path):
    """Two regions of the AOI: the dry-spell cells and the others (EASE-Grid 2.0 is
    cylindrical: a block of cells is a longitude/latitude rectangle)."""
    import json

    import shapely
    from pyproj import Transformer

    to_ll = Transformer.from_crs(6933, 4326, always_xy=True)
    rows, cols = np.nonzero(a.dry)
    r0, c0 = a.window[0], a.window[1]

    def box(row0: int, col0: int, row1: int, col1: int) -> shapely.Polygon:
        (x0, x1), (y0, y1) = zip(EASE2_M09 * (col0, row0), EASE2_M09 * (col1, row1), strict=True)
        (lon0, lon1), (lat0, lat1) = to_ll.transform([x0, x1], [y0, y1])
        return shapely.box(min(lon0, lon1), min(lat0, lat1), max(lon0, lon1), max(lat0, lat1))

    dry = box(r0 + rows.min(), c0 + cols.min(), r0 + rows.max() + 1, c0 + cols.max() + 1)
    w, s, e, n = a.bbox
    others = shapely.box(w - 0.5, s - 0.5, e + 0.5, n + 0.5).difference(dry)
    features = [
        {"type": "Feature", "properties": {"name": name}, "geometry": shapely.geometry.mapping(g)}
        for name, g in (("dry cells", dry), ("the others", others))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_l3_mirror_masks_retrievals_flagged_unusable(tmp_path, monkeypatch):
    a = generate_smap_archive(tmp_path / "a", product=L3, end="2023-01-10")
    with serve_smap(a) as served:
        monkeypatch.setenv(TOKEN_ENV, served.token)
        r = recipe(a, served.url, tmp_path / "out", start="2023-01-01", end="2023-01-10",
                   index="soil_moisture_am")  # fmt: skip
        download(r, to=tmp_path / "m", **FAST)
    cat = pystac.Catalog.from_file(str(tmp_path / "m" / "catalog.json"))
    items = list(cat.get_items(recursive=True))
    assert len(items) == 10
    assert set(items[0].assets) == {"soil_moisture_am", "retrieval_qual_flag_am"}
    r["source"]["catalog"] = str(tmp_path / "m" / "catalog.json")
    comp = xr.open_zarr(vegcube.run(r).outputs["composites"]).compute()
    rows, cols = cells(comp)
    am = "Soil_Moisture_Retrieval_Data_AM/"
    sm = np.stack([read(a, g, f"{am}soil_moisture", rows, cols) for g in a.ids]).astype("f8")
    flag = np.stack([read(a, g, f"{am}retrieval_qual_flag", rows, cols) for g in a.ids])
    usable = (sm != -9999) & (flag != 65534) & ((flag & 0b101) == 0)
    assert (flag & 0b101 != 0).any() and ((flag & 8) != 0).any()  # both kinds present
    with _quiet():
        want = np.nanmean(np.where(usable, sm, np.nan), 0)
    np.testing.assert_allclose(comp.soil_moisture_am.values[0], want, rtol=0, atol=2e-6,
                               equal_nan=True)  # fmt: skip
    assert comp.soil_moisture_am_count.values[0].tolist() == usable.sum(0).tolist()
