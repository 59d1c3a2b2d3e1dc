"""The private odc-stac / odc-loader names vegcube needs, in one place.

odc-stac exposes no public hook for these; pin-compatible upgrades should only need this
module checked (and `tests/unit/test_cube.py`, which reads through both).

- `StacAuxReader` (``odc.stac._mdtools``): the reader of auxiliary (non-raster) metadata that
  `odc.stac.load` builds by default; passing our own driver means passing it too.
- `RioDriver` / `RioReader` (``odc.loader._rio``): odc-loader's rasterio driver and reader,
  subclassed by `cube` so that a failed read names the asset and retries a truncated remote
  read (odc re-raises rasterio's bare "Read failed").
"""

from __future__ import annotations

from odc.loader._rio import RioDriver, RioReader
from odc.stac._mdtools import StacAuxReader

__all__ = ["RioDriver", "RioReader", "StacAuxReader"]
