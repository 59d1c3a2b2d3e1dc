"""The HTML report: valid PNGs, regions ranked by drought severity, images load in a browser."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

import vegcube
from helpers import PNG, ReportPage, assert_png, zonal_table
from vegcube import indicators, reference, report

pytest.importorskip("matplotlib", reason="the 'report' extra (matplotlib) is not installed")


EXTREME_RGB = (0x7A / 255, 0x00 / 255, 0x10 / 255)


#: region → rows of the synthetic grid and NDVI change in its last period (south: drought)
REGIONS = {"North": (slice(0, 6), 0.05), "Centre": (slice(6, 12), 0.0)}
REGIONS["South & coast"] = (slice(12, 18), -0.25)


SEVERITY_ORDER = ["South & coast", "Centre", "North"]


INDICATORS = ("vci", "zscore", "anomaly", "pct_normal", "drought_class")


def _synthetic(seed: int = 42) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset, pd.DataFrame]:
    """Four years of monthly composites on an 18 × 24 UTM grid; the reference is 2019–2021."""
    rng = np.random.default_rng(seed)
    start = pd.date_range("2019-01-01", periods=48, freq="MS")
    poy = start.month.to_numpy().astype("int16")
    season = 0.5 + 0.2 * np.sin(2 * np.pi * (poy - 1) / 12)
    ndvi = season[:, None, None] + rng.normal(0, 0.03, (48, 18, 24))
    for rows, change in REGIONS.values():
        ndvi[-1, rows] += change
    ndvi[-1, :3, :4] = np.nan  # some no data in the period shown
    count = np.where(np.isnan(ndvi), 0, rng.integers(1, 6, ndvi.shape)).astype("int16")
    dims = ("time", "y", "x")
    comp = xr.Dataset(
        {"ndvi": (dims, ndvi.astype("float32")), "ndvi_count": (dims, count)},
        coords={
            "time": start,
            "y": 7_615_000 - 10.0 * np.arange(18) - 5,
            "x": 550_000 + 10.0 * np.arange(24) + 5,
            "period_end": ("time", start + pd.offsets.MonthEnd(0)),
            "period_of_year": ("time", poy),
        },
        attrs={"period": "month"},
    ).rio.write_crs("EPSG:32758")
    ref = reference.compute(comp, start="2019-01-01", end="2021-12-31", variables=["ndvi"])
    ind = indicators.compute(comp, ref, variables=["ndvi"], indicators=INDICATORS)
    return comp, ref, ind, zonal_table(comp, ind, {k: v[0] for k, v in REGIONS.items()})


def _check_report(html: Path, regions: list[str]) -> ReportPage:
    """Every <img> a valid PNG beside the page (alt text given), each region once, in order."""
    assert html.name == "index.html" and html.is_file()
    page = ReportPage(html.read_text(encoding="utf-8"))
    assert len(page.images) >= 4
    for img in page.images:
        assert img["alt"], img
        src = html.parent / str(img["src"])
        assert src.parent == html.parent and src.is_file(), src
        assert_png(src)
    assert page.regions == regions
    assert [p.name for p in html.parent.parent.iterdir()] == ["report"]  # no temporary left
    return page


@pytest.fixture(scope="module")
def synthetic() -> tuple[xr.Dataset, xr.Dataset, xr.Dataset, pd.DataFrame]:
    return _synthetic()


@pytest.fixture(scope="module")
def zonal_report(synthetic, tmp_path_factory) -> Path:
    comp, ref, ind, zonal = synthetic
    out = tmp_path_factory.mktemp("zonal")
    return report.write(out, composites=comp, reference=ref, indicators=ind, zonal=zonal)


def test_regions_ranked_by_severity(zonal_report):
    page = _check_report(zonal_report, SEVERITY_ORDER)
    text = zonal_report.read_text(encoding="utf-8")
    assert "2022-12-01 – 2022-12-31" in text  # the latest period is the one shown
    assert "South &amp; coast" in text and "South & coast" not in text  # escaped
    # maps + one series for the whole area and one per region
    assert len(page.images) == 3 + 1 + len(REGIONS)
    assert page.body["data-images-loaded"] == "pending"  # set by the browser on load


def test_drought_map_shows_the_drought_and_no_data(zonal_report):
    from matplotlib.image import imread

    rgb = imread(zonal_report.parent / "drought_class.png")[..., :3]
    extreme = np.abs(rgb - np.array(EXTREME_RGB)).max(axis=-1) < 0.02
    grey = np.abs(rgb - 0x9E / 255).max(axis=-1) < 0.02
    assert extreme.sum() > 1_000 and grey.sum() > 100


def test_whole_area_and_rewrite(synthetic, tmp_path):
    comp, ref, ind, _ = synthetic
    kw = {"composites": comp, "reference": ref, "indicators": ind, "title": "Bourail <test>"}
    report.write(tmp_path, **kw)
    html = report.write(tmp_path, **kw)  # a rerun replaces the report whole
    page = _check_report(html, ["whole area"])
    assert len(page.images) == 4
    assert "<h1>Bourail &lt;test&gt;</h1>" in html.read_text(encoding="utf-8")


def test_dask_backed_inputs_give_the_same_table(synthetic, tmp_path):
    comp, ref, ind, zonal = synthetic
    kw = {"composites": comp.chunk(time=1), "reference": ref.chunk(), "zonal": zonal}
    html = report.write(tmp_path, indicators=ind.chunk(time=1), **kw)
    _check_report(html, SEVERITY_ORDER)


def test_missing_variable_is_named(synthetic, tmp_path):
    comp, ref, ind, _ = synthetic
    with pytest.raises(vegcube.BandError, match=r"ndwi.*ndvi_count"):
        report.write(tmp_path, composites=comp, reference=ref, indicators=ind, variable="ndwi")


def test_missing_matplotlib_names_the_extra(synthetic, tmp_path, monkeypatch):
    comp, ref, ind, _ = synthetic
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"vegcube\[report\]"):
        report.write(tmp_path, composites=comp, reference=ref, indicators=ind)
    assert not (tmp_path / "report").exists()


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium)")
    return found


def test_report_loads_in_headless_chromium(zonal_report, tmp_path):
    chromium = _chromium()
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]  # fmt: skip
    url = zonal_report.as_uri()
    t0 = time.monotonic()
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = ReportPage(dom.stdout)
    n = len(page.images)
    assert n == 3 + 1 + len(REGIONS)
    assert page.body.get("data-images-loaded") == f"{n}/{n}", page.body
    assert page.regions == SEVERITY_ORDER
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1280,2000", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == PNG and shot.stat().st_size > 10_000
    print(f"chromium: {time.monotonic() - t0:.1f} s for dump-dom + screenshot")


def test_a_sensor_switch_is_marked(synthetic, tmp_path):
    comp, ref, ind, _ = synthetic
    names = np.where(comp.time.values < np.datetime64("2021-07-01"), "modis13q1", "viirs")
    names[5], names[29] = "", "modis13q1+viirs"  # a period without scenes, one straddling
    lst = np.where(comp.time.values < np.datetime64("2022-03-01"), "modis21a2", "slstr")
    comp = comp.assign_coords(sensor=("time", names), lst_sensor=("time", lst))
    html = report.write(tmp_path, composites=comp, reference=ref, indicators=ind)
    text = html.read_text(encoding="utf-8")
    assert text.count('class="switch"') == 2
    assert 'data-switch="2021-07-01"' in text and "modis13q1 → viirs" in text
    assert 'data-switch="2022-03-01"' in text and "LST modis21a2 → slstr" in text
    plain = report.write(tmp_path / "plain", composites=comp.drop_vars(["sensor", "lst_sensor"]),
                         reference=ref, indicators=ind)  # fmt: skip
    assert 'class="switch"' not in plain.read_text(encoding="utf-8")
