"""Do the drought classes flag the drought and little else? (issue 13)

Part 1, synthetic worlds (`vegcube.testing.drought`, composites of dekads 2018–2024, reference
2018–2022, scored on 2023–2024): (a) no year-to-year change but noise, gaps and one drought;
(b) wet and dry years (5 % spread) too; (c) plus unflagged one-date cloud residue; and (b) at
a 10 % spread as a stress case. For each gap-filling method and each rule — the textbook VCI
classes, and the service defaults (significant departures: pooled reference ±1 dekad,
confidence ≥ 0.975, anomaly ≤ −0.05) — it prints the share of non-drought land
pixel-periods classed moderate or worse (false alarms; target ≤ 5 %) and the share of drought
pixel-periods found (recall; target ≥ 90 %), averaged over seeds.

Part 2, the demo archive through the whole chain's composites: the same rules on the demo's
drought (precision/recall/F1 per land-cover group, `vegcube.testing.truth`).

    .venv/bin/python benchmarks/validate_drought.py [--size 64] [--seeds 3] [--demo-size 100]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import vegcube
from vegcube import gapfill, indicators, reference
from vegcube.recipe import DroughtClasses
from vegcube.testing.demo import generate_archive
from vegcube.testing.drought import drought_world, scores
from vegcube.testing.truth import detection_scores

SERVICE = DroughtClasses().model_dump()
TEXTBOOK = {**SERVICE, "min_confidence": None}
RULES: dict[str, tuple[dict[str, Any], int]] = {
    "textbook VCI": (TEXTBOOK, 0),
    "significant (defaults)": (SERVICE, 1),
}
METHODS = ("none", "linear", "harmonic", "whittaker", "spatiotemporal")
WORLDS = [("a", 0.05), ("b", 0.05), ("c", 0.05), ("b", 0.10)]


def classes(series: xr.Dataset, start: str, end: str, rule: dict[str, Any], pool: int) -> Any:
    ref = reference.compute(series, start=start, end=end, variables=["ndvi"], pool=pool)
    ind = indicators.compute(
        series, ref, variables=["ndvi"], indicators=["zscore", "drought_class"], thresholds=rule
    )
    return ind.ndvi_drought_class.compute()


def fill(comp: xr.Dataset, method: str) -> xr.Dataset:
    if method == "none":
        return comp
    out = gapfill.fill(comp.ndvi, method=method)
    return comp.drop_vars("ndvi_count").assign(ndvi=out["filled"], ndvi_quality=out["quality"])


def worlds(size: int, seeds: int) -> None:
    print(f"synthetic worlds {size}×{size} px, {seeds} seeds: false alarms / recall (land)")
    print(f"{'world':10s} {'gap filling':15s} " + " ".join(f"{r:>24s}" for r in RULES) + "  fill s")
    for kind, spread in WORLDS:
        for method in METHODS:
            cells, took = {r: [] for r in RULES}, 0.0
            for seed in range(seeds):
                world = drought_world(kind, size=size, seed=seed, year_spread=spread)
                t0 = time.perf_counter()
                series = fill(world.composites, method)
                took += time.perf_counter() - t0
                for label, (rule, pool) in RULES.items():
                    cls = classes(series, *world.reference, rule, pool)
                    land = scores(world, cls).loc["land"]
                    cells[label].append((land.false_alarms, land.recall))
            row = " ".join(
                f"{np.mean([c[0] for c in v]):>11.1%} / {np.mean([c[1] for c in v]):>8.1%}"
                for v in cells.values()
            )
            print(f"{kind} ({spread:.0%}){'':3s} {method:15s} {row}  {took / seeds:6.1f}")


def demo(size: int, work: Path) -> None:
    archive = generate_archive(work / f"archive-{size}", size=size)
    out = work / f"composites-{size}"
    if not (out / "composites.zarr").exists():
        recipe = archive.recipe(out)
        recipe.update(indices=["ndvi"], indicators=[])
        recipe["output"]["formats"] = ["zarr"]
        del recipe["reference"]
        vegcube.run(recipe)
    comp = xr.open_zarr(out / "composites.zarr").load()
    print(f"\ndemo {size}×{size} px, {comp.sizes['time']} dekads: F1 (precision/recall), land")
    for method in METHODS:
        series = fill(comp[["ndvi", "ndvi_count"]], method)
        row = []
        for rule, pool in RULES.values():
            cls = classes(series, archive.reference_start, archive.reference_end, rule, pool)
            s = detection_scores(archive, cls)["land"]
            row.append(f"{s['f1']:.3f} ({s['precision']:.2f}/{s['recall']:.2f})")
        print(f"{method:15s} " + " ".join(f"{c:>24s}" for c in row))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64, help="synthetic world side in pixels")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--demo-size", type=int, default=100, help="demo tile side (0: skip)")
    p.add_argument("--work", type=Path, default=Path("/tmp/vegcube-f1"))
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    worlds(args.size, args.seeds)
    if args.demo_size:
        demo(args.demo_size, args.work)


if __name__ == "__main__":
    main()
