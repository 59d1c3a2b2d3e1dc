"""Report: PNG maps of the latest period, time series against the reference, one HTML page.

>>> path = report.write(out, composites=comp, reference=ref, indicators=ind)
>>> path                                    # out/report/index.html, PNGs beside it

matplotlib (the ``report`` extra) is imported lazily and drawn with the Agg canvas only,
so the module imports without it and never touches pyplot's global state.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dask
import numpy as np
import pandas as pd
import xarray as xr

from .errors import BandError, DataError, RecipeError
from .export import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["write"]

#: drought class code → (name, colour); no data is drawn grey
CLASS_COLOURS = {-2: ("not monitorable", "#c6d4e1"), 0: ("none", "#ffffff"),
                 1: ("mild", "#ffe34d"), 2: ("moderate", "#ff9a1f"), 3: ("severe", "#e3261b"),
                 4: ("extreme", "#7a0010")}  # fmt: skip
NODATA_COLOUR = "#9e9e9e"
DPI = 100
ZONAL_COLUMNS = ("region", "time", "variable", "mean", "std", "count", "valid_fraction")
#: region means over a smaller valid share of the region are left out of its series
MIN_VALID_FRACTION = 0.5
#: the maps show the latest period observed (not only filled) on this share of the area
MAP_MIN_OBSERVED = 0.6
#: a period is shaded as drought when this share of the monitored area is moderate or worse
SHADE_SHARE = 0.25
_STATS = ("mean", "std", "min", "max")
#: ranking table column → (heading, number format)
_TABLE = {"vci": ("mean VCI", ".1f"), "zscore": ("mean z-score", ".2f"),
          "drought_class": ("mean class", ".2f"), "share": ("area ≥ moderate", ".0%")}  # fmt: skip
_SCRIPT = """<script>
window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; }
  }
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
});
</script>"""
_CSS = """body{font-family:sans-serif;margin:2em auto;max-width:1250px;color:#222}
figure{margin:0 0 1.5em}figcaption{font-size:.9em;color:#555}img{max-width:100%;height:auto}
.maps{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}
td:nth-child(2),th:nth-child(2){text-align:left}.meta{color:#555}"""


@dataclass(frozen=True)
class _Image:
    file: str
    alt: str
    caption: str


def write(
    out_dir: str | Path,
    *,
    composites: xr.Dataset,
    reference: xr.Dataset,
    indicators: xr.Dataset,
    variable: str = "ndvi",
    zonal: pd.DataFrame | None = None,
    title: str = "vegcube report",
    series: xr.Dataset | None = None,
    alerts: pd.DataFrame | None = None,
) -> Path:
    """Write ``out_dir/report/index.html`` and its PNGs (atomically) and return the HTML path.

    Maps show the latest period observed on at least `MAP_MIN_OBSERVED` of the area that
    has indicators (drought class with "not monitorable", anomaly, valid-observation count;
    a provisional period is said so); one time series per region of `zonal` (or of the
    whole area when `zonal` is None) shows `variable` (from the gap-filled `series` when
    given) against its reference envelope, shaded where `SHADE_SHARE` of the monitored area
    is classed moderate or worse; a table ranks the regions by drought severity (mean VCI
    ascending) in that period. With `alerts` (`vegcube.alerts.evaluate`), the regions on
    alert come first, then the alerts that ended.
    """
    _check(composites, reference, indicators, variable, zonal)
    _require_matplotlib()
    area = _area_series(composites, reference, indicators, variable, series)
    t = _latest_period(area, variable)
    comp_t, ind_t = composites.sel(time=t), indicators.sel(time=t)
    regions = {"whole area": area}
    if zonal is not None:
        regions = _zonal_series(zonal, composites, reference, variable)
    table = _ranking(regions, t)
    plots = {"whole area": area, **regions}
    switches = _switches(composites)
    final = Path(out_dir) / "report"
    with atomic_path(final) as tmp:
        tmp.mkdir(parents=True)
        images = _maps(tmp, comp_t, ind_t, variable)
        for i, (name, df) in enumerate(plots.items()):
            images.append(_series_plot(tmp, name, df, variable, i, switches))
        page = _html(title, variable, comp_t, t, images, table, switches, alerts)
        (tmp / "index.html").write_text(page, encoding="utf-8")
    return final / "index.html"


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "vegcube.report needs matplotlib, which the 'report' extra installs: "
            "pip install 'vegcube[report]'"
        ) from err


def _check(
    comp: xr.Dataset, ref: xr.Dataset, ind: xr.Dataset, var: str, zonal: pd.DataFrame | None
) -> None:
    needs = {
        "composites": (comp, [var, f"{var}_count"]),
        "reference": (ref, [f"{var}_{s}" for s in _STATS]),
        "indicators": (ind, [f"{var}_{s}" for s in ("vci", "zscore", "anomaly", "drought_class")]),
    }
    for label, (ds, names) in needs.items():
        missing = [n for n in names if n not in ds.data_vars]
        if missing:
            raise BandError(
                f"report: {label} has no {missing} for variable {var!r}; "
                f"it holds {sorted(map(str, ds.data_vars))}"
            )
    if zonal is not None and (lost := [c for c in ZONAL_COLUMNS if c not in zonal.columns]):
        raise RecipeError(f"report: zonal table lacks columns {lost}; needs {list(ZONAL_COLUMNS)}")


def _latest_period(area: pd.DataFrame, var: str) -> pd.Timestamp:
    """The latest period observed on ≥ MAP_MIN_OBSERVED of the area with indicators; else
    the latest with indicator values; else the latest with composite values."""
    cover = area["observed"]
    for ok in (cover >= MAP_MIN_OBSERVED, area["has_comp"] & area["has_ind"], area["has_comp"]):
        if ok.any():
            return pd.Timestamp(ok[ok].index.max())
    raise DataError(f"report: no period has any valid {var!r} value")


def _area_series(
    comp: xr.Dataset,
    ref: xr.Dataset,
    ind: xr.Dataset,
    var: str,
    series: xr.Dataset | None = None,
) -> pd.DataFrame:
    """Spatial means per period (one dask computation); envelope = reference pixel means."""
    dims, times = ("y", "x"), comp.indexes["time"]
    poy, end = np.asarray(comp["period_of_year"].values), np.asarray(comp["period_end"].values)
    comp, ind = comp.reset_coords(drop=True), ind.reset_coords(drop=True)  # no coord checks
    ind = ind.reindex(time=times)
    values = comp[var] if series is None else series.reset_coords(drop=True)[var]
    cls = ind[f"{var}_drought_class"]
    cls = cls.where(cls >= 0)
    judged = ind[f"{var}_anomaly"].notnull()
    red = xr.Dataset(
        {
            "value": values.reindex(time=times).mean(dims),
            "vci": ind[f"{var}_vci"].mean(dims),
            "zscore": ind[f"{var}_zscore"].mean(dims),
            "drought_class": cls.mean(dims),
            "share": (cls >= 2).where(cls.notnull()).mean(dims),
            "has_comp": comp[var].notnull().any(dims),
            "has_ind": ind[f"{var}_anomaly"].notnull().any(dims),
            "ind_cover": judged.mean(dims),
            "observed": (comp[f"{var}_count"] > 0).where(judged).sum(dims)
            / judged.sum(dims).clip(min=1),
        }
    )
    ref_means = ref.reset_coords(drop=True)[[f"{var}_{s}" for s in _STATS]].mean(dims)
    red, ref_means = dask.compute(red, ref_means)
    df = red.to_dataframe()
    for s in _STATS:
        df[f"ref_{s}"] = ref_means[f"{var}_{s}"].sel(period_of_year=poy).to_numpy()
    df["end"] = end
    return df


def _zonal_series(
    zonal: pd.DataFrame, comp: xr.Dataset, ref: xr.Dataset, var: str
) -> dict[str, pd.DataFrame]:
    """Per-region means; the envelope is each region's own mean series over the reference years."""
    names = {var: "value", f"{var}_vci": "vci", f"{var}_zscore": "zscore"}
    names[f"{var}_drought_class"] = "drought_class"
    names[f"{var}_drought_share"] = "share"
    # a region's mean over less than half of its area (clouds) is not its value: leave a gap
    keep = zonal["variable"].isin(names) & (zonal["valid_fraction"] >= MIN_VALID_FRACTION)
    z = zonal[keep].assign(time=lambda d: pd.to_datetime(d["time"]))
    wide = z.pivot_table(index=["region", "time"], columns="variable", values="mean")
    wide = wide.rename(columns=names).reindex(columns=list(dict.fromkeys(names.values())))
    times = pd.DatetimeIndex(comp.time.values)
    poy = pd.Series(np.asarray(comp["period_of_year"].values), times)
    end = pd.Series(np.asarray(comp["period_end"].values), times)
    start = pd.Timestamp(ref.attrs.get("reference_start", times.min()))
    stop = pd.Timestamp(ref.attrs.get("reference_end", times.max()))
    out = {}
    for region in sorted(z["region"].unique(), key=str):
        df = wide.loc[region].reindex(times)
        df["end"] = end
        in_ref = df["value"][(times >= start) & (times <= stop)]
        clim = in_ref.groupby(poy[in_ref.index]).agg(["mean", "std", "min", "max"])
        for s in _STATS:
            df[f"ref_{s}"] = clim[s].reindex(poy.values).values
        out[str(region)] = df
    return out


def _ranking(series: dict[str, pd.DataFrame], t: pd.Timestamp) -> pd.DataFrame:
    """One row per region at period `t`, most severe first (mean VCI, then z-score)."""
    cols = list(_TABLE)
    rows = [df.reindex([t])[cols].iloc[0].rename(name) for name, df in series.items()]
    table = pd.DataFrame(rows, columns=cols).astype("float64")
    table["region"] = table.index.astype(str)
    table = table.sort_values(["vci", "zscore", "region"], na_position="last")
    return table.dropna(axis="columns", how="all").reset_index(drop=True)


def _is_drought(df: pd.DataFrame) -> np.ndarray:
    """Periods where `SHADE_SHARE` of the classed area is moderate or worse (the classes'
    own significance rule); mean VCI < 30 where no share is known."""
    share = df["share"].to_numpy(dtype=float) if "share" in df else np.full(len(df), np.nan)
    vci = df["vci"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.where(np.isfinite(share), share >= SHADE_SHARE, vci < 30))


def _crs_axes(da: xr.DataArray) -> tuple[str, float, str]:
    """(CRS name, divisor, unit) for the map axes."""
    import pyproj
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    crs = da.rio.crs
    if crs is None:
        return "unknown CRS", 1.0, "m"
    p = pyproj.CRS.from_user_input(crs.to_wkt())
    if p.is_projected and p.axis_info[0].unit_name in ("metre", "meter"):
        return p.name, 1000.0, "km"
    return p.name, 1.0, p.axis_info[0].unit_name if p.axis_info else ""


def _extent(
    da: xr.DataArray, scale: float
) -> tuple[tuple[float, float, float, float], Literal["upper", "lower"]]:
    x, y = da["x"].to_numpy(), da["y"].to_numpy()
    dx = float(x[1] - x[0]) if x.size > 1 else 1.0
    dy = float(y[1] - y[0]) if y.size > 1 else -1.0
    ys = [float(y[0] - dy / 2), float(y[-1] + dy / 2)]
    left, right = float(x[0] - dx / 2) / scale, float(x[-1] + dx / 2) / scale
    return (left, right, min(ys) / scale, max(ys) / scale), "upper" if dy < 0 else "lower"


def _figure(size: tuple[float, float]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _map(da: xr.DataArray, title: str, cmap: Any, **kw: Any) -> Any:
    """Save one map in map coordinates (CRS name in the title); returns its axes."""
    name, scale, unit = _crs_axes(da)
    extent, origin = _extent(da, scale)
    fig = _figure((6.4, 5.2))
    ax = fig.add_subplot()
    label = kw.pop("colorbar", None)
    data = np.ma.masked_invalid(da.to_numpy().astype("float64"))
    cmap = cmap.with_extremes(bad=NODATA_COLOUR)
    im = ax.imshow(data, extent=extent, origin=origin, interpolation="nearest", cmap=cmap, **kw)
    ax.set(title=f"{title}\n{name}", xlabel=f"x ({unit})", ylabel=f"y ({unit})", aspect="equal")
    ax.ticklabel_format(useOffset=False, style="plain")
    if label is not None:
        fig.colorbar(im, ax=ax, shrink=0.85, label=label)
    return fig, ax


def _maps(folder: Path, comp_t: xr.Dataset, ind_t: xr.Dataset, var: str) -> list[_Image]:
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    day = pd.Timestamp(comp_t["time"].values).date()
    cls, anom, count = dask.compute(
        ind_t[f"{var}_drought_class"], ind_t[f"{var}_anomaly"], comp_t[f"{var}_count"]
    )
    codes = list(CLASS_COLOURS)
    cmap = ListedColormap([c for _, c in CLASS_COLOURS.values()])
    norm = BoundaryNorm(np.arange(len(codes) + 1) - 0.5, cmap.N)
    # colour index per code (−2 first); no data (−1) stays masked, drawn grey
    known = cls.notnull() & (cls != -1)  # a store decodes its −1 fill value as NaN
    index = xr.apply_ufunc(np.searchsorted, codes, cls.where(known, codes[0]))
    title = f"Drought class ({var} VCI), {day}"
    fig, ax = _map(index.where(known), title, cmap, norm=norm)
    handles = [Patch(facecolor=c, edgecolor="#444", label=n) for n, c in CLASS_COLOURS.values()]
    handles.append(Patch(facecolor=NODATA_COLOUR, edgecolor="#444", label="no data"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    fig.savefig(folder / "drought_class.png", dpi=DPI)
    lim = float(np.nanmax(np.abs(anom.to_numpy()))) if anom.notnull().any() else 0.0
    lim = lim if lim > 0 else 1e-3  # symmetric limits: 0 is the middle of the colour bar
    label = f"{var} − reference mean"
    fig, _ = _map(
        anom, f"{var} anomaly, {day}", colormaps["BrBG"], colorbar=label, vmin=-lim, vmax=lim
    )
    fig.savefig(folder / "anomaly.png", dpi=DPI)
    fig, _ = _map(
        count.where(count >= 0),
        f"Valid observations, {day}",
        colormaps["viridis"],
        vmin=0,
        colorbar="observations in the period",
    )
    fig.savefig(folder / "count.png", dpi=DPI)
    return [
        _Image("drought_class.png", f"Map of {var} drought classes on {day}",
               "Drought class from VCI, given only for a significant departure: none, mild, "
               "moderate, severe, extreme; not monitorable: the reference varies no more "
               "than the pixel's noise; grey: no data."),
        _Image("anomaly.png", f"Map of the {var} anomaly on {day}",
               "Anomaly: value − reference mean of the same period of year; grey: no data."),
        _Image("count.png", f"Map of valid observations per pixel on {day}",
               "Valid (cloud-free) observations behind each composite pixel."),
    ]  # fmt: skip


@dataclass(frozen=True)
class _Switch:
    day: pd.Timestamp
    before: str
    after: str


def _switches(comp: xr.Dataset) -> list[_Switch]:
    """Where a continuity series (`sensor`, `lst_sensor` coordinates per period) changes
    sensor."""
    out = []
    for coord, what in (("sensor", ""), ("lst_sensor", "LST ")):
        if coord not in comp.coords or comp[coord].dims != ("time",):
            continue
        names = np.asarray(comp[coord].values).astype(str)
        last = ""
        for t, name in zip(pd.DatetimeIndex(comp["time"].values), names, strict=True):
            if not name:  # a period without scenes continues the era before it
                continue
            if last and name != last and "+" not in name:
                out.append(_Switch(t, f"{what}{last}", name))
            if "+" not in name:
                last = name
    return sorted(out, key=lambda sw: sw.day)


def _series_plot(
    folder: Path, name: str, df: pd.DataFrame, var: str, i: int, switches: list[_Switch]
) -> _Image:
    start = pd.DatetimeIndex(df.index)
    end = pd.DatetimeIndex(df["end"]) + pd.Timedelta(days=1)
    mid = start + (end - start) / 2
    fig = _figure((11.0, 3.6))
    ax = fig.add_subplot()
    lo, hi = df["ref_mean"] - df["ref_std"], df["ref_mean"] + df["ref_std"]
    ax.fill_between(mid, df["ref_min"], df["ref_max"], color="#cfe3cf", label="reference min–max")
    ax.fill_between(mid, lo, hi, color="#8fbf8f", label="reference mean ± std")
    ax.plot(mid, df["ref_mean"], color="#2e6b2e", lw=1, ls="--", label="reference mean")
    ax.plot(mid, df["value"], color="#1b1b1b", lw=1.4, marker=".", ms=3, label=var)
    drought = _is_drought(df)
    label = f"drought (≥ {SHADE_SHARE:.0%} of the area moderate or worse)"
    for j in np.flatnonzero(drought & ~np.r_[False, drought[:-1]]):  # run starts
        k = j
        while k + 1 < drought.size and drought[k + 1]:
            k += 1
        ax.axvspan(start[j], end[k], color="#e3261b", alpha=0.18, lw=0, label=label)
        label = "_nolegend_"
    for sw in switches:
        ax.axvline(sw.day, color="#3b4cc0", lw=1.2, ls=":",
                   label=f"sensor switch {sw.before} → {sw.after}")  # fmt: skip
    ax.set_title(f"{var} — {name}", fontsize=11)
    ax.set_ylabel(var)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.grid(alpha=0.3)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "region"
    file = f"series_{i:02d}_{slug}.png"
    fig.savefig(folder / file, dpi=DPI)
    return _Image(
        file,
        f"Time series of {var} in {name} against its reference envelope",
        f"{name}: {var} per period with the reference of its period of year; "
        "drought periods shaded.",
    )


def _alerts_html(alerts: pd.DataFrame | None) -> str:
    """The alerts section, first on the page: ongoing alerts, then those that ended."""
    if alerts is None:
        return ""
    e = html.escape

    def rows(df: pd.DataFrame, ongoing: bool) -> str:
        return "\n".join(
            f'<tr data-region="{e(str(r.region))}" data-ongoing="{str(ongoing).lower()}">'
            f"<td>{e(str(r.region))}</td><td>{e(str(r.rule))}</td><td>{e(str(r.variable))}</td>"
            f"<td>{pd.Timestamp(r.start).date()}</td><td>{pd.Timestamp(r.end).date()}</td>"
            f"<td>{int(r.periods)}</td><td>{_fmt(float(r.peak), '.3g')}</td></tr>"
            for r in df.itertuples(index=False)
        )

    on = alerts[alerts["ongoing"].astype(bool)].sort_values(["rule", "region"])
    ended = alerts[~alerts["ongoing"].astype(bool)].sort_values("end", ascending=False)
    head = (
        "<thead><tr><th>region</th><th>rule</th><th>variable</th><th>from</th><th>to</th>"
        "<th>periods</th><th>peak</th></tr></thead>"
    )
    now = (
        f'<table id="alerts">{head}<tbody>\n{rows(on, True)}\n</tbody></table>'
        if len(on) else '<p id="alerts">No region is on alert.</p>'
    )  # fmt: skip
    past = (
        f'<h3>Ended</h3><table id="ended-alerts">{head}<tbody>\n{rows(ended, False)}\n'
        "</tbody></table>"
        if len(ended) else ""
    )  # fmt: skip
    return f"<h2>Alerts ({len(on)} ongoing)</h2>\n{now}\n{past}"


def _fmt(v: float, spec: str) -> str:
    return "–" if pd.isna(v) else format(v, spec)


def _html(
    title: str,
    var: str,
    comp_t: xr.Dataset,
    t: pd.Timestamp,
    images: list[_Image],
    table: pd.DataFrame,
    switches: list[_Switch],
    alerts: pd.DataFrame | None = None,
) -> str:
    e = html.escape
    end = pd.Timestamp(comp_t["period_end"].values).date()
    poy = int(comp_t["period_of_year"].values)
    period = f"{t.date()} – {end} (period of year {poy})"
    if "provisional" in comp_t.coords and bool(comp_t["provisional"].values):
        period += ", provisional: later scenes may still change it"
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    sensors = "\n".join(
        f'<p class="switch" data-switch="{sw.day.date()}">Sensor switch on {sw.day.date()}: '
        f"{e(sw.before)} → {e(sw.after)} (the newer sensor calibrated onto the older one; "
        "dotted line in the time series)</p>"
        for sw in switches
    )
    cols = [c for c in _TABLE if c in table.columns]
    head = "".join(f"<th>{e(_TABLE[c][0])}</th>" for c in cols)
    rows = "\n".join(
        f'<tr data-region="{e(r.region)}"><td>{n}</td><td>{e(r.region)}</td>'
        + "".join(f"<td>{_fmt(getattr(r, c), _TABLE[c][1])}</td>" for c in cols)
        + "</tr>"
        for n, r in enumerate(table.itertuples(index=False), 1)
    )

    def fig(im: _Image) -> str:
        return (
            f'<figure><img src="{e(im.file)}" alt="{e(im.alt)}">'
            f"<figcaption>{e(im.caption)}</figcaption></figure>"
        )

    maps = "\n".join(fig(im) for im in images[:3])
    plots = "\n".join(fig(im) for im in images[3:])
    listing = "\n".join(
        f'<li><a href="{e(im.file)}">{e(im.file)}</a> — {e(im.alt)}</li>' for im in images
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>{_CSS}</style></head>
<body data-images-loaded="pending">
<h1>{e(title)}</h1>
<p class="meta">Generated {e(now)} · variable <b>{e(var)}</b> · period shown: {e(period)}</p>
{sensors}
{_alerts_html(alerts)}
<h2>Latest period</h2>
<div class="maps">
{maps}
</div>
<h2>Regions ranked by drought severity ({e(str(t.date()))})</h2>
<table id="ranking"><thead><tr><th>rank</th><th>region</th>{head}</tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>Time series</h2>
{plots}
<h2>Images</h2>
<ul>
{listing}
</ul>
{_SCRIPT}
</body></html>
"""
