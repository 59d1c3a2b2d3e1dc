"""Alerts: rules on the per-region time series (`zonal`) → the regions on alert, and when.

>>> events = evaluate(zonal_table, rules)      # rule, region, variable, start, end, …
>>> write(events, regions, "out/")             # alerts.parquet, alerts.csv, alerts.geojson

A rule names a variable of the zonal table (``sm_rootzone_pctl``, ``ndvi_zscore``,
``ndvi_drought_share``…) and a threshold (``below`` or ``above``) that the region's mean must
cross for ``periods`` consecutive periods. A region mean over less than ``min_valid_fraction``
of the region (clouds, no data) does not judge the period: it neither confirms nor breaks a run
(a cloudy dekad does not end a drought). Each run long enough is one event: its first period
(``start``, the alert is raised at the period that completes ``periods``: ``raised``), its last
(``end``), its length, the most extreme mean (``peak``) and whether it is still open at the end
of the series (``ongoing``: no judged period has ended it). `changes` compares the events of
two runs (an update): which were raised, which ended.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .export import atomic_path

__all__ = ["COLUMNS", "changes", "evaluate", "write"]

COLUMNS = (
    "rule", "region", "variable", "start", "raised", "end", "periods", "peak", "ongoing",
)  # fmt: skip


def _get(rule: Any, key: str, default: Any = None) -> Any:
    return rule.get(key, default) if isinstance(rule, Mapping) else getattr(rule, key, default)


def evaluate(table: pd.DataFrame, rules: Sequence[Any]) -> pd.DataFrame:
    """The alert events of `rules` (recipe `alerts` entries or dicts with ``name``,
    ``variable``, ``below``/``above``, ``periods``, ``min_valid_fraction``) on a zonal table
    (``region, time, variable, mean, …, valid_fraction``), one row per event."""
    rows: list[dict[str, Any]] = []
    for rule in rules:
        var = _get(rule, "variable")
        below, above = _get(rule, "below"), _get(rule, "above")
        need = int(_get(rule, "periods", 1))
        min_valid = float(_get(rule, "min_valid_fraction", 0.5))
        sub = table[table["variable"] == var]
        for region, df in sub.groupby("region", sort=True):
            df = df.sort_values("time")
            mean = df["mean"].to_numpy(dtype="float64")
            judged = np.isfinite(mean) & (df["valid_fraction"].to_numpy() >= min_valid)
            with np.errstate(invalid="ignore"):
                hit = mean < below if below is not None else mean > above
            rows += _runs(
                rule, str(region), var, pd.DatetimeIndex(df["time"]), mean, judged, hit, need,
                low=below is not None,
            )  # fmt: skip
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.sort_values(["rule", "region", "start"], ignore_index=True)


def _runs(
    rule: Any,
    region: str,
    var: str,
    times: pd.DatetimeIndex,
    mean: np.ndarray,
    judged: np.ndarray,
    hit: np.ndarray,
    need: int,
    *,
    low: bool,
) -> list[dict[str, Any]]:
    """The runs of `need` or more judged hits (unjudged periods skipped, not breaking)."""
    idx = np.flatnonzero(judged)
    events, run = [], []
    for k in [*idx, None]:  # None closes the last run
        if k is not None and hit[k]:
            run.append(k)
            continue
        if len(run) >= need:
            values = mean[run]
            events.append({
                "rule": _get(rule, "name"), "region": region, "variable": var,
                "start": times[run[0]], "raised": times[run[need - 1]], "end": times[run[-1]],
                "periods": len(run),
                "peak": float(values.min() if low else values.max()),
                "ongoing": k is None,
            })  # fmt: skip
        run = []
    return events


def changes(before: pd.DataFrame | None, after: pd.DataFrame) -> dict[str, list[dict[str, str]]]:
    """Alerts raised and ended between two evaluations (an update): an ongoing event of
    `after` that `before` did not have ongoing is raised; an ongoing event of `before` whose
    rule and region are no longer ongoing has ended."""

    def keyed(df: pd.DataFrame | None) -> dict[tuple[str, str], pd.Series]:
        if df is None or df.empty:
            return {}
        on = df[df["ongoing"].astype(bool)]
        return {(str(r.rule), str(r.region)): r for r in on.itertuples(index=False)}

    old, new = keyed(before), keyed(after)
    raised = [
        {"rule": k[0], "region": k[1], "since": str(pd.Timestamp(new[k].start).date())}
        for k in sorted(new.keys() - old.keys())
    ]
    ended = []
    for k in sorted(old.keys() - new.keys()):
        same = after[(after["rule"] == k[0]) & (after["region"] == k[1])]
        same = same[same["start"] == old[k].start]
        end = pd.Timestamp(same["end"].iloc[0] if len(same) else old[k].end)
        ended.append({"rule": k[0], "region": k[1], "last": str(end.date())})
    return {"raised": raised, "ended": ended}


def write(events: pd.DataFrame, regions: Any, out_dir: str | Path) -> tuple[Path, Path, Path]:
    """``alerts.parquet`` and ``.csv`` (every event) and ``alerts.geojson`` (the regions
    with an ongoing alert, in EPSG:4326, one feature per region and rule), atomically."""
    import shapely
    from pyproj import Transformer

    out = Path(out_dir)
    paths = out / "alerts.parquet", out / "alerts.csv", out / "alerts.geojson"
    with atomic_path(paths[0]) as tmp:
        events.to_parquet(tmp, index=False)
    with atomic_path(paths[1]) as tmp:
        events.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    to_ll = Transformer.from_crs(regions.crs, 4326, always_xy=True)
    shape = dict(zip(regions.ids, regions.geometries, strict=True))
    features = []
    for ev in events[events["ongoing"].astype(bool)].itertuples(index=False):
        geom = shapely.transform(shape[ev.region], lambda xy: np.column_stack(
            to_ll.transform(xy[:, 0], xy[:, 1])))  # fmt: skip
        props = {
            "region": ev.region, "rule": ev.rule, "variable": ev.variable,
            "since": str(pd.Timestamp(ev.start).date()), "periods": int(ev.periods),
            "peak": float(ev.peak),
        }  # fmt: skip
        features.append(
            {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props}
        )
    with atomic_path(paths[2]) as tmp:
        tmp.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return paths
