"""AOI: bbox, GeoJSON (inline and file), GeoPackage via pyogrio; grid; clipping; bad AOIs."""

from __future__ import annotations

import json

import numpy as np
import pyogrio.raw
import pytest
import shapely
import xarray as xr
from odc.geo.xr import xr_zeros

from vegcube import aoi
from vegcube.errors import RecipeError

BBOX = (165.40, -21.60, 165.44, -21.57)


def test_bbox_grid_is_utm_of_centre_and_snapped():
    geom = aoi.read_aoi(BBOX)
    g = aoi.grid(geom, resolution=10)
    assert g.crs.epsg == 32758  # UTM 58 south
    assert g.affine.a == 10 and g.affine.e == -10
    assert g.affine.c % 10 == 0 and g.affine.f % 10 == 0
    # covers the AOI: every corner of the projected bbox lies within the grid extent
    ext = g.extent.geom
    assert ext.covers(geom.to_crs(g.crs).geom.buffer(-1))
    assert aoi.grid(geom, crs="EPSG:3857", resolution=20).crs.epsg == 3857


def test_northern_hemisphere_utm():
    assert aoi.utm_crs(aoi.read_aoi((2.3, 48.8, 2.4, 48.9))).epsg == 32631


def test_geojson_file_and_inline_and_gpkg(tmp_path):
    poly = shapely.Polygon([(165.40, -21.60), (165.44, -21.60), (165.42, -21.57)])
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(poly)}
        ],
    }
    (tmp_path / "a.geojson").write_text(json.dumps(fc))
    g1 = aoi.read_aoi(tmp_path / "a.geojson")
    g2 = aoi.read_aoi(shapely.geometry.mapping(poly))
    assert g1.geom.equals(poly) and g2.geom.equals(poly)
    # a GeoPackage in UTM, read through pyogrio and brought back to lon/lat
    utm = g1.to_crs("EPSG:32758")
    pyogrio.raw.write(
        tmp_path / "a.gpkg",
        np.array([shapely.to_wkb(utm.geom)], dtype=object),
        [],
        [],
        geometry_type="Polygon",
        crs="EPSG:32758",
        layer="zones",
    )
    g3 = aoi.read_aoi({"path": tmp_path / "a.gpkg", "layer": "zones"})
    assert g3.crs.epsg == 4326
    assert g3.geom.symmetric_difference(poly).area < 1e-10


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ((10, 5, 1, 6), "west < east"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "Self-intersection",
        ),
        ({"type": "Point", "coordinates": [165.4, -21.5]}, "Polygon or MultiPolygon"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[500000, 7600000], [500100, 7600000], [500100, 7600100], [500000, 7600000]]
                ],
            },
            "not lon/lat",
        ),
        ({"type": "Nonsense"}, "not a GeoJSON"),
    ],
)
def test_bad_aoi_named(value, words):
    with pytest.raises(RecipeError, match=words):
        aoi.read_aoi(value)


def test_missing_file(tmp_path):
    with pytest.raises(RecipeError, match="does not exist"):
        aoi.read_aoi(tmp_path / "nope.geojson")


def test_clip_sets_outside_to_nan():
    tri = shapely.Polygon([(165.40, -21.60), (165.44, -21.60), (165.40, -21.57)])
    geom = aoi.read_aoi(shapely.geometry.mapping(tri))
    g = aoi.grid(geom, resolution=10)
    ds = xr.Dataset({"v": xr_zeros(g, dtype="float32") + 1})
    out = aoi.clip_to_aoi(ds, geom).v.values
    inside = np.isfinite(out)
    # about half of the bbox is inside a right triangle; the top-left corner is, the top-right not
    assert 0.4 < inside.mean() < 0.6
    assert inside[-3, 2] and not inside[2, -3]


def test_geojson_crs_member_is_honoured(tmp_path):
    """A (pre-RFC 7946) GeoJSON in UTM naming its CRS is read in that CRS, as GDAL reads it;
    a CRS84 member means lon/lat."""
    from pyproj import Transformer

    to_utm = Transformer.from_crs(4326, 32758, always_xy=True)
    x0, y0 = to_utm.transform(BBOX[0], BBOX[1])
    x1, y1 = to_utm.transform(BBOX[2], BBOX[3])
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]

    def named(crs: str) -> dict:
        return {"type": "name", "properties": {"name": crs}}

    utm = {"type": "Polygon", "coordinates": [ring], "crs": named("urn:ogc:def:crs:EPSG::32758")}
    (tmp_path / "utm.geojson").write_text(json.dumps(utm))
    got = aoi.read_aoi(tmp_path / "utm.geojson").geom.bounds
    np.testing.assert_allclose(got, BBOX, atol=2e-4)  # the UTM rectangle's lon/lat bounds
    square = [[list(p) for p in shapely.box(*BBOX).exterior.coords]]
    lonlat = {
        "type": "Polygon",
        "coordinates": square,
        "crs": named("urn:ogc:def:crs:OGC:1.3:CRS84"),
    }
    (tmp_path / "ll.geojson").write_text(json.dumps(lonlat))
    np.testing.assert_allclose(aoi.read_aoi(tmp_path / "ll.geojson").geom.bounds, BBOX)
