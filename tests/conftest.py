"""Fixtures shared by the unit and end-to-end tests: archives generated once per session
(deterministic, seed 42). Tests under `e2e/` (the CLI, `vegcube.run`, the whole chain) are
marked `slow`: `pytest -m "not slow"` is the fast loop (the steps' own tests, `unit/`).

Plain helpers shared by both live in `tests/helpers.py` (this folder is on `sys.path`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pystac
import pytest

from vegcube import aoi, catalog, cube, mask
from vegcube.testing import (
    DemoArchive,
    ServedStacApi,
    generate_archive,
    generate_l1c_archive,
    serve_stac_api,
)
from vegcube.testing.landsat import LandsatArchive, generate_landsat_archive

# assertions in the shared helpers explain their failures as the tests' own do
pytest.register_assert_rewrite("helpers")

E2E = Path(__file__).parent / "e2e"
#: items exactly as the catalogs published them (provenance in the READMEs beside them)
REAL_ITEMS = Path(__file__).parent / "data" / "items"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests under `e2e/` `slow`, by their directory."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> DemoArchive:
    """Five months across the 2022-01-25 processing-baseline switch, 600 m × 600 m."""
    return generate_archive(
        tmp_path_factory.mktemp("small"),
        size=60,
        revisit_days=5,
        start="2021-11-01",
        end="2022-03-31",
    )


@pytest.fixture(scope="session")
def small_no_raster_bands(tmp_path_factory) -> DemoArchive:
    """The same as `small` but items without `raster:bands`: the baseline rule must apply."""
    return generate_archive(
        tmp_path_factory.mktemp("small_norb"),
        size=60,
        revisit_days=5,
        start="2021-11-01",
        end="2022-03-31",
        raster_bands=False,
    )


@pytest.fixture(scope="module")
def fetch_archive(tmp_path_factory) -> DemoArchive:
    """Two months, 800 m × 800 m: 10 m bands are 80 px, 20 m bands 40 px; a fresh one per test
    module (the download tests: unit/test_download.py, e2e/test_fetch.py)."""
    return generate_archive(
        tmp_path_factory.mktemp("fetch"), size=80, start="2023-01-01", end="2023-02-28"
    )


# --------------------------------------------------------------------------- L1C (s2cloudless)

#: an L2A scene of `l1c_archive` without its L1C
L1C_MISSING = "2022-02-06"


@pytest.fixture(scope="session")
def l1c_archive(tmp_path_factory) -> DemoArchive:
    """Sentinel-2 L2A and L1C across the 2022-01-25 baseline switch (DN + 1000), 600 m."""
    pytest.importorskip("s2cloudless")
    demo = generate_archive(
        tmp_path_factory.mktemp("cloudprob"),
        size=60,
        start="2021-12-01",
        end="2022-03-31",
        raster_bands=False,
    )
    generate_l1c_archive(demo, missing=[L1C_MISSING])
    return demo


@pytest.fixture(scope="session")
def l1c_cubes(l1c_archive) -> tuple[Any, Any, Any]:
    """(L2A scenes, L1C scenes, lazy L1C cloud probability) on the run's grid."""
    geom = aoi.read_aoi(list(l1c_archive.bbox))
    grid = aoi.grid(geom, resolution=10)
    d0, d1 = dt.date.fromisoformat(l1c_archive.start), dt.date.fromisoformat(l1c_archive.end)

    def items(coll):
        bbox = tuple(geom.boundingbox)
        return catalog.search(
            str(l1c_archive.catalog), collection=coll, bbox=bbox, start=d0, end=d1
        )

    l1c = cube.load(
        items("sentinel-2-l1c"), list(mask.CLOUD_PROBABILITY_BANDS), grid=grid, chunk=32
    )
    scenes = cube.load(items("sentinel-2-l2a"), ["red", "nir", "scl"], grid=grid)
    return scenes, l1c, mask.cloud_probability(l1c)


# --------------------------------------------------------------------------- Sentinel-2 + Landsat

S2_LANDSAT = ["sentinel-2-l2a", "landsat-c2-l2"]


@pytest.fixture(scope="session")
def s2_landsat(tmp_path_factory) -> tuple[DemoArchive, LandsatArchive]:
    """One static catalog holding both archives over the same land (seed, size); on the
    ground NDVI_landsat = 0.9 × NDVI_s2 + 0.05 (`ndvi_gain`, `ndvi_offset`)."""
    root = tmp_path_factory.mktemp("s2_landsat")
    start, end = "2021-11-01", "2022-03-31"
    s2 = generate_archive(root, size=60, revisit_days=5, start=start, end=end)
    ls = generate_landsat_archive(
        root, size=60, start=start, end=end, ndvi_gain=0.9, ndvi_offset=0.05
    )
    assert ls.bbox == s2.bbox
    return s2, ls


@pytest.fixture(scope="session")
def s2_landsat_scenes(s2_landsat) -> tuple[list, Any]:
    """The items of both sensors and one computed cube of them (30 m)."""
    s2, _ = s2_landsat
    items = []
    for coll in S2_LANDSAT:
        items += catalog.search(
            str(s2.catalog),
            collection=coll,
            bbox=s2.bbox,
            start=dt.date(2021, 11, 1),
            end=dt.date(2022, 3, 31),
        )
    grid = aoi.grid(aoi.read_aoi(s2.bbox), resolution=30)
    bands = {"sentinel-2-l2a": ["red", "nir", "scl"], "landsat-c2-l2": ["red", "nir", "qa_pixel"]}
    return items, cube.load(items, bands, grid=grid).compute()


# --------------------------------------------------------------------------- STAC API

#: items per page of `stac_api` (24 scenes → 5 pages)
STAC_API_PAGE = 5


@pytest.fixture(scope="session")
def stac_archive(tmp_path_factory) -> DemoArchive:
    """Four months of a 400 m tile, a scene every 5 days (24 items) across the drought's start."""
    return generate_archive(
        tmp_path_factory.mktemp("api_archive"), size=40, start="2022-12-01", end="2023-03-31"
    )


@pytest.fixture(scope="session")
def stac_api(stac_archive) -> Iterator[ServedStacApi]:
    """`stac_archive` served as a real STAC API (rustac) on 127.0.0.1."""
    pytest.importorskip(
        "rustac", reason="the STAC API tests need `rustac` (pip install vegcube[test])"
    )
    with serve_stac_api(stac_archive.catalog, page_size=STAC_API_PAGE) as served:
        yield served


# --------------------------------------------------------------------------- real items


@pytest.fixture(scope="session")
def real_item() -> Callable[[str, str, str], pystac.Item]:
    """`real_item(catalog, collection, item_id)`: a published item of `tests/data/items`."""

    def load(catalog_name: str, collection: str, item_id: str) -> pystac.Item:
        path = REAL_ITEMS / catalog_name / collection / f"{item_id}.json"
        return pystac.Item.from_dict(json.loads(path.read_text()))

    return load
