"""Helpers and tables shared by the unit and end-to-end tests (a plain module, not a conftest:
`tests/conftest.py` puts `tests/` on `sys.path`, so test modules `from helpers import ...`).

Fixtures live in `tests/conftest.py`."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pystac
import rasterio
import xarray as xr
from pyproj import Transformer

from vegcube import catalog, report

D = dt.date

# --------------------------------------------------------------------------- catalog search

#: the span of the `small` archives (conftest) and of `stac_archive` (conftest)
SMALL_SPAN = (D(2021, 11, 1), D(2022, 3, 31))
STAC_SPAN = (D(2022, 12, 1), D(2023, 3, 31))


def search_args(archive: Any, span: tuple[dt.date, dt.date], **kw: Any) -> dict[str, Any]:
    """`catalog.search`'s keywords for the whole of `archive` over `span` (start, end), its
    Sentinel-2 L2A scenes unless `kw` says otherwise; `kw` overrides any of them."""
    start, end = span
    args = {"collection": "sentinel-2-l2a", "bbox": archive.bbox, "start": start, "end": end}
    return {**args, **kw}


def search_archive(archive: Any, span: tuple[dt.date, dt.date], **kw: Any) -> list[pystac.Item]:
    """The items of `archive`'s static catalog found with `search_args(archive, span, **kw)`."""
    return catalog.search(str(archive.catalog), **search_args(archive, span, **kw))


def query(stac_archive: Any, **kw: Any) -> dict[str, Any]:
    """`search_args` over the whole of `stac_archive`."""
    return search_args(stac_archive, STAC_SPAN, **kw)


def items_of(archive: Any, **kw: Any) -> list[pystac.Item]:
    """`search_archive` over the whole of a `small` archive."""
    return search_archive(archive, SMALL_SPAN, **kw)


# --------------------------------------------------------------------------- synthetic data


def cube_factory(seed: int = 42) -> Callable[..., xr.Dataset]:
    """`cube(times, ny, nx, bands)`: random reflectances (time, y, x), drawn from a generator of
    its own (seeded `seed`), so each test module that makes one gets the same values."""
    rng = np.random.default_rng(seed)

    def cube(times, ny=6, nx=5, bands=("red", "nir", "swir16", "green", "blue")) -> xr.Dataset:
        t = pd.DatetimeIndex(times)
        coords = {"time": t, "y": np.arange(ny) * -10.0, "x": np.arange(nx) * 10.0}
        data = {
            b: xr.DataArray(
                rng.uniform(0.01, 0.6, (len(t), ny, nx)).astype("float32"),
                dims=("time", "y", "x"),
                coords=coords,
            )
            for b in bands
        }
        return xr.Dataset(data)

    return cube


def yearly(values_by_year, poy=(1, 2)):
    """A composite-like dataset: one value per (year, period) for a 1×2 image."""
    rows = []
    for year, vals in values_by_year.items():
        for p, v in zip(poy, vals, strict=True):
            rows.append((pd.Timestamp(year=year, month=1, day=1 + 10 * (p - 1)), p, v))
    t = pd.DatetimeIndex([r[0] for r in rows])
    arr = np.array([[[r[2], r[2] * 0.5]] for r in rows], "float32")
    return xr.Dataset(
        {"ndvi": (("time", "y", "x"), arr)},
        coords={
            "time": t,
            "period_of_year": ("time", [r[1] for r in rows]),
            "y": [0.0],
            "x": [0.0, 10.0],
        },
        attrs={"period": "dekad"},
    )


def qa_array(values, dtype="uint16") -> xr.DataArray:
    """QA values as a 1-D DataArray (dimension x)."""
    return xr.DataArray(np.array(values, dtype=dtype), dims="x")


def in_bbox(path: Path, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """Pixels of the 10 m grid of ``path`` whose centre lies in a lon/lat bbox."""
    with rasterio.open(path) as ds:
        t, h, w = ds.transform, ds.height, ds.width
    xs, ys = t.c + (np.arange(w) + 0.5) * t.a, t.f + (np.arange(h) + 0.5) * t.e
    lon, lat = Transformer.from_crs(32758, 4326, always_xy=True).transform(*np.meshgrid(xs, ys))
    return (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])


# --------------------------------------------------------------------------- recipes


def l1c_recipe(l1c_archive: Any, out: Any, **cloud: Any) -> dict[str, Any]:
    """NDVI composites (zarr) of `l1c_archive` (conftest), `cloud` as mask.cloud_probability."""
    rc = l1c_archive.recipe(out)
    for key in ("reference", "indicators"):
        rc.pop(key)
    rc["indices"] = ["ndvi"]
    rc["output"]["formats"] = ["zarr"]
    if cloud:
        rc["mask"]["cloud_probability"] = cloud
    return rc


# --------------------------------------------------------------------------- download

#: every fault of `vegcube.testing.Faults`, on the pixel files
ALL_FAULTS = dict(
    error_rate=0.08,
    drop_rate=0.08,
    truncate_rate=0.08,
    slow_rate=0.04,
    throttle_rate=0.04,
    slow_s=0.2,
    retry_after="1",
    pattern="*.tif",
)


#: `download` keywords for short waits
FAST = dict(backoff=0.02, poll=0.1, workers=4)


def fetch_aoi(archive: Any) -> list[float]:
    """The central ~40 % of the tile: assets get clipped."""
    w, s, e, n = archive.bbox
    cx, cy, dx, dy = (w + e) / 2, (s + n) / 2, (e - w) * 0.2, (n - s) * 0.2
    return [cx - dx, cy - dy, cx + dx, cy + dy]


def fetch_recipe(archive: Any, out: Path, catalog: str | Path, **time: Any) -> dict:
    """Composites (zarr) of `fetch_aoi(archive)` read from `catalog`, over `time` if given."""
    r = archive.recipe(out)
    r.pop("reference")
    r.update(indicators=[], aoi={"bbox": fetch_aoi(archive)})
    r["source"]["catalog"] = str(catalog)
    r["output"]["formats"] = ["zarr"]
    if time:
        r["time"] = time
    return r


# --------------------------------------------------------------------------- real items

#: (catalog, collection, item id) → reflectance offset a DN must get, and why
S2_OFFSETS = {
    # Earth Search v1 sentinel-2-l2a: `earthsearch:boa_offset_applied: true` → the COGs are
    # already harmonised (DN / 10000) although raster:bands says offset -0.1 (earth-search#9)
    ("earth-search", "sentinel-2-l2a", "S2A_13TDE_20231008_0_L2A"): 0.0,  # 05.09, flag true
    ("earth-search", "sentinel-2-l2a", "S2B_24MVV_20250731_0_L2A"): 0.0,  # 05.11, flag true
    ("earth-search", "sentinel-2-l2a", "S2A_32TMT_20200302_1_L2A"): 0.0,  # 05.00 reprocessed
    ("earth-search", "sentinel-2-l2a", "S2A_32TMT_20200302_0_L2A"): 0.0,  # 02.14, flag false
    # Earth Search v1 sentinel-2-c1-l2a: not harmonised; raster:bands -0.1 is right
    ("earth-search", "sentinel-2-c1-l2a", "S2A_T37WDS_20240419T090557_L2A"): -0.1,
    ("earth-search", "sentinel-2-c1-l2a", "S2B_T24MVV_20250731T130245_L2A"): -0.1,
    # Planetary Computer: no scale/offset in the items, s2:processing_baseline decides
    (
        "planetary-computer",
        "sentinel-2-l2a",
        "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531",
    ): 0.0,
    (
        "planetary-computer",
        "sentinel-2-l2a",
        "S2A_MSIL2A_20220728T093601_R036_T46XER_20220729T131138",
    ): -0.1,
    (
        "planetary-computer",
        "sentinel-2-l2a",
        "S2A_MSIL2A_20240228T025651_R032_T51UYV_20240228T070801",
    ): -0.1,
    # CDSE (STAC 1.1): raster:scale/raster:offset on each asset; the 2020 scene was reprocessed
    # to baseline 05.00, so its offset is -0.1 although it was acquired before 2022-01-25
    (
        "cdse",
        "sentinel-2-l2a",
        "S2A_MSIL2A_20200301T090901_N0500_R050_T35UPU_20230630T033416",
    ): -0.1,
    (
        "cdse",
        "sentinel-2-l2a",
        "S2A_MSIL2A_20241107T113311_N0511_R080_T32VKR_20241107T123948",
    ): -0.1,
}


def static_catalog(folder: Path, items: Sequence[pystac.Item]) -> Path:
    """A self-contained static catalog in `folder` of (clones of) `items`, one collection per
    collection id: the path of its catalog.json."""
    root = pystac.Catalog("real", "real items with synthetic pixels")
    for coll_id in sorted({it.collection_id for it in items}):
        members = [it for it in items if it.collection_id == coll_id]
        coll = pystac.Collection(
            coll_id,
            coll_id,
            pystac.Extent(
                pystac.SpatialExtent([[-180, -90, 180, 90]]),
                pystac.TemporalExtent([[None, None]]),
            ),
        )
        for it in members:
            clone = it.clone()
            clone.clear_links()
            coll.add_item(clone)
        root.add_child(coll)
    root.normalize_hrefs(str(folder))
    root.save(pystac.CatalogType.SELF_CONTAINED)
    return folder / "catalog.json"


# --------------------------------------------------------------------------- report

PNG = b"\x89PNG\r\n\x1a\n"


class ReportPage(HTMLParser):
    """Images, ranking rows and <body> attributes of a report page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.regions: list[str | None] = []
        self.body: dict[str, str | None] = {}
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        elif tag == "tr" and "data-region" in a:
            self.regions.append(a["data-region"])
        elif tag == "body":
            self.body = a


def zonal_table(comp: xr.Dataset, ind: xr.Dataset, masks: dict) -> pd.DataFrame:
    """The zonal table (DESIGN.md's columns) of each region, given as a row slice or mask."""
    cls = ind["ndvi_drought_class"]
    layers = {"ndvi": comp["ndvi"], "ndvi_drought_class": cls.where(cls >= 0)}
    layers |= {f"ndvi_{k}": ind[f"ndvi_{k}"] for k in ("vci", "zscore", "anomaly")}
    rows = []
    for region, where in masks.items():
        for name, da in layers.items():
            v = da.isel(y=where).values if isinstance(where, slice) else da.values[:, where]
            v = v.reshape(v.shape[0], -1).astype("float64")
            n = np.isfinite(v).sum(axis=1)
            with warnings.catch_warnings():  # periods with no valid pixel: NaN, as intended
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, std = np.nanmean(v, axis=1), np.nanstd(v, axis=1)
            for t, m, s, c in zip(comp.time.values, mean, std, n, strict=True):
                rows.append((region, t, name, m, s, int(c), c / v.shape[1]))
    return pd.DataFrame(rows, columns=list(report.ZONAL_COLUMNS))


def assert_png(path: Path) -> None:
    """A real, non-trivial PNG: signature, size, more than one colour."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == PNG, path
    assert len(data) > 5_000, f"{path.name}: {len(data)} bytes"
    rgb = imread(path)[..., :3]
    assert (rgb != rgb[0, 0]).any(), f"{path.name} is one flat colour"


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(work: Path, args: Sequence[str], *, wait_s: float = 60) -> Iterator[dict]:
    """`vegcube serve ARGS --port P --state WORK/cwd/state` in a child process on 127.0.0.1,
    from the working folder WORK/cwd, until the context ends: {"url", "cwd", "log"}."""
    import httpx

    cwd = work / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = work / "server.log"
    cmd = [sys.executable, "-m", "vegcube", "serve", *args, "--port", str(port)]
    cmd += ["--state", str(cwd / "state")]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + wait_s
        while True:
            try:
                if httpx.get(f"{url}/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log_path.read_text())
            time.sleep(0.1)
        try:
            yield {"url": url, "cwd": cwd, "log": log_path}
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def alert_scores(events: Any, dekads: Any, truth: dict[str, Any]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of alert `events` (`alerts.evaluate`)
    per region × dekad against `truth` (region → boolean per dekad): a dekad is on alert
    while an event of its region spans it."""
    tp = fp = fn = 0
    for region, expected in truth.items():
        on = np.zeros(len(dekads), bool)
        for ev in events[events["region"] == region].itertuples(index=False):
            on |= (dekads >= ev.start) & (dekads <= ev.end)
        tp, fp = tp + int((on & expected).sum()), fp + int((on & ~expected).sum())
        fn += int((~on & expected).sum())
    return tp, fp, fn
