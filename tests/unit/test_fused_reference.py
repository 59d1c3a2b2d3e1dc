"""A run's reference and indicators written by one task per tile × group of periods
(`series.indicators`, fresh) equal those of the reference stage followed by the indicators
against the stored reference (`reference.compute`, then `blocks.map_chunks`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import vegcube
from vegcube import blocks, export, reference
from vegcube import indicators as indicators_mod
from vegcube.chain import series as series_mod
from vegcube.chain.context import Window
from vegcube.export.zarr import Ahead

INDICATORS = ["vci", "zscore", "anomaly", "pct_normal", "percentile", "drought_class", "tci", "vhi"]


def _recipe(pool: int, persistence: int, indicators: list[str] = INDICATORS) -> Any:
    """Two indices and a temperature (one index alone without TCI or VHI)."""
    heat = bool({"tci", "vhi"} & set(indicators))
    return vegcube.load_recipe(
        {
            "name": "t",
            "aoi": {"bbox": [165.3, -21.6, 165.6, -21.4]},
            "time": {"start": "2019-01-01", "end": "2022-12-31"},
            "source": {"catalog": "earth-search"},
            "indices": ["ndvi", "evi"] if heat else ["ndvi"],
            "lst": {"collection": "landsat-c2-l2"} if heat else None,
            "reference": {"start": "2019-01-01", "end": "2020-12-31", "min_years": 2, "pool": pool},
            "indicators": indicators,
            "drought_classes": {
                "persistence": persistence, "min_confidence": 0.8, "min_anomaly": 0.01,
                "min_heat": 0.2,
            },
            "output": {"dir": "out"},
        }
    )  # fmt: skip


def _series(years: int = 3, ny: int = 12, nx: int = 9, seed: int = 5) -> xr.Dataset:
    """Dekads of two indices (one marked by a quality band, one by a count of scenes) and
    a temperature, with gaps, a never observed pixel and a pixel observed in one year only."""
    rng = np.random.default_rng(seed)
    n = years * 36
    starts = [
        pd.Timestamp(f"{2019 + y}-{m:02d}-{d:02d}")
        for y in range(years)
        for m in range(1, 13)
        for d in (1, 11, 21)
    ]
    poy = np.tile(np.arange(1, 37, dtype="int16"), years)
    season = np.sin(2 * np.pi * poy / 36)[:, None, None]
    drift = np.repeat(rng.normal(0, 0.08, years), 36)[:, None, None]  # dry and wet years
    shape = (n, ny, nx)
    ndvi = (0.5 + 0.2 * season + drift + rng.normal(0, 0.05, shape)).astype("float32")
    evi = (0.3 + 0.1 * season - drift + rng.normal(0, 0.04, shape)).astype("float32")
    lst = (300 + 8 * season - 20 * drift + rng.normal(0, 1.5, shape)).astype("float32")
    for a in (ndvi, evi, lst):
        a[rng.random(shape) < 0.25] = np.nan
    ndvi[:, 0, 0] = np.nan  # never observed
    evi[36:, 1, 1] = np.nan  # one year only: no spread
    quality = np.where(np.isnan(ndvi), 0, -1).astype("int8")
    quality[(quality == -1) & (rng.random(shape) < 0.1)] = 1  # filled, not observed
    count = np.where(np.isnan(evi), 0, rng.integers(1, 4, shape)).astype("int16")
    lst_count = np.where(np.isnan(lst), 0, 1).astype("int16")
    dims = ("time", "y", "x")
    ds = xr.Dataset(
        {
            "ndvi": (dims, ndvi, {"long_name": "NDVI", "units": "1"}),
            "ndvi_quality": (dims, quality),
            "evi": (dims, evi, {"long_name": "EVI"}),
            "evi_count": (dims, count),
            "lst": (dims, lst, {"units": "K"}),
            "lst_count": (dims, lst_count),
        },
        coords={
            "time": starts,
            "period_of_year": ("time", poy),
            "period_end": ("time", [t + pd.Timedelta(days=9) for t in starts]),
            "y": 7_600_000 - 10.0 * np.arange(ny),
            "x": 550_000 + 10.0 * np.arange(nx),
        },
        attrs={"period": "dekad", "title": "synthetic"},
    )
    return ds.rio.write_crs("EPSG:32758")


def _stage(folder: Path, seen: list[xr.Dataset] | None = None) -> Any:
    """What `Context.store` does in a run: write_zarr, then read back (the whole series in
    one computation: the same store, sooner)."""

    def stage(name: str, ds: xr.Dataset, *, whole: bool = False) -> xr.Dataset:
        if seen is not None:
            seen.append(ds)
        path = folder / f"{name}.zarr"
        export.write_zarr(ds, path, block_steps=2**31, block_bytes=2**62)  # one computation
        return xr.open_zarr(path)

    return stage


def _stepwise(rc: Any, comp: xr.Dataset, folder: Path, lookback: int | None = None) -> None:
    """The reference stage, then the indicators per stored chunk against the stored one
    (looking back on the periods before each chunk that the persistence rule needs, or on
    `lookback`)."""
    spec = rc.reference
    stage = _stage(folder)
    variables = series_mod.variables(rc)
    lazy = reference.compute(
        comp, start=spec.start, end=spec.end, variables=variables, pool=spec.pool
    )
    ref = stage("reference", lazy)

    def indicators_of(block: xr.Dataset, against: xr.Dataset) -> xr.Dataset:
        return indicators_mod.compute(
            block, against, variables=rc.indices, indicators=rc.indicators,
            min_years=spec.min_years, thresholds=rc.drought_classes.model_dump(),
            lst="lst" if rc.lst else None, alpha=rc.lst.alpha if rc.lst else 0.5,
        )  # fmt: skip

    back = rc.drought_classes.persistence - 1 if "drought_class" in rc.indicators else 0
    back = back if lookback is None else lookback
    stage("indicators", blocks.map_chunks(indicators_of, comp, ref, lookback=back))


def _assert_same_store(a: Path, b: Path) -> None:
    """Variables, dtypes, attributes, coordinates, chunks (the Zarr metadata) and values."""
    meta = [json.loads((p / ".zmetadata").read_text())["metadata"] for p in (a, b)]
    assert meta[0] == meta[1]
    x, y = xr.open_zarr(a), xr.open_zarr(b)
    assert set(x.variables) == set(y.variables) and x.attrs == y.attrs
    for name in x.variables:
        u, v = x[name], y[name]
        assert u.dtype == v.dtype and u.dims == v.dims and u.attrs == v.attrs, name
        if u.dtype.kind == "f":
            np.testing.assert_allclose(u.values, v.values, rtol=0, atol=1e-6, err_msg=name)
            assert (np.isnan(u.values) == np.isnan(v.values)).all(), name
        else:
            np.testing.assert_array_equal(u.values, v.values, err_msg=str(name))


@pytest.mark.parametrize(
    ("years", "chunks", "pool", "persistence", "indicators"),
    [
        # time chunks across years and groups of periods, partial tiles, a look-back of 2
        (3, {"time": 20, "y": 7, "x": 9}, 1, 3, INDICATORS),
        # a year per chunk, one tile, no drought class (no noise, no look-back)
        (3, {"time": 36, "y": 12, "x": 9}, 0, 2, ["vci", "zscore", "tci", "vhi"]),
        # a period per chunk (a wide area's layout), a look-back across groups
        (2, {"time": 1, "y": 12, "x": 9}, 2, 3, ["drought_class"]),
        # indicators of the value and its reference alone: computed in numpy (no Datasets)
        (3, {"time": 7, "y": 12, "x": 5}, 0, 2, ["vci", "zscore", "anomaly", "percentile"]),
        (2, {"time": 1, "y": 5, "x": 9}, 1, 2, ["pct_normal", "vci"]),
    ],
)
def test_fused_reference_and_indicators_equal_the_stages(
    tmp_path, years, chunks, pool, persistence, indicators
):
    rc = _recipe(pool, persistence, indicators)
    comp = _series(years=years).chunk(chunks)
    seen: list[xr.Dataset] = []
    ref, ind = series_mod.indicators(
        rc, comp, _stage(tmp_path / "fused", seen), window=Window(), folder=tmp_path / "fused"
    )
    # the fused path ran: both stages were handed a store of the one computation
    assert [("vegcube_ahead" in ds.encoding) for ds in seen] == [True, True]
    assert ind is not None and ref.attrs["pool"] == pool
    _stepwise(rc, comp, tmp_path / "stepwise")
    for name in ("reference", "indicators"):
        _assert_same_store(
            tmp_path / "fused" / f"{name}.zarr", tmp_path / "stepwise" / f"{name}.zarr"
        )
    # nothing left beside the stores
    assert sorted(p.name for p in (tmp_path / "fused").iterdir()) == [
        "indicators.zarr", "reference.zarr",
    ]  # fmt: skip
    if "drought_class" in indicators:  # classes, and pixels not monitorable, were given
        ind = xr.open_zarr(tmp_path / "fused" / "indicators.zarr")
        classes = ind["ndvi_drought_class"].values
        assert (classes > 0).any() and (classes == -2).any()


def test_a_reference_kept_from_an_earlier_attempt_is_read_for_the_indicators(tmp_path):
    """The reference stage kept (not written): the indicators are computed against it."""
    rc = _recipe(1, 3, ["vci", "zscore", "drought_class"])
    comp = _series().chunk({"time": 10, "y": 12, "x": 5})
    _stepwise(rc, comp, tmp_path / "stepwise")
    folder = tmp_path / "fused"
    folder.mkdir()
    kept = folder / "reference.zarr"
    xr.open_zarr(tmp_path / "stepwise" / "reference.zarr").to_zarr(kept, zarr_format=2)
    write = _stage(folder)

    def stage(name: str, ds: xr.Dataset, *, whole: bool = False) -> xr.Dataset:
        return xr.open_zarr(kept) if name == "reference" else write(name, ds)

    series_mod.indicators(rc, comp, stage, window=Window(), folder=folder)
    _assert_same_store(folder / "indicators.zarr", tmp_path / "stepwise" / "indicators.zarr")
    assert sorted(p.name for p in folder.iterdir()) == ["indicators.zarr", "reference.zarr"]
    # the series makes the look-back matter: without it, classes at chunk starts differ
    _stepwise(rc, comp, tmp_path / "blind", lookback=0)
    with_, blind = (
        xr.open_zarr(p / "indicators.zarr")["ndvi_drought_class"].values
        for p in (folder, tmp_path / "blind")
    )
    assert (with_ != blind).any()


def test_the_reference_layout_is_written_by_write_zarr_only(tmp_path):
    """The reference handed to a stage is a layout that `write_zarr` fills by running the
    fused tasks; another writer computing it fails loudly (it has no values of its own)."""
    rc = _recipe(0, 2, ["vci", "drought_class", "vhi"])
    comp = _series(ny=9, nx=7).chunk({"time": 36, "y": 5, "x": 7})
    folder = tmp_path / "other"
    folder.mkdir()

    def stage(name: str, ds: xr.Dataset, *, whole: bool = False) -> xr.Dataset:
        ds.to_zarr(folder / f"{name}.zarr", mode="w", zarr_format=2)
        return xr.open_zarr(folder / f"{name}.zarr")

    with pytest.raises(RuntimeError, match="layout"):
        series_mod.indicators(rc, comp, stage, window=Window(), folder=folder)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_ahead_discards_stores_not_moved(tmp_path):
    layout = xr.Dataset({"a": (("y",), np.zeros(3))})
    ahead = Ahead({"one": (layout, tmp_path / ".one.ahead")}, run=lambda stores: None)
    export.write_zarr(ahead.dataset("one"), tmp_path / "one.zarr")
    assert ahead.ran and (tmp_path / "one.zarr").exists()
    ahead.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.zarr"]
