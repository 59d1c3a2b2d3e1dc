"""Benchmark vegcube's chain against a plain odc-stac + xarray script doing the same job.

The job: Sentinel-2 L2A scenes of a generated demo archive → SCL/nodata-masked NDVI →
dekad median composites (Zarr) → per period-of-year reference (mean, std, min, max) →
VCI and z-score (Zarr). Each contender runs in a fresh subprocess (the script re-invokes
itself with ``--only``) so that its peak RSS is its own; wall time is measured inside the
child around the job (imports excluded). Both outputs are then compared pixel by pixel.

A third contender, ``decode``, reads every pixel of the same assets (red, nir, SCL of the
same scenes) with rasterio on all cores and does nothing else: the speed of the bytes.
``--workers N`` runs vegcube on a ``dask.distributed`` LocalCluster of N worker processes of
one thread each (scaling). ``--shape`` picks one of the issue's three shapes.

Run from the repository root::

    .venv/bin/python benchmarks/bench_chain.py [--shape small|medium|wide] [--size 480]
        [--revisit 5] [--years 2019 2023] [--dilate 0] [--workers N] [--repeat 1] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / ".cache"
CONTENDERS = ("vegcube", "baseline", "decode", "floor")
#: the shapes of the engine issue: (side px, first year, last year, dilation m)
SHAPES = {
    "small": (120, 2018, 2024, 60),  # a small area, a long series
    "medium": (480, 2019, 2023, 0),
    "wide": (2000, 2023, 2023, 0),  # a wide area, one year
}
SCL_INVALID = [0, 1, 3, 8, 9, 10]
MAX_CLOUD_COVER = 90.0
MIN_REFERENCE_YEARS = 3
CHUNK = 1024
#: what is compared: (Zarr store, variable, tolerance on |a − b| / max(1, |b|)); relative beyond
#: 1 because z-scores over near-constant references are large and float32 holds ~7 digits
COMPARED = (
    ("composites", "ndvi", 1e-4),
    # VCI is in percent (0–100): a last-bit difference of a median over a tiny max − min
    # range shows as ~1e-3 points
    ("indicators", "ndvi_vci", 1e-2),
    # vegcube stores the reference in float32 (as products do), the baseline keeps it in
    # memory in float64: x − mean then differs by ~1e-8, which a near-zero std magnifies
    ("indicators", "ndvi_zscore", 5e-3),
)

Job = dict[str, Any]


# --------------------------------------------------------------------------- the job


def make_job(args: argparse.Namespace) -> Job:
    """Generate (or reuse) the demo archive and describe the job both contenders run."""
    from vegcube.testing.demo import generate_archive

    start, end = f"{args.years[0]}-01-01", f"{args.years[1]}-12-31"
    root = Path(args.cache) / f"archive-s{args.size}-r{args.revisit}-{start}-{end}"

    def progress(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            print(f"  archive: {done}/{total} scenes", file=sys.stderr, flush=True)

    t = time.perf_counter()
    archive = generate_archive(
        root, size=args.size, revisit_days=args.revisit, start=start, end=end, progress=progress
    )
    print(
        f"archive {root} ({archive.n_items} scenes, {args.size}×{args.size} px) ready in "
        f"{time.perf_counter() - t:.1f} s",
        file=sys.stderr,
    )
    ref_start = max(archive.reference_start, start)
    ref_end = min(archive.reference_end, end)
    n_ref = int(ref_end[:4]) - int(ref_start[:4]) + 1
    min_years = MIN_REFERENCE_YEARS
    if n_ref < MIN_REFERENCE_YEARS:  # a short series (memory, wide shape): the whole series
        ref_start, ref_end, min_years = start, end, 1
        print(f"reference {start}..{end} with min_years 1: a timing run", file=sys.stderr)
    recipe = archive.recipe("OUT")
    recipe.update(
        time={"start": start, "end": end},
        mask={"sentinel2_scl": SCL_INVALID, "dilate_m": args.dilate},
        indices=["ndvi"],
        composite={"period": "dekad", "reducer": "median"},
        # the textbook per-period statistics the plain script computes (no pooling)
        reference={"start": ref_start, "end": ref_end, "min_years": min_years, "pool": 0},
        indicators=["vci", "zscore"],
        output={"dir": "OUT", "formats": ["zarr"]},
    )
    recipe["source"]["max_cloud_cover"] = MAX_CLOUD_COVER
    recipe["dask"] = {"scheduler": None, "chunk": CHUNK}
    return {
        "archive": str(root),
        "n_items": archive.n_items,
        "catalog": str(archive.catalog),
        "collection": archive.collection,
        "bbox": list(archive.bbox),
        "crs": f"EPSG:{archive.epsg}",
        "resolution": archive.resolution,
        "start": start,
        "end": end,
        "reference_start": ref_start,
        "reference_end": ref_end,
        "max_cloud_cover": MAX_CLOUD_COVER,
        "dilate_m": args.dilate,
        "min_years": min_years,
        "workers": args.workers,
        "recipe": recipe,
    }


def warm_cache(folder: Path) -> int:
    """Read every file of the archive once so that no contender pays for cold disk reads."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 22):
                    total += len(chunk)
    return total


# --------------------------------------------------------------------------- contenders


def run_vegcube(job: Job, out: Path) -> dict[str, float]:
    """vegcube.run on the recipe; returns vegcube's own stage timings (run.json)."""
    import vegcube

    recipe = json.loads(json.dumps(job["recipe"]))
    recipe["output"]["dir"] = str(out)
    if job.get("workers"):
        from distributed import LocalCluster

        n = int(job["workers"])
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True) as cluster:
            recipe["dask"]["scheduler"] = cluster.scheduler_address
            t = time.perf_counter()
            vegcube.run(recipe)
            job["_cluster_seconds"] = time.perf_counter() - t
    else:
        vegcube.run(recipe)
    timings = json.loads((out / "run.json").read_text())["timings_s"]
    return {k: float(v) for k, v in timings.items()}


def run_baseline(job: Job, out: Path) -> dict[str, float]:
    """The same job written with pystac + odc-stac + xarray only; returns stage timings."""
    import datetime as dt

    import numpy as np
    import pandas as pd
    import pystac
    import xarray as xr
    from odc.stac import load
    from shapely.geometry import box, shape

    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    # 1. scenes: date range (inclusive end), cloud cover and footprint, like the recipe
    t_start = dt.datetime.fromisoformat(job["start"]).replace(tzinfo=dt.timezone.utc)
    t_end = dt.datetime.fromisoformat(job["end"]).replace(tzinfo=dt.timezone.utc)
    t_end += dt.timedelta(days=1)
    window = box(*job["bbox"])
    catalog = pystac.Catalog.from_file(job["catalog"])
    items = sorted(
        (
            it
            for it in catalog.get_items(recursive=True)
            if it.datetime is not None
            and t_start <= it.datetime < t_end
            and it.properties.get("eo:cloud_cover", 0) <= job["max_cloud_cover"]
            and shape(it.geometry).intersects(window)
        ),
        key=lambda it: it.datetime,
    )
    timings["search"] = time.perf_counter() - t0

    # 2. lazy cube, one time step per solar day
    t = time.perf_counter()
    ds = load(
        items,
        bands=["red", "nir", "scl"],
        crs=job["crs"],
        resolution=job["resolution"],
        bbox=job["bbox"],
        groupby="solar_day",
        chunks={"time": 1, "x": CHUNK, "y": CHUNK},
    )
    lon = (job["bbox"][0] + job["bbox"][2]) / 2
    to_solar = pd.Timedelta(hours=lon / 15)
    days = (pd.DatetimeIndex(ds.time.values) + to_solar).normalize()
    first_of_day: dict[pd.Timestamp, pystac.Item] = {}
    for it in items:
        day = (pd.Timestamp(it.datetime).tz_convert(None) + to_solar).normalize()
        first_of_day.setdefault(day, it)

    def scale_offset(asset: str) -> tuple[xr.DataArray, xr.DataArray]:
        """Per time step scale and offset from each item's `raster:bands`."""
        rb = [first_of_day[d].assets[asset].extra_fields["raster:bands"][0] for d in days]
        scale = np.array([b.get("scale", 1.0) for b in rb], dtype="float32")
        offset = np.array([b.get("offset", 0.0) for b in rb], dtype="float32")
        return xr.DataArray(scale, dims="time"), xr.DataArray(offset, dims="time")

    # 3. mask (clouds and shadows grown by a disk of dilate_m), reflectance, NDVI
    clear = ~ds.scl.isin(SCL_INVALID)
    radius = job.get("dilate_m", 0) / job["resolution"]
    if radius >= 1:
        from scipy import ndimage

        r = int(radius)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        disk = ((yy**2 + xx**2) <= radius**2)[None]
        cloud = ds.scl.isin([3, 8, 9, 10]).data
        grown = cloud.map_overlap(
            lambda b: ndimage.binary_dilation(b, structure=disk),
            depth={1: r, 2: r},
            boundary=False,
            dtype=bool,
        )
        clear = ~ds.scl.isin([0, 1]) & ~xr.DataArray(grown, dims=ds.scl.dims, coords=ds.scl.coords)

    def reflectance(band: str) -> xr.DataArray:
        da = ds[band]
        scale, offset = scale_offset(band)
        valid = clear & (da != da.attrs.get("nodata", 0))
        return (da.where(valid) * scale + offset).astype("float32")

    red, nir = reflectance("red"), reflectance("nir")
    ndvi = ((nir - red) / (nir + red)).astype("float32").rename("ndvi")

    # 4. dekad median composites; one chunk per dekad so each median is computed in place
    third = np.select([days.day <= 10, days.day <= 20], [1, 11], 21)
    dekad = pd.to_datetime({"year": days.year, "month": days.month, "day": third})
    sizes = tuple(pd.Series(dekad).groupby(dekad.values, sort=False).size())
    ndvi = ndvi.chunk(time=sizes).assign_coords(dekad=("time", dekad.values))
    comp = ndvi.groupby("dekad").median("time").rename(dekad="time")
    poy = (comp.time.dt.month.values - 1) * 3 + (comp.time.dt.day.values - 1) // 10 + 1
    comp = comp.assign_coords(period_of_year=("time", poy.astype("int16")))
    comp.to_dataset().to_zarr(out / "composites.zarr", mode="w")
    timings["composites"] = time.perf_counter() - t

    # 5. reference per period of year (kept lazy: one graph from Zarr to Zarr), then VCI and
    #    z-score, NaN where fewer than MIN_REFERENCE_YEARS years or a degenerate reference
    t = time.perf_counter()
    comp = xr.open_zarr(out / "composites.zarr")
    comp = comp.assign_coords(period_of_year=comp.period_of_year.load())
    x = comp.ndvi
    ref = x.sel(time=slice(job["reference_start"], job["reference_end"])).astype("float64")
    grouped = ref.groupby("period_of_year")
    stats = xr.Dataset(
        {
            "mean": grouped.mean("time"),
            "std": grouped.std("time", ddof=1),
            "min": grouped.min("time"),
            "max": grouped.max("time"),
            "count": grouped.count("time"),
        }
    )
    r = stats.sel(period_of_year=comp.period_of_year)
    enough = r["count"] >= job.get("min_years", MIN_REFERENCE_YEARS)
    span = (r["max"] - r["min"]).where(r["max"] > r["min"])
    vci = (100 * (x - r["min"]) / span).clip(0, 100).where(enough)
    zscore = ((x - r["mean"]) / r["std"].where(r["std"] > 0)).where(enough)
    indicators = xr.Dataset(
        {"ndvi_vci": vci.astype("float32"), "ndvi_zscore": zscore.astype("float32")}
    ).drop_vars("period_of_year")
    # vectorised indexing leaves uneven time chunks, which Zarr refuses
    indicators = indicators.chunk(time=x.chunks[0][0])
    indicators.to_zarr(out / "indicators.zarr", mode="w")
    timings["reference+indicators"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return timings


def run_decode(job: Job, out: Path) -> dict[str, float]:
    """Read every pixel of the red, nir and SCL assets of the job's scenes with rasterio,
    on all cores (one file per task): what any chain must at least pay."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    import pystac
    import rasterio

    t0 = time.perf_counter()
    t_start = dt.datetime.fromisoformat(job["start"]).replace(tzinfo=dt.timezone.utc)
    t_end = dt.datetime.fromisoformat(job["end"]).replace(tzinfo=dt.timezone.utc)
    t_end += dt.timedelta(days=1)
    catalog = pystac.Catalog.from_file(job["catalog"])
    hrefs = [
        it.assets[band].get_absolute_href()
        for it in catalog.get_items(recursive=True)
        if it.datetime is not None
        and t_start <= it.datetime < t_end
        and it.properties.get("eo:cloud_cover", 0) <= job["max_cloud_cover"]
        for band in ("red", "nir", "scl")
    ]
    timings = {"search": time.perf_counter() - t0}
    t = time.perf_counter()

    def read(href: str | None) -> int:
        with rasterio.open(str(href)) as src:
            return int(src.read(1).size)

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        pixels = sum(pool.map(read, hrefs))
    timings["decode"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    timings["mpx"] = pixels / 1e6
    return timings


def run_floor(job: Job, out: Path) -> dict[str, float]:
    """The job's arithmetic alone, in numpy on all cores, on the assets already read into
    memory (not timed): DN → reflectance, SCL mask (20 m → 10 m), NDVI, dekad medians, the
    reference (mean, std, min, max per dekad of the year) and VCI, z-score. No I/O, no
    dilation, no task system: what the computation itself costs on this machine."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pandas as pd
    import pystac
    import rasterio

    t_start = dt.datetime.fromisoformat(job["start"]).replace(tzinfo=dt.timezone.utc)
    t_end = dt.datetime.fromisoformat(job["end"]).replace(tzinfo=dt.timezone.utc)
    t_end += dt.timedelta(days=1)
    items = sorted(
        (
            it
            for it in pystac.Catalog.from_file(job["catalog"]).get_items(recursive=True)
            if it.datetime is not None
            and t_start <= it.datetime < t_end
            and it.properties.get("eo:cloud_cover", 0) <= job["max_cloud_cover"]
        ),
        key=lambda it: it.datetime,
    )

    def read(it: pystac.Item) -> tuple[np.ndarray, ...]:
        out = []
        for band in ("red", "nir", "scl"):
            with rasterio.open(it.assets[band].get_absolute_href()) as src:
                out.append(src.read(1))
        return tuple(out)

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        arrays = list(pool.map(read, items))
    rb = [it.assets["red"].extra_fields.get("raster:bands", [{}])[0] for it in items]
    scale = np.array([b.get("scale", 1e-4) for b in rb], "float32")
    offset = np.array([b.get("offset", 0.0) for b in rb], "float32")
    days = pd.DatetimeIndex([pd.Timestamp(it.datetime).tz_convert(None) for it in items])
    dekad = days.year * 36 + (days.month - 1) * 3 + np.minimum((days.day - 1) // 10, 2)
    keys = np.unique(dekad)
    rows = arrays[0][0].shape[0]
    cuts = np.linspace(0, rows, (os.cpu_count() or 1) * 4 + 1).astype(int)
    invalid = np.array(SCL_INVALID)

    def strip(a: int, b: int) -> None:
        comps = []
        for k in keys:
            ndvi = []
            for i in np.flatnonzero(dekad == k):
                red, nir, scl = arrays[i]
                bad = np.isin(np.repeat(np.repeat(scl, 2, 0), 2, 1)[a:b], invalid)
                r = red[a:b] * scale[i] + offset[i]
                n = nir[a:b] * scale[i] + offset[i]
                v = (n - r) / (n + r)
                v[bad | (red[a:b] == 0)] = np.nan
                ndvi.append(v)
            stack = np.sort(np.stack(ndvi), axis=0)  # NaN sort last
            n = np.isfinite(stack).sum(0)
            lo = np.take_along_axis(stack, np.maximum(n - 1, 0)[None] // 2, 0)[0]
            hi = np.take_along_axis(stack, (n // 2)[None], 0)[0] if len(ndvi) > 1 else lo
            comps.append(np.where(n > 0, (lo + hi) / 2, np.nan))
        cube = np.stack(comps)  # (periods, rows, x)
        poy = keys % 36
        for p in np.unique(poy):
            ref = cube[(poy == p)]
            lo, hi = np.nanmin(ref, 0), np.nanmax(ref, 0)
            mean, std = np.nanmean(ref, 0), np.nanstd(ref, 0, ddof=1)
            _ = (ref - lo) / (hi - lo), (ref - mean) / std

    t = time.perf_counter()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(strip, cuts[:-1], cuts[1:]))
    timings = {"arithmetic": time.perf_counter() - t}
    timings["total"] = timings["arithmetic"]
    return timings


RUNNERS: dict[str, Callable[[Job, Path], dict[str, float]]] = {
    "vegcube": run_vegcube,
    "baseline": run_baseline,
    "decode": run_decode,
    "floor": run_floor,
}


def child(name: str, job_file: Path, out: Path, result_file: Path) -> None:
    """Run one contender in this (fresh) process; write seconds, peak RSS and stages."""
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # all-NaN slices, 0/0
    if name == "vegcube":
        import vegcube
        import vegcube.routine
        import vegcube.runner

        print(f"vegcube from {Path(vegcube.__file__).parent}", file=sys.stderr)
    else:
        import odc.stac  # noqa: F401
        import pystac  # noqa: F401
        import rasterio  # noqa: F401
        import xarray  # noqa: F401
    job = json.loads(job_file.read_text())
    t = time.perf_counter()
    stages = RUNNERS[name](job, out)
    seconds = stages["total"] if name == "floor" else time.perf_counter() - t  # reads untimed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result = {"seconds": seconds, "peak_rss_mib": peak, "stages": stages}
    result_file.write_text(json.dumps(result))


def spawn(name: str, job_file: Path, out: Path, vegcube_src: Path | None = None) -> dict[str, Any]:
    """Run a contender in a fresh interpreter; raise if it fails.

    ``vegcube_src`` (a folder holding the ``vegcube`` package) is put first on the child's
    ``PYTHONPATH`` to benchmark another checkout than the installed one.
    """
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    result_file = out.with_name(out.name + ".result.json")
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--only", name, "--job", str(job_file)]
    cmd += ["--out", str(out), "--result", str(result_file)]
    env = dict(os.environ)
    if vegcube_src is not None and name == "vegcube":
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(vegcube_src).resolve()), env.get("PYTHONPATH")) if p
        )
    proc = subprocess.run(cmd, check=False, env=env)
    if proc.returncode != 0 or not result_file.is_file():
        raise SystemExit(f"{name} failed (exit code {proc.returncode}); outputs in {out}")
    return json.loads(result_file.read_text())


# --------------------------------------------------------------------------- agreement


def compare(veg: Path, base: Path) -> tuple[list[str], list[str]]:
    """Compare both outputs on the pixels finite in both; returns (report lines, problems)."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    lines: list[str] = []
    problems: list[str] = []
    for store, var, tol in COMPARED:
        a = xr.open_zarr(veg / f"{store}.zarr")[var]
        b = xr.open_zarr(base / f"{store}.zarr")[var]
        grid = [
            d
            for d in ("y", "x")
            if a.sizes[d] != b.sizes[d] or not np.allclose(a[d].values, b[d].values)
        ]
        if grid:
            problems.append(f"{store}/{var}: the {'/'.join(grid)} coordinates differ")
            continue
        ta, tb = pd.DatetimeIndex(a.time.values), pd.DatetimeIndex(b.time.values)
        common = ta.intersection(tb)
        if len(tb.difference(ta)):
            problems.append(f"{store}/{var}: periods only in the baseline: {tb.difference(ta)}")
        extra = a.sel(time=ta.difference(tb))
        if extra.sizes["time"] and bool(extra.notnull().any()):
            problems.append(f"{store}/{var}: vegcube has values in periods without scenes")
        va = a.sel(time=common).values
        vb = b.sel(time=common).values
        fa, fb = np.isfinite(va), np.isfinite(vb)
        both = fa & fb
        n_both = int(both.sum())
        err = np.abs(va[both] - vb[both]) / np.maximum(1.0, np.abs(vb[both]))
        diff = float(err.max()) if n_both else float("nan")
        only_veg, only_base = int((fa & ~fb).sum()), int((fb & ~fa).sum())
        lines.append(
            f"{store}/{var}: {n_both} pixels compared over {len(common)} periods, "
            f"max error {diff:.2e} (tol {tol:g}); finite only in vegcube {only_veg}, "
            f"only in baseline {only_base}"
        )
        if n_both == 0 and (only_veg or only_base):
            problems.append(f"{store}/{var}: no pixel is finite in both outputs")
        elif n_both == 0:  # a one-year reference (timing run): VCI and z-score are undefined
            lines[-1] += " (undefined in both: nothing to compare)"
        elif not diff <= tol:
            bad = int((err > tol).sum())
            problems.append(f"{store}/{var}: {bad} pixels differ by more than {tol:g}")
        if only_veg:
            problems.append(f"{store}/{var}: {only_veg} pixels finite in vegcube, NaN in baseline")
        if only_base > 0.05 * max(n_both, 1):
            problems.append(f"{store}/{var}: {only_base} pixels finite only in the baseline")
    return lines, problems


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=SHAPES, help="a preset: size, years and dilation")
    p.add_argument("--size", type=int, default=480, help="tile side in 10 m pixels (480)")
    p.add_argument("--dilate", type=float, default=0, help="cloud dilation in metres (0)")
    p.add_argument(
        "--workers", type=int, default=0, help="vegcube on a LocalCluster of N processes"
    )
    p.add_argument("--revisit", type=int, default=5, help="days between scenes (5)")
    p.add_argument(
        "--years",
        type=int,
        nargs=2,
        default=(2019, 2023),
        metavar=("FIRST", "LAST"),
        help="first and last year of the archive and the job (2019 2023)",
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per contender; best time kept")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="archive and run folder")
    p.add_argument("--check", action="store_true", help="exit 1 if vegcube is slower")
    p.add_argument(
        "--vegcube-src",
        type=Path,
        default=None,
        help="folder holding the vegcube package to benchmark (default: the installed one)",
    )
    p.add_argument("--no-warm", action="store_true", help="do not pre-read the archive")
    p.add_argument(
        "--contenders",
        nargs="+",
        choices=CONTENDERS,
        default=list(CONTENDERS),
        help="which to run (default: all); without baseline and decode, no ratios",
    )
    p.add_argument("--only", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.shape:
        args.size, first, last, args.dilate = SHAPES[args.shape]
        args.years = (first, last)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    if args.years[1] < args.years[0]:
        p.error("--years: LAST must not be before FIRST")
    return args


def main(argv: list[str] | None = None) -> int:
    """Prepare the archive, run each contender ``--repeat`` times, compare, print the table."""
    args = parse_args(argv)
    if args.only:
        child(args.only, args.job, args.out, args.result)
        return 0

    job = make_job(args)
    runs = Path(args.cache) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    job_file = runs / "job.json"
    job_file.write_text(json.dumps(job, indent=1))
    if not args.no_warm:
        n = warm_cache(Path(job["archive"]))
        print(f"page cache warmed: {n / 2**20:.0f} MiB read", file=sys.stderr)

    chosen = [c for c in CONTENDERS if c in args.contenders]
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in chosen}
    for i in range(args.repeat):
        order = chosen if i % 2 == 0 else chosen[::-1]
        for name in order:
            res = spawn(name, job_file, runs / name, args.vegcube_src)
            results[name].append(res)
            print(
                f"run {i + 1}/{args.repeat} {name}: {res['seconds']:.1f} s, "
                f"peak RSS {res['peak_rss_mib']:.0f} MiB",
                file=sys.stderr,
            )

    best = {c: min(results[c], key=lambda r: r["seconds"]) for c in chosen}
    peak = {c: max(r["peak_rss_mib"] for r in results[c]) for c in chosen}
    where = f"LocalCluster {args.workers}×1 processes" if args.workers else "threads"
    if set(chosen) != set(CONTENDERS):  # a partial run (e.g. scaling): times only
        for c in chosen:
            stages = ", ".join(f"{k} {v:.1f}" for k, v in best[c]["stages"].items())
            print(f"{c} on {where}: {best[c]['seconds']:.1f} s, {peak[c]:.0f} MiB; {stages}")
        return 0
    lines, problems = compare(runs / "vegcube", runs / "baseline")
    veg = best["vegcube"]["seconds"]
    vs_base, vs_decode = veg / best["baseline"]["seconds"], veg / best["decode"]["seconds"]
    floor = best["floor"]["seconds"]
    m_ratio = peak["vegcube"] / peak["baseline"]
    # the engine's targets: ≤ 0.5× the plain odc-stac script, ≤ 2× the raw decode
    verdict = "PASS" if vs_base <= 0.5 and vs_decode <= 2.0 else "FAIL"

    print(
        f"\njob: {job['n_items']} scenes, {args.size}×{args.size} px, revisit {args.revisit} d, "
        f"{job['start']}..{job['end']}, dilation {args.dilate:g} m, reference "
        f"{job['reference_start']}..{job['reference_end']}; best of {args.repeat}; "
        f"cpus {os.cpu_count()}; vegcube on {where}"
    )
    print(f"{'contender':<10} {'seconds':>9} {'peak RSS MiB':>13}   stages (s)")
    for c in CONTENDERS:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in best[c]["stages"].items())
        print(f"{c:<10} {best[c]['seconds']:>9.1f} {peak[c]:>13.0f}   {stages}")
    mpx = best["decode"]["stages"].get("mpx", 0.0)
    print(
        f"vegcube ÷ baseline {vs_base:.2f} (target ≤ 0.5), ÷ decode {vs_decode:.2f} "
        f"(target ≤ 2.0), RSS ÷ baseline {m_ratio:.2f}; {mpx / veg:.1f} Mpx/s of assets read "
        f"→ {verdict}"
    )
    print(
        f"the job's arithmetic alone (floor: numpy, data in memory, no I/O) is "
        f"{floor / best['decode']['seconds']:.2f}× decode; vegcube ÷ (decode + floor) "
        f"{veg / (best['decode']['seconds'] + floor):.2f}"
    )
    print("\nagreement:")
    for line in lines:
        print(f"  {line}")
    if problems:
        print("\nDISAGREEMENT between vegcube and the baseline:", file=sys.stderr)
        for prob in problems:
            print(f"  - {prob}", file=sys.stderr)
        return 2
    if args.check and verdict == "FAIL":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
