"""Zonal statistics checked against coverage fractions computed independently with shapely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_zeros
from pyproj import CRS, Transformer

from vegcube import zonal
from vegcube.errors import RecipeError

X0, Y0, RES = 600_000.0, 7_600_000.0, 10.0  # EPSG:32758 (UTM 58S)
NY, NX, NT = 12, 16, 5


@pytest.fixture(scope="module")
def cube() -> xr.Dataset:
    gbox = GeoBox.from_bbox((X0, Y0, X0 + NX * RES, Y0 + NY * RES), "EPSG:32758", resolution=RES)
    times = pd.date_range("2022-01-01", periods=NT, freq="10D")
    rng = np.random.default_rng(42)
    ndvi = xr_zeros(gbox, "float32", time=times)
    ndvi.values[:] = rng.uniform(0, 1, ndvi.shape)
    ndvi.values[rng.uniform(size=ndvi.shape) < 0.2] = np.nan
    ndvi.values[2, :6, :] = np.nan  # a cloud over the top rows
    ndvi.values[4] = np.nan  # a step with no data at all
    ndwi = (ndvi * 2 - 0.5).astype("float32")
    cls = xr.where(ndvi.notnull(), (ndvi * 4).fillna(0), -1).astype("int8")
    cls.encoding["_FillValue"] = -1
    return xr.Dataset({"ndvi": ndvi, "ndwi": ndwi, "drought_class": cls})


def _polygons() -> dict[str, shapely.Geometry]:
    """Polygons whose edges cut pixels (and one outside the grid)."""
    return {
        "tri": shapely.Polygon([(X0 + 13, Y0 + 7), (X0 + 141, Y0 + 33), (X0 + 57, Y0 + 113)]),
        "box": shapely.box(X0 + 25.5, Y0 + 31.2, X0 + 88.8, Y0 + 97.3),
        "edge": shapely.box(X0 - 40, Y0 + 85.5, X0 + 23.3, Y0 + 200),  # partly off the grid
        "away": shapely.box(X0 + 5000, Y0, X0 + 5100, Y0 + 100),
    }


def _regions(polys: dict[str, shapely.Geometry], crs: str = "EPSG:32758") -> zonal.Regions:
    return zonal.Regions(tuple(polys), tuple(polys.values()), CRS(crs))


def _expected(values: np.ndarray, poly: shapely.Geometry) -> tuple[float, float, float, float]:
    """Coverage-weighted mean, population std, valid count, valid fraction, by hand."""
    cov = np.zeros((NY, NX))
    for r in range(NY):
        for c in range(NX):
            top = Y0 + (NY - r) * RES
            pix = shapely.box(X0 + c * RES, top - RES, X0 + (c + 1) * RES, top)
            cov[r, c] = pix.intersection(poly).area / RES**2
    ok = ~np.isnan(values)
    w = np.where(ok, cov, 0.0)
    v = np.where(ok, values, 0.0)
    count = w.sum()
    if count == 0:
        return np.nan, np.nan, 0.0, 0.0
    mean = (w * v).sum() / count
    std = np.sqrt((w * (v - mean) ** 2).sum() / count)
    return mean, std, count, count / cov.sum()


def test_stats_match_independent_computation(cube: xr.Dataset) -> None:
    polys = _polygons()
    df = zonal.stats(cube, _regions(polys))
    assert tuple(df.columns) == zonal.COLUMNS
    assert df["time"].dtype.kind == "M"
    assert set(df["variable"]) == {"ndvi", "ndwi"}  # int8 classes only when asked for
    assert len(df) == len(polys) * 2 * NT
    keys = df[["region", "variable", "time"]].apply(tuple, axis=1).tolist()
    assert keys == sorted(keys)
    for (region, var), g in df.groupby(["region", "variable"]):
        for t, row in enumerate(g.itertuples()):
            exp = _expected(cube[var].values[t], polys[str(region)])
            got = (row.mean, row.std, row.count, row.valid_fraction)
            np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-6, err_msg=f"{region} {t}")
    away = df[df.region == "away"]
    assert away["mean"].isna().all() and (away["count"] == 0).all()
    assert (away["valid_fraction"] == 0).all()
    empty = df[df.time == cube.time.values[4]]  # all-NaN step: rows kept, nothing valid
    assert empty["mean"].isna().all() and (empty["valid_fraction"] == 0).all()
    some = df[(df.region == "box") & (df.time == cube.time.values[0])]
    assert (some["valid_fraction"] > 0.5).all() and (some["valid_fraction"] < 1).all()


def test_dask_blocks_and_int_variable(cube: xr.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    polys = _polygons()
    regions = _regions(polys)
    names = ["ndvi", "drought_class"]
    ref = zonal.stats(cube, regions, variables=names)
    steps: list[int] = []
    extract = zonal._extract

    def spy(arrays: list[np.ndarray], *args: Any) -> dict[str, np.ndarray]:
        steps.append(arrays[0].shape[0])
        return extract(arrays, *args)

    monkeypatch.setattr(zonal, "_extract", spy)
    lazy = cube.chunk({"time": 1, "y": 5, "x": 7})
    pd.testing.assert_frame_equal(zonal.stats(lazy, regions, variables=names, time_block=2), ref)
    assert steps[1:] == [2, 2, 1]  # after the coverage pass: 5 steps in blocks of at most 2
    steps.clear()
    monkeypatch.setattr(zonal, "_MAX_CELLS", 1)  # a big window shrinks the block to 1 step
    pd.testing.assert_frame_equal(zonal.stats(lazy, regions, variables=names), ref)
    assert steps[1:] == [1] * NT
    classes = cube["drought_class"].where(cube["drought_class"] >= 0).astype(float).values
    got = ref[(ref.variable == "drought_class") & (ref.region == "tri")]
    for t, row in enumerate(got.itertuples()):  # -1 (_FillValue) is no data
        exp = _expected(classes[t], polys["tri"])
        np.testing.assert_allclose(
            (row.mean, row.std, row.count, row.valid_fraction), exp, rtol=1e-5, atol=1e-6
        )


def test_regions_in_lonlat_are_reprojected(cube: xr.Dataset, tmp_path: Path) -> None:
    # pixels rows 3..6, cols 4..9 exactly, drawn in EPSG:4326 along densified edges
    x0, x1, y1 = X0 + 4 * RES, X0 + 10 * RES, Y0 + (NY - 3) * RES
    y0 = y1 - 4 * RES
    utm = shapely.segmentize(shapely.box(x0, y0, x1, y1), 1.0)
    tr = Transformer.from_crs("EPSG:32758", "EPSG:4326", always_xy=True)
    ll = shapely.transform(utm, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    path = tmp_path / "regions.geojson"
    feature = {
        "type": "Feature",
        "properties": {"name": "block", "n": 1},
        "geometry": shapely.geometry.mapping(ll),
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    regions = zonal.read_regions(path, id="name")
    assert regions.ids == ("block",) and regions.crs.to_epsg() == 4326
    df = zonal.stats(cube, regions, variables=["ndvi"])
    block = cube.ndvi.values[:, 3:7, 4:10]
    with np.errstate(invalid="ignore"):
        exp = [np.nanmean(b) if np.isfinite(b).any() else np.nan for b in block]
    np.testing.assert_allclose(df["mean"], exp, rtol=1e-5)
    np.testing.assert_allclose(df["count"], np.isfinite(block).sum(axis=(1, 2)), rtol=1e-5)


def _geojson(path: Path, props: list[dict]) -> Path:
    feats = [
        {
            "type": "Feature",
            "properties": p,
            "geometry": shapely.geometry.mapping(shapely.box(165 + i, -21, 165.5 + i, -20.5)),
        }
        for i, p in enumerate(props)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def test_read_regions_errors(tmp_path: Path) -> None:
    path = _geojson(tmp_path / "regions.geojson", [{"name": "a", "drought": 1}])
    with pytest.raises(
        RecipeError,
        match=r"regions\.id: 'district' is not an attribute of "
        r"regions\.geojson; it has: name, drought",
    ):
        zonal.read_regions(path, id="district")
    dup = _geojson(tmp_path / "dup.geojson", [{"name": "a"}, {"name": "b"}, {"name": "a"}])
    with pytest.raises(
        RecipeError,
        match=r"regions\.id: 'name' is not unique in dup\.geojson"
        r" \(repeated: a\)",
    ):
        zonal.read_regions(dup)
    bad = tmp_path / "broken.gpkg"
    bad.write_text("not a geopackage")
    with pytest.raises(RecipeError, match=r"regions\.path: cannot read .*broken\.gpkg"):
        zonal.read_regions(bad)
    with pytest.raises(RecipeError, match=r"regions\.path: file .*missing\.geojson does not"):
        zonal.read_regions(tmp_path / "missing.geojson")


def test_unknown_variable(cube: xr.Dataset) -> None:
    with pytest.raises(RecipeError, match=r"'evi' is not .*choose from: ndvi, ndwi, drought"):
        zonal.stats(cube, _regions(_polygons()), variables=["evi"])


def test_write_round_trip(cube: xr.Dataset, tmp_path: Path) -> None:
    df = zonal.stats(cube, _regions(_polygons()))
    out = tmp_path / "out"
    parquet, csv = zonal.write(df, out)
    zonal.write(df, out)  # overwriting works too
    assert sorted(p.name for p in out.iterdir()) == ["zonal.csv", "zonal.parquet"]
    back = pd.read_parquet(parquet)
    assert tuple(back.columns) == zonal.COLUMNS
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    back_csv = pd.read_csv(csv, parse_dates=["time"])
    assert tuple(back_csv.columns) == zonal.COLUMNS
    pd.testing.assert_frame_equal(back_csv, df, check_dtype=False, check_exact=False)


def test_demo_archive_regions(tmp_path: Path) -> None:
    from vegcube.testing.demo import generate_archive

    archive = generate_archive(
        tmp_path, size=60, revisit_days=10, start="2021-11-01", end="2022-01-31"
    )
    regions = zonal.read_regions(archive.regions, id="name")
    assert len(regions) == 4 and len(set(regions.ids)) == 4
    names = [f["properties"]["name"] for f in json.loads(archive.regions.read_text())["features"]]
    assert regions.ids == tuple(names)


def test_regions_none_of_which_meet_the_aoi_are_refused(tmp_path: Path) -> None:
    from odc.geo.geom import Geometry

    path = _geojson(tmp_path / "regions.geojson", [{"name": "a"}, {"name": "b"}])
    bounds = shapely.total_bounds(list(zonal.read_regions(path).geometries))
    near = Geometry(shapely.box(*bounds).buffer(-1e-4), "EPSG:4326")
    assert len(zonal.read_regions(path, aoi=near)) == 2  # overlapping: accepted
    far = Geometry(shapely.box(*(bounds + np.array([5, 0, 5, 0]))), "EPSG:4326")
    with pytest.raises(
        RecipeError, match=r"regions\.path: none of the 2 regions of regions\.geojson intersects"
    ):
        zonal.read_regions(path, aoi=far)
