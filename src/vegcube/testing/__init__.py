"""Helpers for testing with vegcube: a deterministic demo archive and a local HTTP server.

`generate_archive` writes a realistic Sentinel-2 L2A static STAC catalog of COGs with a
drought of known place and time; `serve_folder` serves any folder over HTTP with Range.
"""

from __future__ import annotations

from .demo import LANDCOVER_CLASSES, DemoArchive, generate_archive
from .server import ServedFolder, serve_folder

__all__ = ["LANDCOVER_CLASSES", "DemoArchive", "ServedFolder", "generate_archive", "serve_folder"]
