"""Quicklooks of 100 scenes (issue #17's target: < 30 s), against a raw read of the same bytes.

The archive: the demo's (`vegcube.testing.generate_archive`), `--size` px at 10 m, one scene
every 5 days from 2022-01-01: `--scenes` scenes. Timed in this process after one warm-up read
of every file (page cache): `vegcube.quicklook.write` (search excluded: the plan is made
first) and, as the baseline, rasterio reading every pixel of the red, green, blue and SCL
assets of the same scenes on all cores — what any quicklook must at least pay.

    .venv/bin/python benchmarks/bench_quicklooks.py [--scenes 100] [--size 240]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=100)
    ap.add_argument("--size", type=int, default=240, help="side in 10 m pixels")
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    args = ap.parse_args(argv)

    import rasterio

    from vegcube import quicklook
    from vegcube.planning import plan
    from vegcube.testing import generate_archive

    start = dt.date(2022, 1, 1)
    end = start + dt.timedelta(days=5 * args.scenes - 1)
    root = args.cache / f"quicklooks-s{args.size}-n{args.scenes}"
    archive = generate_archive(root, size=args.size, revisit_days=5, start=str(start),
                               end=str(end))  # fmt: skip
    rc = archive.recipe(root / "out")
    rc["source"]["max_cloud_cover"] = 100
    p = plan(rc)
    hrefs = [
        it.assets[b].get_absolute_href() for it in p.items for b in ("red", "green", "blue", "scl")
    ]

    def read(href: str | None) -> int:
        with rasterio.open(str(href)) as src:
            return int(src.read(1).size)

    with ThreadPoolExecutor(os.cpu_count()) as pool:  # warm the page cache
        list(pool.map(read, hrefs))
    t = time.perf_counter()
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        pixels = sum(pool.map(read, hrefs))
    raw = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        paths = quicklook.write(p, folder)
        took = time.perf_counter() - t
    n = len(paths) - 1
    verdict = "PASS" if took < 30 * n / 100 else "FAIL"
    print(f"{n} scenes of {args.size}×{args.size} px ({pixels / 1e6:.0f} Mpx of RGB + SCL)")
    print(f"raw read {raw:.2f} s; quicklooks {took:.2f} s ({took / n * 1000:.0f} ms per scene, "
          f"contact sheet included); ÷ raw read {took / raw:.1f}; target < 30 s per 100 scenes "
          f"→ {verdict}")  # fmt: skip
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
