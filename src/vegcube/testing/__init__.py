"""Helpers for testing with vegcube: a deterministic demo archive and a local HTTP server.

`generate_archive` writes a realistic Sentinel-2 L2A static STAC catalog of COGs with a
drought of known place and time; `serve_folder` serves any folder over HTTP with Range
(`serve_faulty` too, injecting 500s, resets, truncation, 429s and tape staging);
`serve_stac_api` serves a static catalog as a real STAC API (rustac) on 127.0.0.1;
`generate_landsat_archive` (Landsat C2 L2, joining a catalog), `generate_modis_archive`
(MOD13Q1, sinusoidal), `generate_modis_lst_archive` (MOD11A2/MOD21A2 8-day 1 km LST) and
`generate_sentinel1_archive` (Sentinel-1 RTC γ⁰ with speckle, both orbit directions)
model the demo's land for multi-sensor tests; `generate_l1c_archive` adds the Sentinel-2
L1C scenes of a demo archive (same clouds) for cloud probability; `generate_global_archive`
joins MODIS, VIIRS (mirrored by `vegcube download`) and SLSTR with sensor switches (the global
chain's demo). They all render one synthetic world (`world`: land cover, phenology, a
drought of known place and time).
`assert_composites`, `assert_reference` and `assert_indicators` check that a cube follows
the data conventions (dims, CRS, period coordinates, dtypes, valid ranges), as `xarray.testing`
does.
"""

from __future__ import annotations

from .asserts import assert_composites, assert_indicators, assert_reference
from .demo import DemoArchive, generate_archive
from .faults import Faults, FaultyFolder, serve_faulty
from .global_demo import GlobalArchive, generate_global_archive
from .l1c import L1CArchive, cloud_truth, generate_l1c_archive
from .landsat import LandsatArchive, generate_landsat_archive
from .modis import ModisArchive, generate_modis_archive
from .modis_lst import ModisLstArchive, generate_modis_lst_archive
from .sentinel1 import Sentinel1Archive, generate_sentinel1_archive
from .server import ServedFolder, serve_folder
from .stac_api import ApiRequest, ServedStacApi, serve_stac_api
from .world import LANDCOVER_CLASSES, Model, build_model

__all__ = [
    "LANDCOVER_CLASSES",
    "ApiRequest",
    "DemoArchive",
    "Faults",
    "FaultyFolder",
    "GlobalArchive",
    "L1CArchive",
    "LandsatArchive",
    "Model",
    "ModisArchive",
    "ModisLstArchive",
    "Sentinel1Archive",
    "ServedFolder",
    "ServedStacApi",
    "assert_composites",
    "assert_indicators",
    "assert_reference",
    "build_model",
    "cloud_truth",
    "generate_archive",
    "generate_global_archive",
    "generate_l1c_archive",
    "generate_landsat_archive",
    "generate_modis_archive",
    "generate_modis_lst_archive",
    "generate_sentinel1_archive",
    "serve_faulty",
    "serve_folder",
    "serve_stac_api",
]
