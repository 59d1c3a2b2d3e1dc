"""Sentinel-1 RTC backscatter, end to end on the demo's world (a generated archive in Planetary
Computer's item shape): per-orbit monthly composites of γ⁰ in linear power delivered in dB,
the radar vegetation index, reference and indicators that see the dry spell, speckle filtered
per tile with a halo so that tiles join."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pystac
import pytest
import rasterio
import xarray as xr
from scipy import ndimage

import vegcube
from vegcube.testing import assert_composites, assert_indicators, assert_reference
from vegcube.testing.sentinel1 import generate_sentinel1_archive
from vegcube.testing.truth import drought_time, truth_masks

LAND = (1, 2, 3, 5)  # forest, grassland, cropland, bare (water: no soil to dry)
INDICES = ["vv_db", "vh_db", "rvi"]


def _recipe(archive, out, *, orbit, speckle=None, **over):
    rc = {
        "name": f"s1-{orbit}",
        "aoi": {"bbox": list(archive.bbox)},
        "time": {"start": archive.start, "end": archive.end},
        "source": {
            "catalog": str(archive.catalog),
            "collection": "sentinel-1-rtc",
            "orbit_state": orbit,
        },
        "grid": {"crs": "auto", "resolution": 10},
        "indices": INDICES,
        "composite": {"period": "month", "reducer": "mean"},
        "output": {"dir": str(out), "formats": ["zarr"]},
    }
    if speckle is not None:
        rc["mask"] = {"speckle": speckle}
    rc.update(over)
    return rc


@pytest.fixture(scope="module")
def s1(tmp_path_factory):
    root = tmp_path_factory.mktemp("s1")
    # the wet season only (January–April passes): the dry spell's months and their reference
    archive = generate_sentinel1_archive(
        root / "archive", start="2020-01-01", end="2023-04-30", size=40, months=(1, 4)
    )
    drought = {
        "reference": {"start": "2020-01-01", "end": "2022-12-31"},
        "indicators": ["vci", "zscore", "anomaly"],
        "gapfill": {"method": "linear"},
    }
    speckle = {"filter": "refined_lee", "size": 7}
    vegcube.run(_recipe(archive, root / "desc", orbit="descending", speckle=speckle, **drought))
    vegcube.run(_recipe(archive, root / "asc", orbit="ascending"))  # unfiltered
    return archive, root


def _solar_months(items, archive):
    """The month of each item's local solar day (the chain's day: 19:06 UTC is 06:06 the next
    morning at 165.5° E)."""
    lon = (archive.bbox[0] + archive.bbox[2]) / 2
    when = pd.DatetimeIndex([i.datetime for i in items]).tz_localize(None)
    return (when + pd.to_timedelta(lon / 15, unit="h")).to_period("M")


def _items(archive, orbit):
    found = pystac.Catalog.from_file(str(archive.catalog)).get_items(recursive=True)
    return sorted(
        (i for i in found if i.properties["sat:orbit_state"] == orbit), key=lambda i: i.datetime
    )


def test_composites_per_orbit_in_db_with_rvi(s1):
    archive, root = s1
    comp = xr.open_zarr(root / "desc" / "composites.zarr").load()
    assert_composites(comp)
    assert_reference(xr.open_zarr(root / "desc" / "reference.zarr").load())
    assert {*INDICES, *(f"{i}_count" for i in INDICES)} <= set(comp.data_vars)
    assert comp.vv_db.attrs["units"] == "dB" and comp.vh_db.attrs["units"] == "dB"
    assert comp.rvi.attrs["units"] == "1"
    assert np.nanmin(comp.vh_db) > -35 and np.nanmax(comp.vv_db) < 0  # backscatter in dB
    assert np.nanmin(comp.rvi) > 0 and np.nanmax(comp.rvi) < 4  # 4·VH/(VV+VH) < 4
    # cross-polarised returns are weaker: VH ~9 dB below VV (speckle aside)
    below = comp.vh_db.values - comp.vv_db.values
    below = below[np.isfinite(below)]
    assert np.mean(below) < -5 and np.mean(below < 0) > 0.99
    # the months hold the descending passes only (12-day revisit: 2 or 3 a month)
    months = _solar_months(_items(archive, "descending"), archive)
    counts = months.value_counts()
    got = comp.vv_db_count.max(("y", "x")).values
    want = [counts.get(pd.Period(t, "M"), 0) for t in comp.time.values]
    np.testing.assert_array_equal(got, want)


def test_unfiltered_composites_equal_numpy_over_the_orbits_own_scenes(s1):
    """Monthly mean of linear power then dB, computed from the COGs with rasterio alone."""
    archive, root = s1
    comp = xr.open_zarr(root / "asc" / "composites.zarr").load()
    items = _items(archive, "ascending")
    with rasterio.open(items[0].assets["vv"].get_absolute_href()) as src:
        transform = src.transform
    cols = np.floor((~transform * (comp.x.values, np.full(comp.x.size, comp.y.values[0])))[0])
    rows = np.floor((~transform * (np.full(comp.y.size, comp.x.values[0]), comp.y.values))[1])
    cols, rows = cols.astype(int), rows.astype(int)

    def read(item, key):
        with rasterio.open(item.assets[key].get_absolute_href()) as src:
            a = src.read(1)[np.ix_(rows, cols)]
            return np.where(a == src.nodata, np.nan, a)

    months = _solar_months(items, archive)
    asc_all, desc_all = [], []
    for k, t in enumerate(comp.time.values):
        sel = [i for i, m in zip(items, months, strict=True) if m == pd.Period(t, "M")]
        if not sel:  # May–December: no passes generated
            assert np.isnan(comp.vv_db.values[k]).all()
            continue
        vv = np.stack([read(i, "vv") for i in sel])
        vh = np.stack([read(i, "vh") for i in sel])
        inside = np.isfinite(comp.vv_db.values[k])
        assert inside.mean() > 0.8
        with np.errstate(invalid="ignore"):
            want = 10 * np.log10(np.nanmean(vv, axis=0))
            rvi = np.nanmean(4 * vh / (vv + vh), axis=0)
        np.testing.assert_allclose(comp.vv_db.values[k][inside], want[inside], rtol=1e-5)
        np.testing.assert_allclose(comp.rvi.values[k][inside], rvi[inside], rtol=1e-5)
        desc = xr.open_zarr(root / "desc" / "composites.zarr").vv_db.values[k]
        asc_all.append(10 * np.log10(np.nanmean(10 ** (comp.vv_db.values[k] / 10))))
        desc_all.append(10 * np.log10(np.nanmean(10 ** (desc / 10))))
    # the two directions see the ground 1.5 dB apart (the tile's mean power; the descending
    # run filtered): neither series holds the other's passes
    assert len(asc_all) == 16  # four seasons of four months
    assert np.mean(np.subtract(asc_all, desc_all)) == pytest.approx(-1.5, abs=0.4)


def test_indicators_see_the_dry_spell(s1):
    archive, root = s1
    ind = xr.open_zarr(root / "desc" / "indicators.zarr").load()
    assert_indicators(ind)
    for i in INDICES:
        assert {f"{i}_vci", f"{i}_zscore", f"{i}_anomaly"} <= set(ind.data_vars)
    assert ind.vv_db_anomaly.attrs["units"] == "dB" and ind.rvi_anomaly.attrs["units"] == "1"
    lc, place = truth_masks(archive, ind.vv_db_anomaly.isel(time=0))
    land = np.isin(lc, LAND)
    far = ~ndimage.binary_dilation(place, np.ones((7, 7), bool))  # beyond the filter's window
    inside, outside = land & place, land & far
    assert inside.sum() >= 100 and outside.sum() >= 100
    when = drought_time(archive, ind)
    assert when.sum() == 3  # February, March, April 2023
    for name, drop in (("vv_db_anomaly", -1.0), ("vh_db_anomaly", -1.0), ("rvi_anomaly", -0.02)):
        during = ind[name].values[when]
        assert np.nanmean(during[:, inside]) < drop  # backscatter falls where it is dry
        assert abs(np.nanmean(during[:, outside])) < abs(drop) / 3  # and nowhere else
        assert abs(np.nanmean(ind[name].values[~when][:, inside])) < abs(drop) / 3  # nor before
    z = ind.vh_db_zscore.values[when]
    assert np.nanmedian(z[:, inside]) < -2 and abs(np.nanmedian(z[:, outside])) < 1
    vci = ind.vv_db_vci.values[when]
    assert np.nanmedian(vci[:, inside]) < 20 < np.nanmedian(vci[:, outside])


def test_speckle_filter_smooths_composites_and_tiles_join(tmp_path):
    """A chain run cut into 64-pixel tiles (each read with the filter's halo) equals a run in
    one tile; the filtered composites are smoother than the unfiltered ones."""
    big = generate_sentinel1_archive(
        tmp_path / "big", start="2022-01-01", end="2022-01-31", size=160, orbits=("descending",)
    )
    speckle = {"filter": "refined_lee", "size": 7}
    runs = {}
    for name, chunk in (("one", 1024), ("tiles", 64)):
        out = tmp_path / name
        rc = _recipe(big, out, orbit="descending", speckle=speckle, dask={"chunk": chunk})
        vegcube.run(rc)
        runs[name] = xr.open_zarr(out / "composites.zarr").load()
    assert runs["one"].sizes["x"] > 128  # several tiles in the second run
    for i in INDICES:
        np.testing.assert_allclose(runs["tiles"][i].values, runs["one"][i].values, rtol=1e-5)
    rc = _recipe(big, tmp_path / "raw", orbit="descending")
    vegcube.run(rc)
    raw = xr.open_zarr(tmp_path / "raw" / "composites.zarr").load()
    rough = np.nanmean(np.abs(np.diff(raw.vv_db.values, axis=-1)))
    smooth = np.nanmean(np.abs(np.diff(runs["one"].vv_db.values, axis=-1)))
    assert smooth < rough / 2
