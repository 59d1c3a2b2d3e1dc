"""Is the global chain one series across its sensor switches? (issue 15)

The global demo archive (`vegcube.testing.global_demo`: MOD13Q1 NDVI continued by VIIRS
VJ113A1 from 2022-01-01, mirrored through `vegcube download`; MOD21A2 LST continued by
Sentinel-3 SLSTR from 2022-07-01; VIIRS NDVI = 0.95 × MODIS + 0.07 and SLSTR = MODIS + 1.5 K
on the same ground; a drought from February to April 2023) runs through the global recipe
three times: calibrated as the recipe says (NDVI by reduced major axis, LST by least squares of
SLSTR on MODIS), with the LST fitted by reduced major axis instead (``lst-rma``), and with
``calibrate.apply: false`` (``raw``: fits recorded, not applied). For each switch it prints, on
stable land (land covers, one cell or more away from the drought's place):

- the fit (newer = slope × older + intercept) and the mean anomaly step across the switch (the
  `--months` after it minus the months before; NDVI anomaly, LST minus its reference mean),
  all land and per cover; targets ≤ 0.02 NDVI and ≤ 0.5 K once calibrated;
- the spread (sd) of that anomaly in each sensor's era: calibration matches the scale, not
  the noise;
- the share of pixel-periods within ±3 periods of the switch classed moderate or worse: the
  chain's drought class (VCI, significant departures only) and TCI/VHI below 30 (Kogan's
  moderate), beside the same share over the reference years (what chance alone gives) and
  after them (the newer sensors alone); "not monitorable" counts as not flagged, as in the
  local chain's false-alarm rate (`vegcube.testing.drought.scores`);

then how VCI classes, TCI and VHI find the drought (periods wholly inside it; precision,
recall and F1 as `vegcube.testing.truth.detection_scores` scores them).

    .venv/bin/python benchmarks/validate_continuity.py [--model-size 1000] [--work DIR]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

import vegcube
from vegcube import calibrate
from vegcube.testing.global_demo import (
    GlobalArchive,
    generate_global_archive,
    lst_anomaly,
    truth_masks,
)
from vegcube.testing.truth import COVER_GROUPS

LAND = {1: "forest", 2: "grassland", 3: "cropland", 5: "bare"}
MODERATE = 30.0  # VCI/TCI/VHI below this: moderate drought or worse (Kogan's classes)


#: run → (calibration applied, the LST fit's method, per-pixel offsets)
RUNS = {
    "calibrated": (True, "ols", True),
    "line": (True, "ols", False),
    "lst-rma": (True, "rma", True),
    "raw": (False, "ols", False),
}


def run(archive: GlobalArchive, out: Path, *, apply: bool, lst_method: str, per_pixel: bool
        ) -> float:  # fmt: skip
    """Run the global recipe into `out` (unless done); its wall time (0 when reused)."""
    if (out / "indicators.zarr").exists():
        return 0.0
    rc = archive.recipe(out, apply=apply)
    rc["lst"]["calibrate"]["method"] = lst_method
    for cal in (rc["source"]["calibrate"], rc["lst"]["calibrate"]):
        cal["per_pixel"] = per_pixel
    rc["output"]["report"] = False
    t0 = time.perf_counter()
    vegcube.run(rc)
    return time.perf_counter() - t0


def outputs(out: Path) -> dict[str, Any]:
    """The run's indicators, anomalies and drought flags (time, y, x), loaded."""
    ind = xr.open_zarr(out / "indicators.zarr").load()
    flags = {
        "class": np.asarray(ind.ndvi_drought_class.values >= 2),
        "tci": np.asarray(ind.lst_tci.values < MODERATE),
        "vhi": np.asarray(ind.ndvi_vhi.values < MODERATE),
        # the classes, given only for a significant departure (heat, or either for VHI)
        "tci_class": np.asarray(ind.lst_tci_drought_class.values >= 2),
        "vhi_class": np.asarray(ind.ndvi_vhi_drought_class.values >= 2),
    }
    # a class of "not monitorable" (−2) is a value the map shows unflagged, as the local
    # chain's false-alarm rate counts it (`testing.drought.scores`); no data (−1) is left out
    def classed(v: np.ndarray) -> np.ndarray:
        return np.isfinite(v) & (v >= -2)

    known = {
        "class": classed(ind.ndvi_drought_class.values),
        "tci": np.isfinite(ind.lst_tci.values),
        "vhi": np.isfinite(ind.ndvi_vhi.values),
        "tci_class": classed(ind.lst_tci_drought_class.values),
        "vhi_class": classed(ind.ndvi_vhi_drought_class.values),
    }
    return {
        "ind": ind,
        "anomaly": {"ndvi": ind.ndvi_anomaly.values, "lst": lst_anomaly(out).values},
        "flags": flags,
        "known": known,
        "fits": {f["index"]: f for f in calibrate.from_store(out / "composites.zarr")},
    }


def step(anom: np.ndarray, where: np.ndarray, t: pd.DatetimeIndex, switch: str, months: int
         ) -> float:  # fmt: skip
    """Mean anomaly on `where` in the `months` from `switch` minus the `months` before it."""
    sw = pd.Timestamp(switch)
    before = (t >= sw - pd.DateOffset(months=months)) & (t < sw)
    after = (t >= sw) & (t < sw + pd.DateOffset(months=months))
    a = anom[:, where]
    return float(np.nanmean(a[after]) - np.nanmean(a[before]))


#: the flags scored: VCI class; TCI and VHI < 30 (textbook); their significance-gated classes
KEYS = ("class", "tci", "vhi", "tci_class", "vhi_class")


def flagged(o: dict[str, Any], key: str, where: np.ndarray, periods: np.ndarray) -> float:
    """Share of known pixel-periods of `where` × `periods` flagged moderate or worse."""
    f, k = o["flags"][key][periods][:, where], o["known"][key][periods][:, where]
    return float(f[k].mean()) if k.any() else float("nan")


def detection(o: dict[str, Any], key: str, cover: np.ndarray, place: np.ndarray,
              when: np.ndarray) -> dict[str, float]:  # fmt: skip
    """Precision, recall, F1 of the flag during the drought: positive inside its place."""
    f, k = o["flags"][key][when], o["known"][key][when]
    sel = k & np.broadcast_to(cover, k.shape)
    truth, found = np.broadcast_to(place, k.shape)[sel], f[sel]
    tp, fp = int(np.sum(found & truth)), int(np.sum(found & ~truth))
    fn = int(np.sum(~found & truth))
    return {
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "f1": 2 * tp / max(2 * tp + fp + fn, 1),
    }


def report(archive: GlobalArchive, runs: dict[str, dict[str, Any]], months: int) -> None:
    ind = runs["calibrated"]["ind"]
    lc, place = truth_masks(archive, ind.ndvi_anomaly.isel(time=0))
    far = ~ndimage.binary_dilation(place, np.ones((3, 3), bool))
    stable = np.isin(lc, list(LAND)) & far
    t = pd.DatetimeIndex(ind.time.values)
    ref = np.asarray((t >= archive.reference_start) & (t <= archive.reference_end))
    after = np.asarray(t > archive.reference_end)  # the newer sensors alone, no reference year
    print(f"stable land: {int(stable.sum())} cells; drought's place: {int(place.sum())} cells")
    switches = [("NDVI MODIS → VIIRS", "ndvi", archive.ndvi_switch, 0.02, ""),
                ("LST MODIS → SLSTR", "lst", archive.lst_switch, 0.5, " K")]  # fmt: skip
    for label, var, sw, target, unit in switches:
        k = int(np.searchsorted(t.values, np.datetime64(sw)))
        near = np.zeros(t.size, bool)
        near[max(k - 3, 0) : k + 3] = True
        print(
            f"\n{label} at {sw}: step over {months} months on stable land (target ≤ "
            f"{target}{unit}); pixel-periods flagged at ±3 periods / over the reference / after it"
        )
        for name, o in runs.items():
            f = o["fits"][var]
            covers = " ".join(
                f"{LAND[c]} {step(o['anomaly'][var], stable & (lc == c), t, sw, months):+.3f}"
                for c in LAND
            )
            jump = step(o["anomaly"][var], stable, t, sw, months)
            print(
                f"  {name:10s} fit {f['slope']:.4f}× {f['intercept']:+.3f} (r² {f['r2']:.3f},"
                f" n {f['n']}, {f['method']}) applied {f['applied']!s:5s} "
                f"step {jump:+.4f}{unit} ({covers})"
            )
            a = o["anomaly"][var][:, stable]
            era = np.asarray(t >= pd.Timestamp(sw))
            spread = f"{np.nanstd(a[~era]):.3f} / {np.nanstd(a[era]):.3f}{unit}"
            print(f"  {'':10s} anomaly spread (sd) before / from the switch: {spread}")
            shares = " ".join(
                f"{key} {flagged(o, key, stable, near):5.1%} / {flagged(o, key, stable, ref):5.1%}"
                f" / {flagged(o, key, stable, after):5.1%}"
                for key in KEYS
            )
            print(f"  {'':10s} flagged: {shares}")
    when = np.asarray(
        (t >= archive.drought_start)
        & (pd.DatetimeIndex(ind.period_end.values) <= archive.drought_end)
    )
    print(f"\ndrought detection, {int(when.sum())} periods: F1 (precision/recall)")
    for name, o in runs.items():
        for group, covers in COVER_GROUPS.items():
            if covers is None:
                continue
            cover = np.isin(lc, covers)
            cells = " ".join(
                "{k} {f1:.3f} ({precision:.2f}/{recall:.2f})".format(k=key, **detection(
                    o, key, cover, place, when))
                for key in KEYS
            )  # fmt: skip
            print(f"  {name:10s} {group:10s} {cells}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-size", type=int, default=1000, help="area side in 10 m pixels")
    p.add_argument("--months", type=int, default=6, help="months each side of a switch")
    p.add_argument("--work", type=Path, default=Path("/tmp/vegcube-continuity"))
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    archive = generate_global_archive(args.work / "archive", model_size=args.model_size)
    print(f"archive {args.work / 'archive'}: {archive.items} ({time.perf_counter() - t0:.1f} s)")
    runs = {}
    for name, (apply, method, per_pixel) in RUNS.items():
        took = run(archive, args.work / name, apply=apply, lst_method=method, per_pixel=per_pixel)
        print(f"run {name}: {args.work / name} ({took:.1f} s)")
        runs[name] = outputs(args.work / name)
    report(archive, runs, args.months)


if __name__ == "__main__":
    main()
