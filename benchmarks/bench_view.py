"""`vegcube view`: map tiles from a local COG (issue #17's target: ≤ 200 ms at p95 for a
256 × 256 tile) and the page ready time with a 5-year dekad series (target: < 2 s).

Tiles: a `--side` × `--side` float32 COG of VCI values written as vegcube writes its COGs
(10 m UTM pixels, 256-pixel blocks, DEFLATE, overviews), and `--tiles` random web-mercator
tiles over it at three zooms (the native one, one coarser read from overviews, one finer);
each tile timed three ways: `tiles.render` (read + colour + PNG), the same through HTTP
(uvicorn on 127.0.0.1, httpx), and, as the baseline, a plain rasterio read of a 256 × 256
window of the same COG — what any tile must at least pay.

Page: the demo's run over 2019–2023 (`--size` px, 180 dekads, built once in `--cache`),
served by uvicorn; headless Chromium (Debian's, through Playwright) loads the page
`--loads` times in fresh browser contexts: time to the ``load`` event (the page and its
vendored libraries) and to ``body[data-ready]`` (metadata read, first tiles drawn).

    .venv/bin/python benchmarks/bench_view.py [--side 4096] [--tiles 200] [--size 100]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def _write_cog(path: Path, side: int) -> None:
    """A VCI-like float32 COG written by vegcube's own COG writer."""
    import rasterio
    from affine import Affine

    from vegcube.export.cog import _write_cog as write

    rng = np.random.default_rng(42)
    yy, xx = np.mgrid[0:side, 0:side] / side
    values = 50 + 40 * np.sin(6 * xx) * np.cos(5 * yy) + rng.normal(0, 5, (side, side))
    values[rng.random((side, side)) < 0.05] = np.nan
    profile = {"driver": "COG", "height": side, "width": side, "count": 1, "dtype": "float32",
               "nodata": np.nan, "compress": "DEFLATE", "predictor": 3, "blocksize": 256,
               "overview_resampling": "nearest", "tags": {}, "description": "ndvi_vci",
               "crs": rasterio.crs.CRS.from_epsg(32758),
               "transform": Affine(10, 0, 550000, 0, -10, 7620000)}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    write(values.astype("float32"), path, profile)


@contextmanager
def _serve(app: object) -> Iterator[str]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def bench_tiles(cache: Path, side: int, n: int) -> None:
    import httpx
    import morecantile
    import rasterio
    from rasterio.windows import Window

    from vegcube.view import tiles
    from vegcube.view.app import ViewConfig, create_app
    from vegcube.view.outputs import Run

    root = cache / f"view-cog-{side}"
    path = root / "cog" / "ndvi_vci" / "2023-03-01.tif"
    if not path.exists():
        _write_cog(path, side)
    (root / "run.json").write_text(json.dumps({"recipe": {"name": "bench"}}))
    run = Run(path=root, recipe={"name": "bench"}, layers={"ndvi_vci": {"2023-03-01": path}})
    tms = morecantile.tms.get("WebMercatorQuad")
    with rasterio.open(path) as src:
        west, south, east, north = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    rng = np.random.default_rng(0)
    native = tms.zoom_for_res(10.0 * 0.93)  # 10 m pixels at the latitude (~21.6° S)
    picks = []
    for z in (native - 2, native, native + 1):
        for _ in range(n // 3):
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
            picks.append(tms.tile(lon, lat, z))
    for t in picks[:10]:  # warm-up: page cache, imports
        tiles.render(run, "ndvi_vci", "2023-03-01", z=t.z, x=t.x, y=t.y)
    direct, http, base = [], [], []
    for t in picks:
        t0 = time.perf_counter()
        tiles.render(run, "ndvi_vci", "2023-03-01", z=t.z, x=t.x, y=t.y)
        direct.append(time.perf_counter() - t0)
    with _serve(create_app(ViewConfig(out=root))) as url, httpx.Client(base_url=url) as client:
        for t in picks:
            t0 = time.perf_counter()
            r = client.get(f"tiles/ndvi_vci/2023-03-01/{t.z}/{t.x}/{t.y}.png")
            http.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
    for _ in picks:  # opened each time, as a tile request does
        r0, c0 = rng.integers(0, side - 256, 2)
        t0 = time.perf_counter()
        with rasterio.open(path) as src:
            src.read(1, window=Window(int(c0), int(r0), 256, 256))
        base.append(time.perf_counter() - t0)
    b95 = _pct(base, 95)
    print(f"tiles: {len(picks)} tiles of a {side} × {side} float32 COG, zooms "
          f"{native - 2}, {native}, {native + 1} (native {native})")  # fmt: skip
    print(f"  {'':34} {'p50 ms':>8} {'p95 ms':>8} {'p95 / baseline':>15}")
    for name, xs in (("rasterio window read (baseline)", base),
                     ("tiles.render (read+colour+PNG)", direct),
                     ("GET /tiles/… over HTTP", http)):  # fmt: skip
        print(f"  {name:34} {_pct(xs, 50):8.1f} {_pct(xs, 95):8.1f} {_pct(xs, 95) / b95:15.1f}")
    verdict = "met" if _pct(http, 95) <= 200 else "NOT met"
    print(f"  target p95 ≤ 200 ms over HTTP: {verdict}")


def bench_page(cache: Path, size: int, loads: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        print("page: skipped (needs Debian's chromium and playwright)")
        return
    import vegcube
    from vegcube.testing import generate_archive
    from vegcube.view.app import ViewConfig, create_app

    root = cache / f"view-run-{size}"
    out = root / "out"
    meta = out / "run.json"
    if not (meta.exists() and json.loads(meta.read_text()).get("status") == "done"):
        print(f"page: building the 2019–2023 demo run ({size} × {size} px) in {root} …")
        archive = generate_archive(root / "archive", size=size, start="2019-01-01",
                                   end="2023-12-31")  # fmt: skip
        rc = archive.demo_recipe(out)
        rc["output"].update(formats=["zarr", "cog"], report=False)
        vegcube.run(rc)
    loaded, ready = [], []
    with _serve(create_app(ViewConfig(out=out))) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(loads + 1):
            ctx = browser.new_context(viewport={"width": 1400, "height": 850})
            page = ctx.new_page()
            t0 = time.perf_counter()
            page.goto(url, wait_until="load")
            t1 = time.perf_counter()
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            t2 = time.perf_counter()
            n = page.evaluate("window.vegcubeView.run.periods.length")
            loaded.append(t1 - t0)
            ready.append(t2 - t0)
            ctx.close()
        browser.close()
    loaded, ready = loaded[1:], ready[1:]  # the first load starts the server's caches
    print(f"page: {n} periods, {loads} loads in fresh browser contexts")
    print(f"  {'':34} {'median s':>8} {'max s':>8}")
    print(f"  {'load event (page + libraries)':34} {np.median(loaded):8.2f} {max(loaded):8.2f}")
    print(f"  {'ready (first tiles drawn)':34} {np.median(ready):8.2f} {max(ready):8.2f}")
    print(f"  ready / load event: {np.median(ready) / np.median(loaded):.1f}; target < 2 s: "
          f"{'met' if max(ready) < 2 else 'NOT met'}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--side", type=int, default=4096, help="COG side in pixels")
    ap.add_argument("--tiles", type=int, default=200)
    ap.add_argument("--size", type=int, default=100, help="demo run side in 10 m pixels")
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    ap.add_argument("--skip-page", action="store_true")
    args = ap.parse_args(argv)
    bench_tiles(args.cache, args.side, args.tiles)
    if not args.skip_page:
        bench_page(args.cache, args.size, args.loads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
