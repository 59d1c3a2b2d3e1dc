"""`vegcube view` in a real browser: Debian's headless Chromium driven by Playwright (never a
downloaded browser). The page loads, its tiles show the COG values in the legend's colours,
the slider changes the map, a click on a region shows its chart. Skips without Chromium or
Playwright; the screenshot is kept as ``view.png`` under the test's tmp_path."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio

pytest.importorskip("fastapi", reason="the 'serve' extra (FastAPI) is not installed")
pytest.importorskip("rio_tiler", reason="the 'serve' extra (rio-tiler) is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from vegcube.report import CLASS_COLOURS, NODATA_COLOUR  # noqa: E402

DAY = "2023-03-01"  # in the demo's drought
EARLIER = "2022-09-01"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium)")
    return found


@pytest.fixture(scope="module")
def view_run(tmp_path_factory) -> Path:
    """A small demo run (40 × 40 pixels, 2020–2023, NDVI): Zarr stores, COGs, zonal table;
    made once per test session (the unit and browser tests of the viewer share it)."""
    _chromium()
    import vegcube
    from vegcube.testing import generate_archive

    base = tmp_path_factory.getbasetemp() / "view-run"
    out = base / "out"
    if (out / "run.json").exists() and json.loads((out / "run.json").read_text())[
        "status"
    ] == "done":
        return out
    archive = generate_archive(base / "archive", size=40, start="2020-01-01", end="2023-12-31",
                               revisit_days=10)  # fmt: skip
    rc = archive.demo_recipe(out)
    rc.pop("alerts")
    rc["indices"] = ["ndvi"]
    rc["output"].update(formats=["zarr", "cog"], report=False)
    vegcube.run(rc)
    return out


@pytest.fixture(scope="module")
def server(view_run) -> Iterator[str]:
    """`vegcube view`'s app on a free port of 127.0.0.1 (uvicorn in a thread)."""
    import uvicorn

    from vegcube.view.app import ViewConfig, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(ViewConfig(out=view_run)), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def _set_period(page, day: str) -> None:
    index = page.evaluate("d => window.vegcubeView.run.periods.findIndex(p => p.time === d)", day)
    assert index >= 0
    page.evaluate(
        """i => { const s = document.getElementById('slider'); s.value = String(i);
                  s.dispatchEvent(new Event('input')); }""",
        index,
    )
    page.wait_for_function("d => (document.body.dataset.tiles || '').includes(d)", arg=day,
                           timeout=10_000)  # fmt: skip


def _screen(page, shot: Path) -> np.ndarray:
    page.screenshot(path=str(shot))
    with rasterio.open(shot) as img:
        return np.moveaxis(img.read()[:3], 0, -1)


def _samples(view_run: Path, day: str) -> list[tuple[float, float, tuple[int, int, int]]]:
    """(lon, lat, colour) at the centres of class-COG pixels away from region outlines."""
    import shapely
    from pyproj import Transformer

    from vegcube.zonal import read_regions

    path = view_run / "cog" / "ndvi_drought_class" / f"{day}.tif"
    spec = json.loads((view_run / "run.json").read_text())["recipe"]["regions"]
    regs = read_regions(spec["path"], id=spec["id"])
    with rasterio.open(path) as src:
        values, crs, transform = src.read(1), src.crs, src.transform
    to_cog = Transformer.from_crs(regs.crs, crs, always_xy=True)
    edges = shapely.union_all(
        [
            shapely.transform(g.boundary, lambda xy: np.column_stack(to_cog.transform(*xy.T)))
            for g in regs.geometries
        ]
    )
    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    out = []
    for row in range(2, values.shape[0] - 2, 3):
        for col in range(2, values.shape[1] - 2, 3):
            x, y = transform * (col + 0.5, row + 0.5)
            if edges.distance(shapely.Point(x, y)) < 6:
                continue
            v = int(values[row, col])
            colour = _rgb(NODATA_COLOUR if v == -1 else CLASS_COLOURS[v][1])
            lon, lat = to_wgs84.transform(x, y)
            out.append((lon, lat, colour))
    return out


def _check_colours(page, screen: np.ndarray, samples) -> None:
    points = page.evaluate(
        """pts => { const m = window.vegcubeView.map;
                    const box = m.getContainer().getBoundingClientRect();
                    return pts.map(p => { const c = m.latLngToContainerPoint([p[1], p[0]]);
                                          return [c.x + box.left, c.y + box.top]; }); }""",
        [[lon, lat] for lon, lat, _ in samples],
    )
    checked = 0
    for (px, py), (_, _, colour) in zip(points, samples, strict=True):
        c, r = int(px), int(py)
        if not (0 <= r < screen.shape[0] and 0 <= c < screen.shape[1]):
            continue
        assert tuple(int(v) for v in screen[r, c]) == colour, (px, py)
        checked += 1
    assert checked >= 20


def test_the_map_in_headless_chromium(server, view_run, tmp_path):
    chromium = _chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 850})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))
        t0 = time.monotonic()
        page.goto(server)
        page.wait_for_selector("body[data-ready='1']", timeout=15_000)
        ready = time.monotonic() - t0
        page.wait_for_selector("body[data-regions]", timeout=10_000)
        print(f"page ready in {ready:.2f} s")
        assert page.evaluate("window.vegcubeView.layer") == "ndvi_drought_class"
        assert "provisional" in page.inner_text("#period")  # the latest period is provisional

        _set_period(page, DAY)
        before = _screen(page, tmp_path / "day.png")
        _check_colours(page, before, _samples(view_run, DAY))
        box = page.locator("#map").bounding_box()
        assert box is not None
        area = (slice(int(box["y"]), int(box["y"] + box["height"])),
                slice(int(box["x"]), int(box["x"] + box["width"])))  # fmt: skip
        assert len(np.unique(before[area].reshape(-1, 3), axis=0)) >= 3, "the tiles are blank"

        _set_period(page, EARLIER)
        after = _screen(page, tmp_path / "earlier.png")
        assert (after[area] != before[area]).any(axis=-1).sum() > 100, "the slider moved nothing"
        _check_colours(page, after, _samples(view_run, EARLIER))

        region = page.evaluate(
            """() => { const m = window.vegcubeView.map; let found = null;
                       m.eachLayer(l => { if (l.feature && !found) found = l; });
                       const c = m.latLngToContainerPoint(found.getBounds().getCenter());
                       const box = m.getContainer().getBoundingClientRect();
                       return [found.feature.id, c.x + box.left, c.y + box.top]; }"""
        )
        page.mouse.click(region[1], region[2])
        page.wait_for_selector(f"#region-chart[data-region='{region[0]}'] canvas", timeout=10_000)
        page.wait_for_selector("#pixel-chart[data-pixel] canvas", timeout=10_000)
        assert region[0] in page.inner_text("#region-panel")
        _set_period(page, DAY)  # the charts mark the map's period: redrawn, no error
        page.screenshot(path=str(tmp_path / "view.png"))
        browser.close()
    assert not errors, errors
    assert (tmp_path / "view.png").stat().st_size > 10_000
