"""A corpus of malformed inputs run through the real CLI (issue #6).

Each case checks the exit code (2: bad input found before any work; 1: a data fault found
during the run), that the error names the field or file and what was wrong, and that nothing
already in OUT is lost or overwritten: OUT holds a previous good run's outputs (plus a
sentinel file) before each case and is compared byte for byte afterwards.

Most cases run in-process (`typer.testing.CliRunner`, the same `app` as `python -m vegcube`)
to keep the file fast; the representative ones (`sub=True`) run as real subprocesses.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
import xarray as xr
import yaml
from pyogrio.raw import write
from pyproj import Transformer
from typer.testing import CliRunner

import vegcube
from vegcube.cli import app
from vegcube.testing.demo import DemoArchive, generate_archive

VEGCUBE = [sys.executable, "-m", "vegcube"]
#: the run's journal: a failed run records itself there (DESIGN.md), the products stay as they were
JOURNAL = ("run.json", "state.sqlite", "log/")
#: a scene of the archive whose asset the data-fault cases damage
DAMAGED = "S2B_58KEB_20221208_0_L2A/nir.tif"


@dataclass
class Ctx:
    """What a case needs to write its inputs."""

    tmp: Path
    archive: DemoArchive
    out: Path

    def recipe(self) -> dict[str, Any]:
        """The valid recipe every case starts from (the archive's full chain)."""
        return copy.deepcopy(self.archive.recipe(self.out))

    def write(self, data: dict[str, Any] | str | bytes, name: str = "recipe.yaml") -> Path:
        path = self.tmp / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
        return path

    def file(self, name: str, obj: Any) -> Path:
        """A JSON file (AOI) beside the recipe."""
        path = self.tmp / name
        path.write_text(json.dumps(obj))
        return path

    def damaged_archive(self, damage: Callable[[Path], None]) -> Path:
        """A copy of the archive with `damage` applied to its folder; its catalog path."""
        root = self.tmp / "archive"
        shutil.copytree(self.archive.path, root)
        damage(root / "sentinel-2-l2a")
        return root / "catalog.json"


@dataclass
class Case:
    """One malformed input: how to write it, and what the CLI must answer."""

    make: Callable[[Ctx], Path]  # writes the recipe (and files it names), returns its path
    code: int
    words: tuple[str, ...]  # each must appear in the error message
    sub: bool = False  # run as a real subprocess
    check: Callable[[Ctx], None] | None = None  # more checks on OUT after the run
    marks: tuple[Any, ...] = field(default_factory=tuple)


def edit(**changes: Any) -> Callable[[Ctx], Path]:
    """The valid recipe with `changes` (keys are dotted paths; `CATALOG` = the archive's)."""

    def make(ctx: Ctx) -> Path:
        r = ctx.recipe()
        for dotted, value in changes.items():
            *parents, last = dotted.split(".")
            node = r
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value(ctx) if callable(value) else value
        return ctx.write(r)

    return make


def text(content: str | Callable[[Ctx], str] | bytes, name: str = "recipe.yaml") -> Callable:
    def make(ctx: Ctx) -> Path:
        return ctx.write(content(ctx) if callable(content) else content, name)

    return make


def aoi_file(name: str, obj: Any) -> Callable[[Ctx], Path]:
    """The valid recipe whose AOI is the GeoJSON file `name` holding `obj`."""
    return edit(aoi=lambda ctx: {"path": str(ctx.file(name, obj))})


def square(w: float, s: float, e: float, n: float) -> list[list[float]]:
    return [[w, s], [e, s], [e, n], [w, n], [w, s]]


def bowtie(bbox: tuple[float, float, float, float]) -> list[list[float]]:
    """A polygon whose edges cross: a bow-tie over `bbox`."""
    w, s, e, n = bbox
    return [[w, s], [e, n], [e, s], [w, n], [w, s]]


def utm_across_antimeridian(path: Path) -> Path:
    """A GeoPackage in UTM 60S holding a square from 179.5°E to 179.5°W."""
    tr = Transformer.from_crs(4326, 32760, always_xy=True)
    ring = [tr.transform(x, y) for x, y in square(179.5, -17, 180.5, -16)]
    wkb = np.array([shapely.to_wkb(shapely.Polygon(ring))], dtype=object)
    write(path, wkb, [], [], geometry_type="Polygon", crs="EPSG:32760", driver="GPKG")
    return path


def toml_recipe(ctx: Ctx) -> str:
    """A TOML recipe with an unknown key and a cloud cover out of range."""
    a, q = ctx.archive, json.dumps
    return (
        f'name = "demo"\ncolour = "red"\n[aoi]\nbbox = {list(a.bbox)}\n'
        f"[time]\nstart = {a.start}\nend = {a.end}\n"
        f"[source]\ncatalog = {q(str(a.catalog))}\nmax_cloud_cover = 150\n"
        f"[output]\ndir = {q(str(ctx.out))}\n"
    )


def impossible_date(ctx: Ctx) -> str:
    """The valid recipe with `end: 2023-02-30` written as a YAML date (unquoted)."""
    r = ctx.recipe()
    r["time"]["end"] = "END"
    return yaml.safe_dump(r).replace("END", "2023-02-30")


def garbage(folder: Path) -> None:
    path = folder / DAMAGED
    path.write_bytes(bytes(range(256)) * (path.stat().st_size // 256 + 1))


def truncate(folder: Path) -> None:
    path = folder / DAMAGED
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def clouds_in_first_december_dekad(folder: Path) -> None:
    """Every pixel of the scenes of 2022-12-01..10 flagged cloud high (SCL 9)."""
    for scene in folder.glob("S2?_58KEB_2022120[1-9]_*"):
        with rasterio.open(scene / "scl.tif", "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
            ds.write(np.full((ds.height, ds.width), 9, dtype=ds.dtypes[0]), 1)


def damaged(damage: Callable[[Path], None]) -> Callable[[Ctx], Path]:
    return edit(**{"source.catalog": lambda ctx: str(ctx.damaged_archive(damage))})


def cloudy_dekad_is_nan_with_count_0(ctx: Ctx) -> None:
    comp = xr.open_zarr(ctx.out / "composites.zarr")
    dekad = comp.sel(time="2022-12-01")
    assert int(dekad.ndvi_count.max()) == 0
    assert bool(dekad.ndvi.isnull().all())
    assert int(comp.ndvi_count.sum()) > 0  # the other dekads are observed
    assert (ctx.out / "indicators.zarr").is_dir()


def regions(path: Callable[[Ctx], Path], **spec: Any) -> Callable[[Ctx], Path]:
    """The valid recipe with zonal statistics over the regions file `path(ctx)` writes."""
    return edit(regions=lambda ctx: {"path": str(path(ctx)), "id": "name", **spec})


def districts(ctx: Ctx) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Four districts (A, B, C, D) tiling the archive's AOI: (properties, geometry)."""
    w, s, e, n = ctx.archive.bbox
    mx, my = (w + e) / 2, (s + n) / 2
    boxes = [(w, my, mx, n), (mx, my, e, n), (w, s, mx, my), (mx, s, e, my)]
    return [
        ({"name": name, "code": i}, {"type": "Polygon", "coordinates": [square(*b)]})
        for i, (name, b) in enumerate(zip("ABCD", boxes, strict=True))
    ]


def collection(
    features: list[tuple[dict[str, Any], dict[str, Any]]],
    *,
    nulled: int | None = None,
    shift: float = 0.0,
    same_name: bool = False,
    bowtie_at: int | None = None,
    points: bool = False,
) -> dict[str, Any]:
    """A FeatureCollection of `features`, spoiled as asked."""
    out = []
    for i, (props, geom) in enumerate(features):
        props = {**props, "name": "A"} if same_name and i < 2 else props
        ring = geom["coordinates"][0] if geom["type"] == "Polygon" else None
        if ring is not None:
            ring = [[x + shift, y] for x, y in ring]
            if i == bowtie_at:
                xs, ys = [x for x, _ in ring], [y for _, y in ring]
                ring = bowtie((min(xs), min(ys), max(xs), max(ys)))
            geom = {"type": "Polygon", "coordinates": [ring]}
            if points:
                geom = {"type": "Point", "coordinates": ring[0]}
        out.append(
            {"type": "Feature", "properties": props, "geometry": None if i == nulled else geom}
        )
    return {"type": "FeatureCollection", "features": out}


def toml_valid(
    ctx: Ctx,
    *,
    start: str | None = None,
    cloud: str = "80",
    grid: str = "",
    indices: str = '["ndvi"]',
) -> str:
    """A valid TOML recipe (dates written as TOML dates), with the given parts replaced."""
    a, q = ctx.archive, json.dumps
    return (
        f'name = "demo"\nindices = {indices}\n[aoi]\nbbox = {list(a.bbox)}\n'
        f"[time]\nstart = {start or a.start}\nend = {a.end}\n"
        f"[source]\ncatalog = {q(str(a.catalog))}\nmax_cloud_cover = {cloud}\n{grid}"
        f"[output]\ndir = {q(str(ctx.out))}\n"
    )


def shapefile(ctx: Ctx, *, drop: str) -> Path:
    """The archive's AOI as a shapefile, one of its side files removed."""
    path = ctx.tmp / "aoi.shp"
    wkb = np.array([shapely.to_wkb(shapely.box(*ctx.archive.bbox))], dtype=object)
    write(path, wkb, [np.array(["aoi"], dtype=object)], ["name"], geometry_type="Polygon",
          crs="EPSG:4326", driver="ESRI Shapefile")  # fmt: skip
    path.with_suffix(drop).unlink()
    return path


def two_layer_gpkg(ctx: Ctx) -> Path:
    """A GeoPackage holding two polygon layers over the archive: `aoi` and `regions`."""
    path = ctx.tmp / "two.gpkg"
    wkb = np.array([shapely.to_wkb(shapely.box(*ctx.archive.bbox))], dtype=object)
    for layer in ("aoi", "regions"):
        write(path, wkb, [np.array(["A"], dtype=object)], ["name"], geometry_type="Polygon",
              crs="EPSG:4326", driver="GPKG", layer=layer, append=layer != "aoi")  # fmt: skip
    return path


CASES: dict[str, Case] = {
    # ---------------------------------------------------------------- recipe fields
    "unknown top-level key": Case(edit(colour="red"), 2, ("colour: unknown key",), sub=True),
    "unknown nested key": Case(
        edit(**{"source.cloud_cover": 10}), 2, ("source.cloud_cover: unknown key",)
    ),
    "resolution is text": Case(
        edit(**{"grid.resolution": "ten"}), 2, ("grid.resolution:", "valid number")
    ),
    "indices is not a list": Case(edit(indices="ndvi"), 2, ("indices:", "valid list")),
    "negative resolution": Case(
        edit(**{"grid.resolution": -10}), 2, ("grid.resolution:", "greater than 0")
    ),
    "max_cloud_cover 150": Case(
        edit(**{"source.max_cloud_cover": 150}),
        2,
        ("source.max_cloud_cover:", "less than or equal to 100"),
    ),
    "unknown index": Case(edit(indices=["ndvix"]), 2, ("indices:", "unknown index 'ndvix'")),
    "unknown indicator": Case(
        edit(indicators=["vci", "spi"]), 2, ("indicators.1:", "'vci'", "'drought_class'")
    ),
    "unknown composite period": Case(
        edit(**{"composite.period": "week"}), 2, ("composite.period:", "'dekad' or 'month'")
    ),
    "unknown composite reducer": Case(
        edit(**{"composite.reducer": "mode"}), 2, ("composite.reducer:", "'median'")
    ),
    "gapfill parameter of another method": Case(
        edit(gapfill={"method": "harmonic", "lmbda": 5}),
        2,
        ("gapfill: lmbda: not a parameter of method 'harmonic'", "accepted: harmonics"),
    ),
    "drought thresholds out of order": Case(
        edit(drought_classes={"extreme": 30, "severe": 20}),
        2,
        ("drought_classes:", "extreme < severe < moderate < mild"),
    ),
    "unknown output format": Case(
        edit(**{"output.formats": ["zarr", "tiff"]}), 2, ("output.formats.1:", "'cog'")
    ),
    "dask scheduler not an address": Case(
        edit(**{"dask.scheduler": "localhost:8786"}), 2, ("dask.scheduler:", "tcp://host:8786")
    ),
    "dask scheduler unreachable": Case(
        edit(**{"dask.scheduler": "tcp://127.0.0.1:9"}),
        2,
        ("dask.scheduler: cannot reach tcp://127.0.0.1:9",),
    ),
    "unknown grid crs": Case(edit(**{"grid.crs": "EPSG:999999"}), 2, ("grid.crs:", "EPSG:999999")),
    "YAML syntax error": Case(
        text("name: demo\naoi: {bbox: [1, 2\n"),
        2,
        ("recipe.yaml is not valid YAML", "line 2"),
        sub=True,
    ),
    "empty recipe file": Case(text(""), 2, ("recipe.yaml is empty", "vegcube recipe init")),
    "recipe not a mapping": Case(
        text("- name: demo\n"), 2, ("recipe.yaml must hold a mapping", "got a list")
    ),
    "recipe not text": Case(text(b"\xff\xfe\x00\x81garbage"), 2, ("recipe.yaml is not UTF-8",)),
    "recipe file does not exist": Case(
        lambda ctx: ctx.tmp / "nope.yaml", 2, ("nope.yaml does not exist",), sub=True
    ),
    "TOML syntax error": Case(
        text('name = "demo"\n[aoi\nbbox = [1, 2, 3, 4]\n', "recipe.toml"),
        2,
        ("recipe.toml is not valid TOML", "line 2"),
    ),
    "TOML with bad fields": Case(
        text(toml_recipe, "recipe.toml"),
        2,
        ("colour: unknown key", "source.max_cloud_cover:", "less than or equal to 100"),
    ),
    # ---------------------------------------------------------------- dates
    "reversed time range": Case(
        edit(time={"start": "2023-02-28", "end": "2022-11-01"}),
        2,
        ("time: end 2022-11-01 is before start 2023-02-28",),
    ),
    "reference end before start": Case(
        edit(reference={"start": "2022-12-31", "end": "2022-01-01"}),
        2,
        ("reference: end 2022-01-01 is before start 2022-12-31",),
    ),
    "reference period holds no scene": Case(
        edit(
            time={"start": "2021-01-01", "end": "2023-02-28"},
            reference={"start": "2021-01-01", "end": "2021-06-30", "min_years": 1},
        ),
        2,
        ("reference: 2021-01-01..2021-06-30 holds no scene", "2022-11-03..2023-02-21"),
    ),
    "impossible date 2023-02-30": Case(
        text(impossible_date), 2, ("time.end:", "day value is outside expected range"), sub=True
    ),
    # ---------------------------------------------------------------- AOI
    "bbox longitude 190": Case(
        edit(**{"aoi.bbox": [165, -21, 190, -20]}),
        2,
        ("aoi: bbox must be [west, south, east, north]", "±180", "[165.0, -21.0, 190.0, -20.0]"),
    ),
    "bbox south > north": Case(
        edit(**{"aoi.bbox": [165.0, -21.0, 165.1, -21.5]}), 2, ("aoi: bbox", "south < north")
    ),
    "bbox across the antimeridian": Case(
        edit(**{"aoi.bbox": [179.5, -17.0, -179.5, -16.5]}),
        2,
        ("aoi: bbox [179.5, -17.0, -179.5, -16.5] crosses the antimeridian", "split it at 180°"),
    ),
    "polygon across the antimeridian": Case(
        aoi_file(
            "fiji.geojson", {"type": "Polygon", "coordinates": [square(179.5, -17, 180.5, -16)]}
        ),
        2,
        ("aoi.path", "fiji.geojson", "crosses the antimeridian", "179.5..180.5"),
    ),
    "multipolygon split at the antimeridian": Case(
        aoi_file(
            "fiji-split.geojson",
            {
                "type": "MultiPolygon",
                "coordinates": [[square(179.5, -17, 180, -16)], [square(-180, -17, -179.5, -16)]],
            },
        ),
        2,
        ("aoi.path", "fiji-split.geojson", "crosses the antimeridian", "-180 and 180"),
    ),
    "projected AOI file across the antimeridian": Case(
        lambda ctx: edit(aoi={"path": str(utm_across_antimeridian(ctx.tmp / "fiji.gpkg"))})(ctx),
        2,
        ("aoi.path", "fiji.gpkg", "crosses the antimeridian"),
    ),
    "AOI file does not exist": Case(
        edit(aoi=lambda ctx: {"path": str(ctx.tmp / "nowhere.geojson")}),
        2,
        ("aoi.path: file", "nowhere.geojson does not exist"),
    ),
    "empty FeatureCollection": Case(
        aoi_file("empty.geojson", {"type": "FeatureCollection", "features": []}),
        2,
        ("aoi.path", "empty.geojson", "FeatureCollection has no features"),
    ),
    "self-intersecting polygon": Case(
        lambda ctx: aoi_file(
            "bowtie.geojson",
            {"type": "Polygon", "coordinates": [bowtie(ctx.archive.bbox)]},
        )(ctx),
        2,
        ("aoi.path", "bowtie.geojson", "invalid geometry (Self-intersection"),
        sub=True,
    ),
    "Feature without geometry": Case(
        aoi_file("nogeom.geojson", {"type": "Feature", "properties": {"name": "x"}}),
        2,
        ("aoi.path", "nogeom.geojson", "has no geometry"),
    ),
    "FeatureCollection with a null geometry": Case(
        aoi_file(
            "nullgeom.geojson",
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": None}],
            },
        ),
        2,
        ("aoi.path", "nullgeom.geojson", "feature 0", "has no geometry"),
    ),
    "AOI outside the archive": Case(
        edit(**{"aoi.bbox": [10.0, 10.0, 10.1, 10.1]}),
        2,
        ("no sentinel-2-l2a scenes", "intersect the AOI", "check aoi"),
    ),
    # ---------------------------------------------------------------- source
    "unsupported collection": Case(
        edit(**{"source.collection": "sentinel-3-olci"}),
        2,
        ("source.collection: 'sentinel-3-olci' is not supported", "sentinel-2-l2a"),
        sub=True,
    ),
    "collection not in the catalog": Case(
        edit(**{"source.collection": "landsat-c2-l2"}),
        2,
        ("source.collection: 'landsat-c2-l2' is not in", "catalog.json", "it has: sentinel-2-l2a"),
    ),
    "catalog path does not exist": Case(
        edit(**{"source.catalog": "/no/such/catalog.json"}),
        2,
        ("source.catalog:", "/no/such/catalog.json"),
    ),
    "index needs a band the collection lacks": Case(
        edit(indices=["ndvi", "NDREI"]),
        2,
        ("band 'rededge1'", "its assets are: blue"),
    ),
    "index needing a missing band is named": Case(
        edit(indices=["ndvi", "NDREI"]),
        2,
        ("indices (NDREI): band 'rededge1'",),
    ),
    # ---------------------------------------------------------------- data faults
    "corrupt COG (garbage bytes)": Case(
        damaged(garbage), 1, (DAMAGED, "run the same command again"), sub=True
    ),
    "truncated COG": Case(
        damaged(truncate),
        1,
        (DAMAGED, "run the same command again"),
    ),
    "every pixel cloudy in a dekad": Case(
        damaged(clouds_in_first_december_dekad), 0, (), check=cloudy_dekad_is_nan_with_count_0
    ),
    # ---------------------------------------------------------------- hostile inputs (#18)
    "resolution .inf": Case(
        edit(**{"grid.resolution": float("inf")}), 2, ("grid.resolution:", "finite number")
    ),
    "resolution in degrees on a metric grid": Case(
        edit(**{"grid.resolution": 0.0001}),
        2,
        ("grid.resolution: 0.0001 metre gives a grid of", "grid.max_pixels"),
        sub=True,
    ),
    "min_years above the reference's years": Case(
        edit(**{"reference.min_years": 9}), 2, ("reference.min_years: 9 is more than",)
    ),
    "YAML alias bomb in an AOI member": Case(
        text(lambda ctx: alias_bomb(ctx)), 2, ("not valid YAML", "aliases", "not accepted")
    ),
    "output.dir is a file": Case(
        edit(**{"output.dir": lambda ctx: str(touch(ctx.tmp / "a-file"))}),
        2,
        ("output.dir:", "is not a folder"),
    ),
    "output.dir under a file": Case(
        edit(**{"output.dir": lambda ctx: str(touch(ctx.tmp / "a-file") / "out")}),
        2,
        ("output.dir:", "cannot be created", "is a file"),
    ),
    "output.dir empty": Case(edit(**{"output.dir": ""}), 2, ("output.dir", "must name a folder")),
    "catalog.json that is JSON but not STAC": Case(
        edit(**{"source.catalog": lambda ctx: str(ctx.file("notstac.json", {"hello": 1}))}),
        2,
        ("source.catalog: cannot read static catalog", "notstac.json"),
    ),
    "catalog.json that is a JSON list": Case(
        edit(**{"source.catalog": lambda ctx: str(ctx.file("list.json", [1, 2]))}),
        2,
        ("source.catalog: cannot read static catalog", "list.json"),
    ),
    "catalog whose item file is missing": Case(
        damaged(lambda folder: next(folder.glob("S2*/*.json")).unlink()),
        2,
        ("source.catalog: cannot read static catalog", "catalog.json"),
        sub=True,
    ),
    # ---------------------------------------------------------------- regions files (#18)
    "regions file does not exist": Case(
        edit(regions=lambda ctx: {"path": str(ctx.tmp / "districts.geojson"), "id": "name"}),
        2,
        ("regions.path: file", "districts.geojson does not exist"),
    ),
    "regions file is not a vector file": Case(
        regions(lambda ctx: ctx.write("name,geometry\nTene,nowhere\n", "districts.txt")),
        2,
        ("regions.path: cannot read", "districts.txt", "accepted: a vector file"),
    ),
    "regions FeatureCollection is empty": Case(
        regions(lambda ctx: ctx.file("empty.geojson", collection([]))),
        2,
        ("regions.path:", "empty.geojson has no features"),
    ),
    "region without geometry": Case(
        regions(lambda ctx: ctx.file("nogeom.geojson", collection(districts(ctx), nulled=1))),
        2,
        ("regions.path: region 'B' of nogeom.geojson has no geometry",),
    ),
    "regions id field does not exist": Case(
        regions(lambda ctx: ctx.file("d.geojson", collection(districts(ctx))), id="district"),
        2,
        ("regions.id: 'district' is not an attribute of d.geojson", "it has: name, code"),
    ),
    "regions all outside the AOI": Case(
        regions(lambda ctx: ctx.file("far.geojson", collection(districts(ctx), shift=5.0))),
        2,
        ("regions.path: none of the 4 regions of far.geojson intersects the AOI",),
    ),
    "regions with duplicate ids": Case(
        regions(lambda ctx: ctx.file("dup.geojson", collection(districts(ctx), same_name=True))),
        2,
        ("regions.id: 'name' is not unique in dup.geojson", "repeated: A"),
    ),
    "region with an invalid geometry": Case(
        regions(lambda ctx: ctx.file("bow.geojson", collection(districts(ctx), bowtie_at=2))),
        2,
        ("regions.path: region 'C' of bow.geojson is invalid", "Self-intersection"),
    ),
    "regions are points": Case(
        regions(lambda ctx: ctx.file("pts.geojson", collection(districts(ctx), points=True))),
        2,
        ("regions.path: region 'A' of pts.geojson has a Point, not a polygon",),
    ),
    "regions layer not in the GeoPackage": Case(
        regions(lambda ctx: two_layer_gpkg(ctx), layer="districts"),
        2,
        ("regions.layer: 'districts' is not a layer of two.gpkg", "it has: aoi, regions"),
    ),
    "regions GeoPackage of several layers, none named": Case(
        regions(lambda ctx: two_layer_gpkg(ctx)),
        2,
        ("regions.layer:", "two.gpkg has 2 layers (aoi, regions)", "name one"),
    ),
    # ---------------------------------------------------------------- TOML and YAML quirks (#18)
    "TOML datetime with a time of day": Case(
        text(lambda ctx: toml_valid(ctx, start="2022-11-01T10:30:00Z"), "recipe.toml"),
        2,
        ("time.start:", "should have zero time", "YYYY-MM-DD"),
    ),
    "TOML inf resolution": Case(
        text(lambda ctx: toml_valid(ctx, grid="[grid]\nresolution = inf\n"), "recipe.toml"),
        2,
        ("grid.resolution:", "finite number"),
    ),
    "TOML nan cloud cover": Case(
        text(lambda ctx: toml_valid(ctx, cloud="nan"), "recipe.toml"),
        2,
        ("source.max_cloud_cover:", "finite number"),
    ),
    "TOML duplicate key": Case(
        text(lambda ctx: toml_valid(ctx, cloud="80\nmax_cloud_cover = 60"), "recipe.toml"),
        2,
        ("recipe.toml is not valid TOML", "line 11", "`max_cloud_cover = 60`"),
    ),
    "TOML array of mixed types": Case(
        text(lambda ctx: toml_valid(ctx, indices='["ndvi", 2]'), "recipe.toml"),
        2,
        ("indices.1:", "valid string"),
    ),
    "YAML duplicate key": Case(
        text(lambda ctx: yaml.safe_dump(ctx.recipe()) + "indices: [ndvi]\n"),
        2,
        ("recipe.yaml is not valid YAML", "key 'indices' is given twice", "keep one"),
    ),
    "YAML .nan threshold": Case(
        edit(**{"drought_classes.zscore_max": float("nan")}),
        2,
        ("drought_classes.zscore_max:", "finite number"),
    ),
    # ---------------------------------------------------------------- AOI files (#18)
    "shapefile without its .shx": Case(
        edit(aoi=lambda ctx: {"path": str(shapefile(ctx, drop=".shx"))}),
        2,
        ("aoi.path:", "aoi.shp", "aoi.shx", "is missing"),
    ),
    "shapefile without its .prj": Case(
        edit(aoi=lambda ctx: {"path": str(shapefile(ctx, drop=".prj"))}),
        2,
        ("aoi.path:", "aoi.shp has no CRS", "save it with one"),
    ),
    "regions shapefile without its .dbf": Case(
        regions(lambda ctx: shapefile(ctx, drop=".dbf")),
        2,
        ("regions.path: aoi.shp is a shapefile whose aoi.dbf is missing",),
    ),
    "GeoJSON with an unknown CRS member": Case(
        aoi_file(
            "crs.geojson",
            {
                "type": "Polygon",
                "coordinates": [square(550000, 7600000, 551000, 7601000)],
                "crs": {"type": "name", "properties": {"name": "EPSG:999999"}},
            },
        ),
        2,
        ("aoi.path", "crs.geojson", "crs member", "EPSG:999999"),
    ),
    "GeoPackage of several layers, none named": Case(
        edit(aoi=lambda ctx: {"path": str(two_layer_gpkg(ctx))}),
        2,
        ("aoi.layer:", "two.gpkg has 2 layers (aoi, regions)", "name one"),
    ),
    "AOI is a line": Case(
        aoi_file(
            "line.geojson", {"type": "LineString", "coordinates": square(165, -21, 165.1, -20.9)}
        ),
        2,
        ("aoi.path", "line.geojson", "needs a Polygon or MultiPolygon, got LineString"),
    ),
    "AOI is points": Case(
        aoi_file(
            "points.geojson",
            collection([({"name": "p"}, {"type": "Point", "coordinates": [165.0, -21.0]})]),
        ),
        2,
        ("aoi.path", "points.geojson", "needs a Polygon or MultiPolygon, got Point"),
    ),
    "AOI polygon of zero area": Case(
        aoi_file(
            "flat.geojson",
            {
                "type": "Polygon",
                "coordinates": [[[165, -21], [165.1, -21], [165.2, -21], [165, -21]]],
            },
        ),
        2,
        ("aoi.path", "flat.geojson", "the polygon has zero area"),
    ),
    # ---------------------------------------------------------------- numbers (#18)
    "resolution 0": Case(edit(**{"grid.resolution": 0}), 2, ("grid.resolution:", "greater than 0")),
    "negative max_cloud_cover": Case(
        edit(**{"source.max_cloud_cover": -5}),
        2,
        ("source.max_cloud_cover:", "greater than or equal to 0"),
    ),
    "huge integer resolution": Case(
        edit(**{"grid.resolution": 10**400}), 2, ("grid.resolution:", "valid number")
    ),
    "huge dilation": Case(
        edit(**{"mask.dilate_m": 10**12}), 2, ("mask.dilate_m:", "less than or equal to 10000")
    ),
    "boolean resolution": Case(
        edit(**{"grid.resolution": True}), 2, ("grid.resolution:", "a number, not true")
    ),
    "boolean in the SCL classes": Case(
        edit(**{"mask.sentinel2_scl": [3, False, 9]}),
        2,
        ("mask.sentinel2_scl: item 1: a number, not false",),
    ),
    "gapfill parameter of the wrong type": Case(
        edit(gapfill={"method": "whittaker", "lmbda": "strong"}),
        2,
        ("gapfill: lmbda: 'strong' is not a finite number (default 10.0)",),
    ),
    # ---------------------------------------------------------------- dates (#18)
    "start before 1972": Case(
        edit(time={"start": "1960-01-01", "end": "2023-02-28"}),
        2,
        ("time.start: 1960-01-01 is before 1972-01-01", "Landsat"),
    ),
    "end in the far future": Case(
        edit(time={"start": "2022-11-01", "end": "2999-12-31"}),
        2,
        ("time.end: 2999-12-31 is after", "next year"),
    ),
    "time range with no scene": Case(
        edit(time={"start": "2020-01-01", "end": "2020-12-31"}, reference=None, indicators=[]),
        2,
        ("no sentinel-2-l2a scenes", "between 2020-01-01 and 2020-12-31", "check aoi, time"),
    ),
}


def touch(path: Path) -> Path:
    path.write_text("a file, not a folder")
    return path


def alias_bomb(ctx: Ctx) -> str:
    """The valid recipe whose inline AOI Feature carries an extra member of nested aliases
    (9 levels of 9: 387 million strings once expanded)."""
    r = ctx.recipe()
    w, s, e, n = ctx.archive.bbox
    r["aoi"] = {"geometry": "GEOMETRY"}
    levels = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    feature = (
        "\n    type: Feature\n    properties: {}\n"
        f"    geometry: {{type: Polygon, coordinates: [{json.dumps(square(w, s, e, n))}]}}\n"
        "    bomb:\n" + "".join(f"      {line}\n" for line in levels)
    )
    return yaml.safe_dump(r).replace(" GEOMETRY\n", feature)


# ------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> DemoArchive:
    """Four months, 400 m × 400 m: 24 scenes."""
    return generate_archive(
        tmp_path_factory.mktemp("bad_inputs_archive"), size=40, start="2022-11-01", end="2023-02-28"
    )


@pytest.fixture(scope="module")
def previous(archive: DemoArchive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT of a previous good run of the archive's recipe (zarr stores and COGs)."""
    out = tmp_path_factory.mktemp("previous") / "out"
    vegcube.run(archive.recipe(out))
    return out


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under `folder`."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_cli(recipe: Path, *, sub: bool, cwd: Path) -> tuple[int, str]:
    """`vegcube run RECIPE`: exit code and stderr."""
    if sub:
        res = subprocess.run(
            [*VEGCUBE, "run", str(recipe)], capture_output=True, text=True, cwd=cwd, timeout=120
        )
        return res.returncode, res.stderr
    got = CliRunner().invoke(app, ["run", "-q", str(recipe)])
    assert got.exception is None or isinstance(got.exception, SystemExit), repr(got.exception)
    return got.exit_code, got.stderr


# ------------------------------------------------------------------------- the corpus


@pytest.mark.parametrize("name", [pytest.param(k, id=k, marks=c.marks) for k, c in CASES.items()])
def test_bad_input(name: str, archive: DemoArchive, previous: Path, tmp_path: Path) -> None:
    case = CASES[name]
    ctx = Ctx(tmp_path, archive, tmp_path / "out")
    if case.code == 0:  # a good run may replace the products; a file of the user's stays
        ctx.out.mkdir()
    else:
        shutil.copytree(previous, ctx.out)
        (ctx.out / "composites.zarr" / "sentinel").write_text("from an earlier run")
    (ctx.out / "keep.txt").write_text("the user's own file")
    before = snapshot(ctx.out)
    recipe = case.make(ctx)

    code, stderr = run_cli(recipe, sub=case.sub, cwd=tmp_path)

    assert code == case.code, stderr
    assert "Traceback" not in stderr, stderr
    after = snapshot(ctx.out)
    if case.code == 0:
        assert after["keep.txt"] == before["keep.txt"]
    else:
        message = " ".join(stderr[stderr.index("error (") :].split())
        for words in case.words:
            assert words in message, message
        if case.code == 2:  # found before any work: OUT untouched, nothing added
            assert after == before
        else:  # failed during the run: the products are kept whole; the journal says why
            kept = {k: v for k, v in before.items() if not k.startswith(JOURNAL)}
            assert {k: after.get(k) for k in kept} == kept
            record = json.loads((ctx.out / "run.json").read_text())
            assert record["status"] == "failed" and DAMAGED in record["error"], record
    if case.check is not None:
        case.check(ctx)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


# ------------------------------------------------------------------------- what a failure kept


@pytest.fixture(scope="module")
def thirteen_months(tmp_path_factory: pytest.TempPathFactory) -> DemoArchive:
    """2022-01..2023-01, one scene every 10 days: 39 dekads, written in two blocks (36 + 3)."""
    return generate_archive(
        tmp_path_factory.mktemp("thirteen"), size=40, revisit_days=10,
        start="2022-01-01", end="2023-01-31",
    )  # fmt: skip


def test_failure_mid_run_says_what_is_kept_and_a_rerun_resumes(
    thirteen_months: DemoArchive, tmp_path: Path
) -> None:
    """A corrupt scene of January 2023: the first block of composites (2022) is written and
    kept, the rest is not; the message says exactly that, and a rerun resumes from it."""
    archive = tmp_path / "archive"
    shutil.copytree(thirteen_months.path, archive)
    scene = archive / "sentinel-2-l2a" / "S2B_58KEB_20230112_0_L2A" / "nir.tif"
    good = scene.read_bytes()
    scene.write_bytes(bytes(range(256)) * (len(good) // 256 + 1))
    out = tmp_path / "out"
    r = thirteen_months.recipe(out)
    r["source"]["catalog"] = str(archive / "catalog.json")
    r["reference"]["min_years"] = 1
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(r))

    code, stderr = run_cli(recipe, sub=False, cwd=tmp_path)

    assert code == 1, stderr
    message = " ".join(stderr[stderr.index("error (") :].split())
    assert "S2B_58KEB_20230112_0_L2A/nir.tif" in message
    assert (
        f"Kept in {out}: composites (1 of 2 blocks, 2022-01-01..2022-12-21); "
        "not written yet: reference, indicators, cog." in message
    ), message
    assert "run.json records the failure" in message and "resumes from what is kept" in message
    # what the message says is what is there: 2022's 36 dekads written, January 2023 not
    partial = xr.open_zarr(out / ".composites.zarr.partial")
    assert partial.sizes["time"] == 39
    observed = partial.ndvi.isel(time=slice(0, 36)).notnull().any(dim=("y", "x"))
    assert int(observed.sum()) >= 20  # dekads with a clear scene (one every 10 days)
    assert bool(partial.ndvi.isel(time=slice(36, None)).isnull().all())
    assert not (out / "composites.zarr").exists() and not (out / "cog").exists()

    scene.write_bytes(good)  # the cause fixed: the same command again, in another process
    res = subprocess.run([*VEGCUBE, "run", "-q", str(recipe)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    log = sorted((out / "log").glob("run-*.log"))[-1].read_text()
    assert "resuming" in log
    db = sqlite3.connect(out / "state.sqlite")
    pids = dict(db.execute("SELECT unit, pid FROM units WHERE stage = 'composites'").fetchall())
    db.close()
    assert pids["time 0-36"] == os.getpid()  # kept from the failed run: not recomputed
    assert pids["time 36-39"] != os.getpid()  # written by the rerun


def test_failure_before_any_output_says_nothing_was_written(
    archive: DemoArchive, tmp_path: Path
) -> None:
    """A corrupt scene in the only block of composites: no output kept, and the message
    says so instead of claiming kept outputs; an OUT of an earlier run is not this run's."""
    ctx = Ctx(tmp_path, archive, tmp_path / "out")
    recipe = damaged(garbage)(ctx)
    code, stderr = run_cli(recipe, sub=False, cwd=tmp_path)
    assert code == 1, stderr
    message = " ".join(stderr[stderr.index("error (") :].split())
    assert f"This run wrote no output to {ctx.out} yet; run.json records the failure." in message
    assert "Kept in" not in message and "Outputs already written are kept" not in message
    assert not list(ctx.out.glob("*.zarr")) and not (ctx.out / "cog").exists()
