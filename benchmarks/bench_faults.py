"""Benchmark `vegcube run` over HTTP with faults injected on every request, against a clean run.

Issue #18's target: with 20 % of the requests failing — 500, 503, connection resets, 429 with
``Retry-After`` and truncated bodies, in equal parts, on the static catalog's JSON files and on
the COG range reads alike — `vegcube run` exits 0, writes outputs identical to a clean run's,
and takes at most 2× the clean run's time.

A generated demo archive is served from 127.0.0.1 by `vegcube.testing.serve_faulty` (the same
server for both runs: without faults, then with them); each run is ``python -m vegcube run
RECIPE -q`` in a fresh subprocess, timed from outside (interpreter start and imports
included, the same in both). Then every Zarr store of the two output folders is compared
(`xarray.testing.assert_identical`) and every COG pixel by pixel. The script prints the two
times, the ratio faulty ÷ clean, the faults injected per kind and the number of requests.
It exits 1 if a run fails or the outputs differ; with ``--check``, also if the ratio is above
``--target``.

Run from the repository root::

    .venv/bin/python benchmarks/bench_faults.py [--size 120] [--start 2022-01-01]
        [--end 2022-12-31] [--rate 0.2] [--retry-after 1] [--seed 1] [--repeat 1] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / ".cache"
#: the fault kinds injected, in equal parts of `--rate` (see `vegcube.testing.Faults`)
KINDS = ("error", "unavailable", "drop", "throttle", "truncate")
LABELS = {
    "error": "500",
    "unavailable": "503",
    "drop": "reset",
    "throttle": "429",
    "truncate": "truncated",
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=120, help="tile side in 10 m pixels (even, ≥ 40)")
    ap.add_argument("--start", default="2022-01-01", help="first day of the archive and run")
    ap.add_argument("--end", default="2022-12-31", help="last day of the archive and run")
    ap.add_argument("--revisit", type=int, default=5, help="days between acquisitions")
    ap.add_argument("--rate", type=float, default=0.2, help="share of requests that fail")
    ap.add_argument("--retry-after", default="1", help="Retry-After (s) sent with the 429s")
    ap.add_argument("--seed", type=int, default=1, help="seed of the fault decisions")
    ap.add_argument(
        "--kinds", default=",".join(KINDS), help=f"fault kinds injected (of {', '.join(KINDS)})"
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs of each; the best time counts")
    ap.add_argument("--target", type=float, default=2.0, help="largest ratio faulty ÷ clean")
    ap.add_argument("--check", action="store_true", help="exit 1 if the ratio exceeds --target")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="folder of archive and outputs")
    return ap.parse_args(argv)


def recipe(archive: Any, url: str, out: Path) -> dict[str, Any]:
    """The archive's full chain (composites, reference, indicators, Zarr and COGs), read
    through the served catalog; a reference of the whole run (min_years 1): one year."""
    r: dict[str, Any] = archive.recipe(out)
    r["source"]["catalog"] = f"{url}/catalog.json"
    r["reference"] = {"start": archive.start, "end": archive.end, "min_years": 1}
    return r


def run_once(recipe_path: Path, out: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    if out.exists():
        shutil.rmtree(out)
    t = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "vegcube", "run", "-q", str(recipe_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return time.perf_counter() - t, res


def compare(a: Path, b: Path) -> list[str]:
    """Differences between the outputs of two runs (empty: identical)."""
    import numpy as np
    import rasterio
    import xarray as xr

    problems = []
    stores = sorted(p.name for p in a.glob("*.zarr"))
    if stores != sorted(p.name for p in b.glob("*.zarr")) or not stores:
        problems.append(
            f"Zarr stores differ: {stores} vs {sorted(p.name for p in b.glob('*.zarr'))}"
        )
    for name in stores:
        try:
            xr.testing.assert_identical(
                xr.open_zarr(a / name).load(), xr.open_zarr(b / name).load()
            )
        except AssertionError as exc:
            problems.append(f"{name}: {str(exc)[:300]}")
    cogs = sorted(p.relative_to(a).as_posix() for p in a.glob("cog/**/*.tif"))
    if cogs != sorted(p.relative_to(b).as_posix() for p in b.glob("cog/**/*.tif")):
        problems.append("the COG files differ")
    for rel in cogs:
        with rasterio.open(a / rel) as x, rasterio.open(b / rel) as y:
            # (the profiles' nodata is NaN, which equals nothing: compared as text)
            same = repr(x.profile) == repr(y.profile) and np.array_equal(
                x.read(), y.read(), equal_nan=True
            )
        if not same:
            problems.append(f"{rel}: pixels or profile differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import yaml

    from vegcube.testing import Faults, generate_archive, serve_faulty

    cache = Path(args.cache)
    root = cache / f"faults-archive-s{args.size}-r{args.revisit}-{args.start}-{args.end}"
    t = time.perf_counter()
    archive = generate_archive(
        root, size=args.size, revisit_days=args.revisit, start=args.start, end=args.end
    )
    scenes = len(list((archive.path / archive.collection).glob("*/*.json")))
    print(f"archive {root} ({scenes} scenes, {args.size} px) in {time.perf_counter() - t:.1f} s")
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        print(f"--kinds: unknown {', '.join(unknown)}; known: {', '.join(KINDS)}", file=sys.stderr)
        return 2
    share = args.rate / len(kinds)
    plans = {
        "clean": Faults(),
        "faulty": Faults(
            seed=args.seed,
            retry_after=args.retry_after,
            pattern="*",  # catalog JSON and COG reads alike
            **{f"{k}_rate": share for k in kinds},
        ),
    }
    best: dict[str, float] = {}
    stats: dict[str, dict[str, Any]] = {}
    outs: dict[str, Path] = {}
    for attempt in range(args.repeat):
        for name, faults in plans.items():
            out = cache / f"faults-out-{name}"
            with serve_faulty(archive.path, faults=faults) as served:
                path = cache / f"faults-recipe-{name}.yaml"
                path.write_text(yaml.safe_dump(recipe(archive, served.url, out)))
                seconds, res = run_once(path, out)
                time.sleep(0.2)  # reads still in flight when the run ended
                requests, kinds = len(served.requests), Counter(f.kind for f in served.injected)
            if res.returncode != 0:
                print(f"{name} run failed (exit {res.returncode}):\n{res.stderr}", file=sys.stderr)
                return 1
            timings = json.loads((out / "run.json").read_text()).get("timings_s", {})
            print(
                f"  {name:<6} run {attempt + 1}: {seconds:6.1f} s wall, {requests} requests, "
                f"faults: {dict(kinds) or 'none'}; stages "
                + ", ".join(f"{k} {v:.1f}" for k, v in timings.items() if k != "total")
            )
            if seconds < best.get(name, float("inf")):
                best[name] = seconds
                stats[name] = {"requests": requests, "kinds": kinds}
            outs[name] = out
    problems = compare(outs["clean"], outs["faulty"])
    ratio = best["faulty"] / best["clean"]
    injected = stats["faulty"]["kinds"]
    total = sum(injected[k] for k in KINDS)
    print()
    print(f"clean   {best['clean']:6.1f} s   ({stats['clean']['requests']} requests)")
    print(
        f"faulty  {best['faulty']:6.1f} s   ({stats['faulty']['requests']} requests, "
        f"{total} faults = {total / max(1, stats['faulty']['requests']):.0%}: "
        + ", ".join(f"{LABELS[k]} {injected[k]}" for k in KINDS)
        + ")"
    )
    verdict = "PASS" if ratio <= args.target else "FAIL"
    print(f"ratio faulty ÷ clean: {ratio:.2f} (target ≤ {args.target:.1f}) {verdict}")
    if problems:
        print("outputs differ:\n  " + "\n  ".join(problems))
        return 1
    print("outputs identical (every Zarr store; every COG pixel)")
    return 1 if args.check and ratio > args.target else 0


if __name__ == "__main__":
    raise SystemExit(main())
