"""Years of periods → per period-of-year mean, std, min, max and count of years, and each
pixel's observation noise.

The spread statistics (std, min, max) can pool the neighbouring periods of the year (±`pool`):
each value's departure from its own period's mean is pooled, so the seasonal shape stays and
five reference years give fifteen departures (`pool` 1) instead of five. The noise is the
robust spread of second differences of consecutive observed periods (what one observation
scatters around a smooth curve), the floor under which a departure is not significant."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from .composite import PERIODS_PER_YEAR
from .errors import InputError

__all__ = [
    "STATS",
    "compute",
    "noise",
    "noise_of",
    "observed",
    "observed_name",
    "of_periods",
    "pooled",
    "statistics",
    "steps_of",
]

STATS = ("mean", "std", "min", "max", "count")
_Flags = TypeVar("_Flags", np.ndarray, xr.DataArray)
#: a reference task's working memory (bytes): years × periods of year × tile in float64
BUDGET = 128 * 2**20


def statistics(stack: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, sample std (ddof=1), min, max (float32) and count (int16) over axis 0 of
    `stack`, ignoring NaN; NaN where no value (std: where fewer than two)."""
    v = np.asarray(stack)
    out = _empty(v.shape[1:])
    _statistics_into(list(v), out)
    return out


def _empty(shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Uninitialised outputs of `statistics` of `shape`."""
    return {s: np.empty(shape, dtype="int16" if s == "count" else "float32") for s in STATS}


def _floats(layer: np.ndarray) -> np.ndarray:
    return layer if layer.dtype.kind == "f" else layer.astype("float64")


def _statistics_into(layers: Sequence[np.ndarray], out: dict[str, np.ndarray]) -> None:
    """`statistics` of the `layers` (the years, each of `out`'s shape) written into `out`:
    year after year into accumulators of one layer (the sums in float64, in the order of the
    years, as a reduction over axis 0 adds them), no copy of the years in a stack."""
    mean, std, lo, hi, count = (out[s] for s in STATS)
    layers = [_floats(v) for v in layers]
    if not layers:
        for a in (mean, std, lo, hi):
            a.fill(np.nan)
        count.fill(0)
        return
    if len(layers) == 1:  # one year: its value (NaN where none), no spread
        (v,) = layers
        np.copyto(mean, v, casting="same_kind")
        np.copyto(lo, v, casting="same_kind")
        np.copyto(hi, v, casting="same_kind")
        std.fill(np.nan)
        np.logical_not(np.isnan(v), out=count, casting="unsafe")
        return
    count.fill(0)
    # sums in float64: a float32 std of near-constant series loses digits z-scores need
    total, seen = _counted_mean(layers, count)
    with np.errstate(invalid="ignore", divide="ignore"):  # no value: NaN is the answer
        squares = np.zeros_like(total)
        dev = np.empty_like(total)
        for v, ok in zip(layers, seen, strict=True):
            np.subtract(v, total, out=dev)
            dev *= dev
            np.add(squares, dev, out=squares, where=ok)
        squares /= count - 1
        np.sqrt(squares, out=squares)
    squares[count < 2] = np.nan
    np.copyto(mean, total, casting="same_kind")
    np.copyto(std, squares, casting="same_kind")
    _extremes(layers, lo, hi)


def _extremes(layers: Sequence[np.ndarray], lo: np.ndarray, hi: np.ndarray) -> None:
    """The lowest and highest of `layers` (NaN ignored; NaN only where none) into lo, hi."""
    first, *rest = layers
    if not rest or first.dtype == lo.dtype:
        np.copyto(lo, first, casting="same_kind")
        np.copyto(hi, first, casting="same_kind")
        for v in rest:
            np.fmin(lo, v, out=lo)
            np.fmax(hi, v, out=hi)
        return
    a, b = first.copy(), first.copy()  # in the layers' type, then rounded once
    for v in rest:
        np.fmin(a, v, out=a)
        np.fmax(b, v, out=b)
    np.copyto(lo, a, casting="same_kind")
    np.copyto(hi, b, casting="same_kind")


def pooled(stack: np.ndarray, pool: int) -> dict[str, np.ndarray]:
    """`statistics` of the inner periods of `stack` (years, periods + 2·pool, y, x), the
    spread pooled over ±`pool` periods: mean and count of the period itself; std from the
    departures of every value in the window from its own period's mean (ddof 1 per period);
    min and max = mean + the window's lowest and highest departure. `pool` 0 is `statistics`."""
    v = np.asarray(stack)
    return _windowed([list(v[:, p]) for p in range(v.shape[1])], v.shape[2:], pool)


def _windowed(
    layers: Sequence[Sequence[np.ndarray]], shape: tuple[int, ...], pool: int
) -> dict[str, np.ndarray]:
    """`pooled` of periods given as their years' layers (`layers[p]`: period p's, each of
    `shape`; a period may have fewer years than another, none missing)."""
    inner = range(pool, len(layers) - pool)
    out = _empty((len(inner), *shape))
    if pool == 0:
        for k, p in enumerate(inner):
            _statistics_into(layers[p], {s: a[k] for s, a in out.items()})
        return out
    parts = [_departures(periods, shape) for periods in layers]
    for k, p in enumerate(inner):
        n, m = parts[p][0], parts[p][1]
        ss = np.zeros(shape, dtype="float64")
        df = np.zeros(shape, dtype="int32")
        dlo, dhi = parts[p][3].copy(), parts[p][4].copy()
        for w in range(p - pool, p + pool + 1):  # the window's periods
            _, _, sq, lo, hi = parts[w]
            ss += sq
            df += np.maximum(parts[w][0] - 1, 0)
            np.fmin(dlo, lo, out=dlo)
            np.fmax(dhi, hi, out=dhi)
        with np.errstate(invalid="ignore", divide="ignore"):
            ss /= df
            np.sqrt(ss, out=ss)
        ss[(df < 1) | (n == 0)] = np.nan
        np.copyto(out["mean"][k], m, casting="same_kind")
        np.copyto(out["std"][k], ss, casting="same_kind")
        dlo += m
        dhi += m
        np.copyto(out["min"][k], dlo, casting="same_kind")
        np.copyto(out["max"][k], dhi, casting="same_kind")
        out["count"][k] = n
    return out


def _counted_mean(
    layers: Sequence[np.ndarray], count: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The years `layers` counted into `count` (in place) and their mean in float64 (NaN
    where none), summed in the order of the years; and each year's mask of values."""
    total = np.zeros(count.shape, dtype="float64")
    seen = []
    for v in layers:
        ok = ~np.isnan(v)
        seen.append(ok)
        count += ok
        np.add(total, v, out=total, where=ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        total /= count
    return total, seen


def _departures(
    layers: Sequence[np.ndarray], shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A period's count of years, mean (float64), sum of squared departures from it, and
    lowest and highest departure (NaN where none), from its years' `layers`."""
    n = np.zeros(shape, dtype="int16")
    sq = np.zeros(shape, dtype="float64")
    lo = np.full(shape, np.nan)
    hi = np.full(shape, np.nan)
    layers = [_floats(v) for v in layers]
    m, seen = _counted_mean(layers, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = np.empty(shape, dtype="float64")
        for v, ok in zip(layers, seen, strict=True):
            np.subtract(v, m, out=dev)  # NaN where no value
            np.fmin(lo, dev, out=lo)
            np.fmax(hi, dev, out=hi)
            dev *= dev
            np.add(sq, dev, out=sq, where=ok)
    return n, m, sq, lo, hi


#: fewer second differences than this leave a pixel's noise unknown (NaN)
MIN_TRIPLES = 5
_ROWS = 64  # noise is computed in strips of rows (bounded memory on big tiles)


def noise(values: np.ndarray, observed: np.ndarray | None = None) -> np.ndarray:
    """Per pixel (y, x) observation noise of a regular series `values` (time, y, x):
    1.4826 · median |x[t] − (x[t−1] + x[t+1])/2| / √1.5 over the triples of consecutive
    periods all observed (`observed`, default: finite) — σ for white noise on a locally
    straight curve; NaN where fewer than `MIN_TRIPLES` triples."""
    out = np.full(values.shape[1:], np.nan, dtype="float32")
    if values.shape[0] < 3:
        return out
    for r in range(0, values.shape[1], _ROWS):
        v = np.asarray(values[:, r : r + _ROWS], dtype="float32")
        ok = np.isfinite(v) if observed is None else np.asarray(observed[:, r : r + _ROWS])
        lanes = np.empty((v[0].size, len(v)), dtype="float32")
        lanes[...] = np.where(ok, v, np.nan).reshape(len(v), -1).T
        out[r : r + _ROWS] = _sigma(lanes).reshape(v.shape[1:])
    return out


def _sigma(lanes: np.ndarray) -> np.ndarray:
    """`noise` of each pixel's series `lanes[i]` (a C-contiguous (pixels, time) float32
    array, NaN where not observed): each pixel's differences are sorted side by side."""
    n = lanes.shape[1] - 2
    # the second differences along the whole buffer (contiguous); the last two of each
    # pixel's row straddle the next pixel: NaN, sorted last with the unobserved ones
    d2 = np.empty_like(lanes)
    flat, d = lanes.reshape(-1), d2.reshape(-1)[:-2]
    with np.errstate(invalid="ignore"):  # inf − inf: NaN, as a triple not observed
        np.add(flat[:-2], flat[2:], out=d)
        d *= 0.5
        np.subtract(flat[1:-1], d, out=d)
    np.abs(d, out=d)  # NaN unless the triple is observed
    d2[:, n:] = np.nan
    d2.sort(axis=-1)
    k = lanes.shape[1] - np.isnan(d2).sum(axis=-1, keepdims=True)
    lo = np.take_along_axis(d2, np.maximum((k - 1) // 2, 0), axis=-1)[:, 0]
    hi = np.take_along_axis(d2, np.minimum(k // 2, max(n - 1, 0)), axis=-1)[:, 0]
    sigma = 1.4826 * 0.5 * (lo + hi) / np.sqrt(1.5)
    return np.where(k[:, 0] >= MIN_TRIPLES, sigma, np.nan)


def compute(
    comp: xr.Dataset,
    *,
    start: dt.date | str,
    end: dt.date | str,
    variables: Sequence[str] | None = None,
    pool: int = 0,
    layout: bool = False,
) -> xr.Dataset:
    """Reference statistics of each variable over the periods that start in [start, end].

    Output dims (period_of_year, y, x) with `<var>_mean`, `_std` (sample, ddof=1), `_min`,
    `_max` and `_count` (number of years with a value), the spread pooled over ±`pool`
    periods of the year (`pooled`), and `<var>_noise` (y, x): the observation noise over the
    reference (`noise`; observed = `<var>_quality` −1 or `<var>_count` > 0 when the series
    carries them). Every period of the year is present,
    NaN (count 0) where the reference has none. A dask-backed `comp` gives a lazy result of
    one task per spatial chunk × group of periods of the year (numpy inside; no more periods
    than `comp` has per chunk, memory bounded by `BUDGET`); numpy-backed, it is computed now.
    `layout` (dask-backed `comp`): only the result's layout (variables, chunks, attributes,
    coordinates) for a store other tasks write; computing its values raises.
    """
    names = (
        list(variables)
        if variables is not None
        else [str(v) for v in comp.data_vars if not str(v).endswith("_count")]
    )
    times = pd.DatetimeIndex(comp.time.values)
    inside = (times >= pd.Timestamp(start)) & (times <= pd.Timestamp(end))
    if not inside.any():
        raise InputError(f"reference {start}..{end}: no period of the data lies inside it")
    period = comp.attrs.get("period", "dekad")
    poy = np.asarray(comp["period_of_year"].values)
    every = np.arange(1, PERIODS_PER_YEAR.get(period, 36) + 1, dtype="int16")
    if not 0 <= pool < len(every) // 2:
        raise InputError(f"pool must be in 0..{len(every) // 2 - 1} periods; got {pool}")
    # the time steps of each period of the year inside the reference
    members = [np.flatnonzero(inside & (poy == p)) for p in every]
    marks = {n: observed_name(comp, n) for n in names}
    data = comp[[*names, *(m for m in marks.values() if m)]]
    steps = np.flatnonzero(inside)
    if layout and any(data[n].chunks for n in names):
        arrays = _layout(data, names, members, pool)
    elif any(data[n].chunks for n in names):
        arrays = _blockwise(data, names, members, pool, steps, marks)
    else:
        arrays = _all_statistics(data, names, members, pool)
        for n in names:
            arrays[f"{n}_noise"] = noise(*_noise_inputs(data.isel(time=steps), n, marks[n]))
    variables_: dict[str, tuple[Any, ...]] = {
        f"{n}_{s}": (
            ("period_of_year", "y", "x"),
            arrays[f"{n}_{s}"],
            {"long_name": f"reference {s} of {n} per {period} of year"},
        )
        for n in names
        for s in STATS
    }
    for n in names:
        variables_[f"{n}_noise"] = (
            ("y", "x"),
            arrays[f"{n}_noise"],
            {"long_name": f"observation noise of {n} (robust σ of second differences)"},
        )
    out = xr.Dataset(variables_, coords={"period_of_year": every, "y": comp["y"], "x": comp["x"]})
    if "spatial_ref" in comp.coords:
        out = out.assign_coords(spatial_ref=comp.spatial_ref)
    out.attrs = {
        "period": period,
        "reference_start": str(pd.Timestamp(start).date()),
        "reference_end": str(pd.Timestamp(end).date()),
        "pool": pool,
    }
    return out


def observed_name(comp: xr.Dataset, name: str) -> str | None:
    """The variable telling which values of `name` were observed (not filled), if any."""
    for mark in (f"{name}_quality", f"{name}_count"):
        if mark in comp.data_vars:
            return mark
    return None


def _noise_inputs(piece: xr.Dataset, name: str, mark: str | None) -> tuple[np.ndarray, Any]:
    values = np.asarray(piece[name].values)
    if mark is None:
        return values, None
    return values, observed(np.asarray(piece[mark].values), mark)


def observed(flags: _Flags, mark: str) -> _Flags:
    """Observed (not filled) values from a quality band (−1) or a count of scenes (> 0)."""
    return (flags == -1) if mark.endswith("_quality") else (flags > 0)


def _circular(members: list[np.ndarray], pool: int) -> list[np.ndarray]:
    """`members` with `pool` periods of the year wrapped on each side (dekad 36 before 1)."""
    return [*members[len(members) - pool :], *members, *members[:pool]] if pool else members


def _of_steps(
    values: np.ndarray | Sequence[np.ndarray], window: Sequence[np.ndarray], pool: int
) -> dict[str, np.ndarray]:
    """`pooled` of the periods whose years are the time steps `window[k]` of `values`
    (time, y, x), or of the concatenation of the chunks `values` (time, y, x), read in place
    (views: the years are not copied into a stack)."""
    if isinstance(values, np.ndarray):
        return _windowed([[values[t] for t in idx] for idx in window], values.shape[1:], pool)
    step = steps_of(values)
    return _windowed([[step(t) for t in idx] for idx in window], values[0].shape[1:], pool)


def _all_statistics(
    data: xr.Dataset, names: list[str], members: list[np.ndarray], pool: int = 0
) -> dict[str, np.ndarray]:
    """`<var>_<stat>` of every variable of `data` over the time steps of `members` (the
    periods of the year, with `pool` more wrapped on each side when pooling)."""
    wide = _circular(members, pool)
    return {
        f"{n}_{s}": a
        for n in names
        for s, a in _of_steps(np.asarray(data[n].values), wide, pool).items()
    }


def of_periods(
    values: np.ndarray | Sequence[np.ndarray],
    members: list[np.ndarray],
    periods: range,
    pool: int,
) -> dict[str, np.ndarray]:
    """`pooled` statistics of the periods of the year `periods` (consecutive; beyond the
    year's last they wrap around to its first) from `values` (time, y, x), where `members[p]`
    are the positions in `values` of period p's reference steps: what a task of `compute`
    gives for them (±`pool` periods read around them). `values` may be a list of chunks
    (time, y, x) of the series, positions then in their concatenation (not made)."""
    n = len(members)
    window = [members[p % n] for p in range(periods.start - pool, periods.stop + pool)]
    return _of_steps(values, window, pool)


def steps_of(chunks: Sequence[np.ndarray]) -> Callable[[int], np.ndarray]:
    """Position in the concatenation of `chunks` (time, …) → that time step (a view)."""
    bounds = np.cumsum([0, *(len(c) for c in chunks)])

    def step(t: int) -> np.ndarray:
        c = int(np.searchsorted(bounds, t, side="right")) - 1
        return chunks[c][t - bounds[c]]

    return step


def noise_of(
    parts: dict[str, list[np.ndarray]],
    names: Sequence[str],
    marks: dict[str, str | None],
    at: np.ndarray,
) -> dict[str, np.ndarray]:
    """`noise` of each variable of `names` over the time steps at positions `at` of the
    concatenation of its chunks `parts[name]` (time, y, x), observed where its mark
    (`marks[name]`, also in `parts`) says so; in strips of rows: the series is never
    copied whole."""
    out = {}
    for n in names:
        mark, first = marks[n], parts[n][0]
        ny, nx = first.shape[1:]
        bounds = np.cumsum([0, *(len(p) for p in parts[n])])
        which = np.searchsorted(bounds, at, side="right") - 1
        steps = [(int(c), int(t - bounds[c])) for c, t in zip(which, at, strict=True)]
        sigma = np.full((ny, nx), np.nan, dtype="float32")
        if len(steps) >= 3:
            strip = np.empty((min(_ROWS, ny) * nx, len(steps)), dtype="float32")
            for r in range(0, ny, _ROWS):
                rows = slice(r, r + _ROWS)
                lanes = strip[: len(range(ny)[rows]) * nx]
                for j, (c, t) in enumerate(steps):  # each pixel's series, side by side
                    v = np.asarray(parts[n][c][t, rows], dtype="float32")
                    ok = np.isfinite(v) if mark is None else observed(parts[mark][c][t, rows], mark)
                    lanes[:, j] = np.where(ok, v, np.float32(np.nan)).reshape(-1)
                sigma[rows] = _sigma(lanes).reshape(-1, nx)
        out[n] = sigma
    return out


def _group(data: xr.Dataset, names: list[str], members: list[np.ndarray], pool: int) -> int:
    """Periods of the year per task of `_blockwise` (`data` of unified chunks)."""
    years = max(1, max(len(m) for m in members))
    side = max(data.chunks["y"]) * max(data.chunks["x"])
    # the float64 stack and three temporaries of its size, for each variable
    group = max(1, int(BUDGET // (years * side * 8 * 4 * len(names))) - 2 * pool)
    # no more periods of the year than the input holds per chunk: the result's chunks then
    # match the periods a block of the series needs (indicators read no more than that)
    return min(group, max(data.chunks["time"]))


def _layout(
    data: xr.Dataset, names: list[str], members: list[np.ndarray], pool: int
) -> dict[str, Any]:
    """`_blockwise`'s arrays (types, chunks), whose values cannot be computed."""
    import dask.array as darr

    data = data.unify_chunks()
    group = _group(data, names, members, pool)
    nper = len(members)
    space = (data.chunks["y"], data.chunks["x"])
    periods = tuple(min(group, nper - i) for i in range(0, nper, group))
    out: dict[str, Any] = {}
    for n in names:
        for s in STATS:
            dtype = np.dtype("int16" if s == "count" else "float32")
            out[f"{n}_{s}"] = darr.zeros(
                (nper, data.sizes["y"], data.sizes["x"]), chunks=(periods, *space), dtype=dtype
            ).map_blocks(_unwritten, dtype=dtype)
        shape = (data.sizes["y"], data.sizes["x"])
        out[f"{n}_noise"] = darr.zeros(shape, chunks=space, dtype="float32").map_blocks(
            _unwritten, dtype="float32"
        )
    return out


def _unwritten(block: np.ndarray) -> np.ndarray:
    raise RuntimeError(
        "a reference layout (reference.compute(..., layout=True)) has no values: the tasks "
        "that write its store compute them"
    )


def _blockwise(
    data: xr.Dataset,
    names: list[str],
    members: list[np.ndarray],
    pool: int,
    steps: np.ndarray,
    marks: dict[str, str | None],
) -> dict[str, Any]:
    """One task per spatial chunk × group of periods of the year: each reads the stored
    chunks that hold the reference years of its periods (± `pool` around them: its only
    inputs) and computes their statistics in numpy; and one task per spatial chunk for the
    noise over every reference step, in strips of rows. Tasks take whole stored chunks and
    select inside (no indexing tasks between them and the store)."""
    import dask
    import dask.array as darr

    from .blocks import assemble

    data = data.unify_chunks()
    ychunks, xchunks = data.chunks["y"], data.chunks["x"]
    tedges = np.cumsum((0, *data.chunks["time"]))
    group = _group(data, names, members, pool)
    nper = len(members)
    groups = [range(i, min(nper, i + group)) for i in range(0, nper, group)]
    run = uuid.uuid4().hex
    arrays = {n: data[n].data for n in [*names, *(m for m in marks.values() if m)]}

    def chunks(idx: np.ndarray, iy: int, ix: int, var: str) -> tuple[list[Any], np.ndarray]:
        """The stored chunks holding time steps `idx` of tile (iy, ix), and where each step
        lies in their concatenation."""
        which = np.searchsorted(tedges, idx, side="right") - 1
        held = np.unique(which) if len(idx) else np.zeros(1, int)  # none: a chunk's shape
        base = np.cumsum((0, *(tedges[k + 1] - tedges[k] for k in held)))[:-1]
        at = base[np.searchsorted(held, which)] + idx - tedges[which]
        return [arrays[var].blocks[k, iy, ix] for k in held], at

    def task(parts: dict[str, list[np.ndarray]], at: np.ndarray, sizes: list[int]) -> Any:
        bounds = np.cumsum((0, *sizes))
        local = [at[bounds[k] : bounds[k + 1]] for k in range(len(sizes))]
        return {  # the pooled window's periods around the group: statistics of the inner
            f"{n}_{s}": a for n in names for s, a in _of_steps(parts[n], local, pool).items()
        }

    def noise_task(parts: dict[str, list[np.ndarray]], at: np.ndarray) -> Any:
        return {f"{n}_noise": a for n, a in noise_of(parts, names, marks, at).items()}

    def window(grp: range) -> tuple[np.ndarray, list[int]]:
        periods = [p % nper for p in range(grp.start - pool, grp.stop + pool)]
        return np.concatenate([members[p] for p in periods]).astype(int), [
            len(members[p]) for p in periods
        ]

    def delayed(fn: Any, idx: np.ndarray, iy: int, ix: int, key: str, *more: Any) -> Any:
        found = {v: chunks(idx, iy, ix, v) for v in (names if fn is task else arrays)}
        parts = {v: f[0] for v, f in found.items()}
        at = next(iter(found.values()))[1]
        return dask.delayed(fn, pure=False)(parts, at, *more, dask_key_name=key)

    cells = []
    for gi, grp in enumerate(groups):
        idx, sizes = window(grp)
        cells.append(
            [
                [
                    (
                        delayed(
                            task, idx, iy, ix, f"vegcube-reference-{run}-{gi}-{iy}-{ix}", sizes
                        ),
                        (len(grp), ny, nx),
                    )
                    for ix, nx in enumerate(xchunks)
                ]
                for iy, ny in enumerate(ychunks)
            ]
        )
    dtypes = {
        f"{n}_{s}": np.dtype("int16" if s == "count" else "float32") for n in names for s in STATS
    }
    out: dict[str, Any] = assemble(cells, dtypes)
    noises = [
        [
            delayed(noise_task, steps.astype(int), iy, ix, f"vegcube-noise-{run}-{iy}-{ix}")
            for ix in range(len(xchunks))
        ]
        for iy in range(len(ychunks))
    ]
    for n in names:
        out[f"{n}_noise"] = darr.block(
            [
                [
                    darr.from_delayed(noises[iy][ix][f"{n}_noise"], (ny, nx), dtype="float32")
                    for ix, nx in enumerate(xchunks)
                ]
                for iy, ny in enumerate(ychunks)
            ]
        )
    return out
