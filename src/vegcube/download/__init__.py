"""Download mirror: the assets a recipe needs → local COGs + a static STAC catalog of them.

`download(recipe, to=DIR)` copies, for every scene the recipe finds, only the assets of its
bands (the QA band included) into ``DIR/<collection>/<item>/<asset>.tif`` and writes
``DIR/catalog.json``, a static catalog a recipe can use as ``source.catalog``.

Two ways to copy a file:

- **clip** (default, `clip`): GDAL opens the remote COG (``/vsicurl/``, HTTP range reads),
  reads the window of the AOI bbox in the asset's CRS, snapped outwards to its pixel grid
  plus `margin` pixels, and writes it as a COG with the source's tiling, compression and
  predictor (and overviews by the COG driver's AUTO rule). Verified by validating the COG
  and reading it back.
- **whole** (`http`): HTTP streaming of the unchanged file (`clip=False`, or when the AOI
  window covers the whole asset), resumed from a ``.part`` file with ``Range: bytes=N-``,
  verified by size and, when the item has one, its ``file:checksum`` multihash (`checksum`).

Every file is requested first (a 2-byte ranged GET): archives that stage from tape answer 202
and start staging; ready files are downloaded while the others are polled with backoff until
`max_wait` (`scheduler`). Transient failures (429, 5xx, resets, truncated bodies, bad
checksums) are retried with exponential backoff, honouring ``Retry-After``. Everything is
written under a temporary name and renamed, so a rerun skips complete files and resumes the
rest. `jobs` plans which assets and windows to fetch; `mirror` writes the catalog.

HDF5 granule products (VIIRS VNP13A1/VJ113A1/VJ213A1 from NASA's CMR-STAC, `sensors.viirs`;
SMAP SPL4SMGP/SPL3SMP_E, `sensors.smap`) take another path (`cmr`): each granule is fetched
whole the same way, the layers the recipe needs are converted to COGs on the tile's
sinusoidal grid (`hdf5`) or the AOI window of the EASE-Grid 2.0 global grid, one item per UTC
day (`ease`), so the mirror runs the normal chain. Copernicus SWI, distributed as NetCDF
files without STAC, is read from a folder or a list of URLs (`swi`) into COG items likewise.

Credentials: ``VEGCUBE_HTTP_TOKEN`` (sent as ``Authorization: Bearer …``; an Earthdata token
for NASA's archives) or ``~/.netrc``; never logged, printed or written to the mirror.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..aoi import read_aoi
from ..errors import RecipeError
from ..planning import plan
from ..recipe import load_recipe
from ..sensors.swi import swi_product
from .cmr import granule_product, mirror_granules
from .http import TOKEN_ENV, gdal_http_options
from .jobs import MirroredFile, plan_jobs
from .mirror import Mirror, write_catalog
from .scheduler import DownloadProgress, Scheduler
from .swi import mirror_swi

__all__ = [
    "TOKEN_ENV",
    "DownloadProgress",
    "Mirror",
    "MirroredFile",
    "download",
    "gdal_http_options",
]


def download(
    recipe: Any,
    *,
    to: str | os.PathLike[str],
    workers: int = 4,
    clip: bool = True,
    margin: int = 8,
    retries: int = 5,
    backoff: float = 0.5,
    poll: float = 10.0,
    max_poll: float = 300.0,
    max_wait: float = 3600.0,
    log: Callable[[str], None] | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
) -> Mirror:
    """Mirror the assets `recipe` needs into `to` and write ``to/catalog.json``.

    `recipe` is anything `vegcube.plan` accepts. `margin` pixels are kept around the AOI
    window (`clip=False` copies whole files). A transient failure is retried `retries` times,
    waiting `backoff`·2ⁿ s (or ``Retry-After``). Files still staging are polled every `poll` s,
    doubling up to `max_poll`, until `max_wait` s have passed since the start.

    Raises `RecipeError`/`SourceError` (exit 2) for bad input, an unknown asset, a 404 or a
    refused credential; `DataError` (exit 1) when files cannot be fetched or verified, or are
    still staging after `max_wait` — a rerun resumes where this one stopped.
    """
    if workers < 1:
        raise RecipeError(f"workers: must be ≥ 1, got {workers}")
    if margin < 0:
        raise RecipeError(f"margin: must be ≥ 0 pixels, got {margin}")
    rc = load_recipe(recipe)
    granules = [c for c in rc.source.collections if granule_product(c) is not None]
    files = [c for c in rc.source.collections if swi_product(c) is not None]
    for kind, colls in (("HDF5 granule", granules), ("NetCDF file (Copernicus SWI)", files)):
        if colls and len(colls) < len(rc.source.collections):
            raise RecipeError(
                f"source.collection: {', '.join(colls)} are {kind} products (converted on "
                "download) and cannot be mirrored with the other collections; use one recipe "
                "each"
            )
    p = None if granules or files else plan(rc)
    root = Path(to).absolute()
    root.mkdir(parents=True, exist_ok=True)
    geometry = p.geometry if p is not None else read_aoi(rc.aoi)
    bbox = tuple(float(v) for v in geometry.boundingbox)
    scheduler = Scheduler(
        bbox=bbox,  # type: ignore[arg-type]
        margin=margin,
        workers=workers,
        retries=retries,
        backoff=backoff,
        poll=poll,
        max_poll=max_poll,
        max_wait=max_wait,
        log=log or (lambda msg: None),
        progress=progress,
    )
    t0 = time.monotonic()
    mirror = Mirror(catalog=root / "catalog.json")
    if files:  # SWI NetCDF files (a folder or a URL list): converted, written as COG items
        mirror.files, jobs = mirror_swi(
            rc, root=root, scheduler=scheduler, clip=clip, margin=margin, bbox=bbox,
            log=log or _quiet,
        )  # fmt: skip
    elif p is None:  # HDF5 granules: fetched whole, converted, written as COG items
        mirror.files, jobs = mirror_granules(
            rc, root=root, scheduler=scheduler, clip=clip, margin=margin, log=log or _quiet
        )
    else:
        jobs = plan_jobs(p.items, rc.source.collections, rc.indices, root, clip=clip)
        mirror.files = scheduler.run(jobs)
    mirror.retries, mirror.polls = scheduler.retried, scheduler.polls
    write_catalog(root, rc.name, jobs)
    mirror.seconds = round(time.monotonic() - t0, 3)
    return mirror


def _quiet(msg: str) -> None:
    pass
