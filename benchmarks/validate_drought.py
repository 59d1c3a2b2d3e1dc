"""How well the demo's drought is found at pixel level, per processing choice (issue 5).

Runs the chain's composites once on the demo archive, then, from those composites, the
reference, indicators and drought classes of several choices (raw dekad medians, gap filling
and smoothing, a z-score confirmation), and prints precision, recall and F1 of
"class ≥ moderate" inside the drought's place and time vs. outside, per land-cover group.

    .venv/bin/python benchmarks/validate_drought.py [--size 100] [--work /tmp/vegcube-f1]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import xarray as xr

import vegcube
from vegcube import gapfill, indicators, reference
from vegcube.testing.demo import generate_archive
from vegcube.testing.truth import detection_scores

VARIANTS: list[tuple[str, dict[str, Any] | None, float | None]] = [
    ("dekad medians, VCI", None, None),
    ("linear gap filling, VCI", {"method": "linear"}, None),
    ("harmonic (window 120 d), VCI", {"method": "harmonic", "window_days": 120}, None),
    ("Whittaker λ 3, VCI", {"method": "whittaker", "lmbda": 3, "smooth_observed": True}, None),
    ("Whittaker λ 30, VCI", {"method": "whittaker", "lmbda": 30, "smooth_observed": True}, None),
    ("dekad medians, VCI + z ≤ −1.5", None, -1.5),
    ("Whittaker λ 30, VCI + z ≤ −1", {"method": "whittaker", "lmbda": 30,
                                       "smooth_observed": True}, -1.0),
    ("Whittaker λ 3, VCI + z ≤ −1.5 (demo)", {"method": "whittaker", "lmbda": 3,
                                              "smooth_observed": True}, -1.5),
]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=100, help="demo tile side in 10 m pixels")
    p.add_argument("--work", type=Path, default=Path("/tmp/vegcube-f1"))
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    demo = generate_archive(args.work / f"archive-{args.size}", size=args.size)
    out = args.work / f"composites-{args.size}"
    if not (out / "composites.zarr").exists():
        recipe = demo.recipe(out)
        recipe.update(indices=["ndvi"], indicators=[])
        recipe["output"]["formats"] = ["zarr"]
        del recipe["reference"]
        vegcube.run(recipe)
    comp = xr.open_zarr(out / "composites.zarr").load()
    print(f"demo {args.size}×{args.size} px, {comp.sizes['time']} dekads; F1 (precision/recall)")
    print(f"{'variant':40s} {'grass+crop':>18s} {'land':>18s} {'all':>18s}")
    for label, spec, zmax in VARIANTS:
        series = comp[["ndvi"]]
        if spec is not None:
            spec = dict(spec)
            filled = gapfill.fill(comp.ndvi, method=spec.pop("method"), **spec)["filled"]
            series = series.assign(ndvi=filled)
        ref = reference.compute(series, start=demo.reference_start, end=demo.reference_end)
        classes = {"extreme": 10, "severe": 20, "moderate": 30, "mild": 40, "zscore_max": zmax}
        ind = indicators.compute(
            series, ref, variables=["ndvi"], indicators=["zscore", "drought_class"],
            thresholds=classes,
        )  # fmt: skip
        scores = detection_scores(demo, ind.ndvi_drought_class.compute())
        cells = [f"{s['f1']:.3f} ({s['precision']:.2f}/{s['recall']:.2f})" for s in scores.values()]
        print(f"{label:40s} " + " ".join(f"{c:>18s}" for c in cells))


if __name__ == "__main__":
    main()
