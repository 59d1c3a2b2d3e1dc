"""CMR-STAC's side of the VIIRS test archive: granule items as cmr-stac shapes them, served.

`cmr_items` follows cmr-stac's ``granuleToStac`` (``tests/data/items/cmr-stac/VJ113A1_002``):
``id`` = granule UR, ``collection`` = ``<short name>_002``, ``datetime``/``start_datetime``/
``end_datetime`` only, one data asset keyed by the production token of the granule name (an
https ``.h5``), its ``s3_`` twin, the CMR XML ``metadata`` asset, a ``via`` link; no ``proj:``
or ``raster:`` fields. `serve_viirs` serves the granules behind a bearer token and the items
from a STAC API on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pystac

from ..download.hdf5 import TILE_M, X0, Y0

if TYPE_CHECKING:
    from .viirs import ViirsArchive

__all__ = ["ServedViirs", "cmr_items", "serve_viirs"]

_R = 6371007.181
_CMR = "https://cmr.earthdata.nasa.gov"


def _footprint(h: int, v: int, steps: int = 8) -> list[list[float]]:
    """The tile's outline in lon/lat (its edges densified; east of 180° clamped to 180°)."""
    x0, y0 = X0 + h * TILE_M, Y0 - v * TILE_M
    edge = np.linspace(0.0, 1.0, steps + 1)
    xs = np.concatenate([x0 + edge * TILE_M, np.full(steps, x0 + TILE_M),
                         x0 + TILE_M - edge[1:] * TILE_M, np.full(steps, x0)])  # fmt: skip
    ys = np.concatenate([np.full(steps + 1, y0), y0 - edge[1:] * TILE_M,
                         np.full(steps, y0 - TILE_M), y0 - TILE_M + edge[1:] * TILE_M])  # fmt: skip
    lat = np.degrees(ys / _R)
    lon = np.clip(np.degrees(xs / (_R * np.cos(np.radians(lat)))), -180, 180)
    return [[round(float(a), 4), round(float(b), 4)] for a, b in zip(lon, lat, strict=True)]


def cmr_items(archive: ViirsArchive, base_url: str) -> list[pystac.Item]:
    """CMR-STAC-shaped items of the granules, their data hrefs under `base_url`."""
    ring = _footprint(*archive.tile)
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    items = []
    for coll, ids, starts, days in archive.granule_sets():
        items += [_cmr_item(coll, gid, s, days, ring, bbox, base_url, k)
                  for k, (gid, s) in enumerate(zip(ids, starts, strict=True))]  # fmt: skip
    return items


def _cmr_item(
    collection: str,
    gid: str,
    s: date,
    days: int,
    ring: list[list[float]],
    bbox: list[float],
    base_url: str,
    k: int,
) -> pystac.Item:
    """One granule as cmr-stac's ``granuleToStac`` shapes it."""
    short = collection.split("_")[0]
    token = gid.rsplit(".", 1)[1]
    t0 = f"{s:%Y-%m-%d}T00:00:00.000Z"
    t1 = f"{s + timedelta(days=days - 1):%Y-%m-%d}T23:59:59.999Z"
    concept = f"G{3100000000 + 1000 * (short[-2:] == 'A2') + k}-LPCLOUD"
    path = f"lp-prod-protected/{short}.002/{gid}/{gid}.h5"
    doc = {
        "type": "Feature",
        "id": gid,
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "collection": collection,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "bbox": bbox,
        "properties": {"datetime": t0, "start_datetime": t0, "end_datetime": t1},
        "assets": {
            token: {
                "href": f"{base_url.rstrip('/')}/{gid}.h5",
                "title": "Direct Download",
                "description": "Download " + f"{gid}.h5",
                "roles": ["data"],
            },
            f"s3_{token}": {
                "href": f"s3://{path}",
                "title": "S3 Direct Download",
                "roles": ["data"],
            },
            "metadata": {
                "href": f"{_CMR}/search/concepts/{concept}.xml",
                "title": f"CMR XML metadata for {concept}",
                "type": "application/xml",
                "roles": ["metadata"],
            },
        },
        "links": [
            {
                "rel": "via",
                "href": f"{_CMR}/search/concepts/{concept}.json",
                "title": "CMR JSON metadata for item",
                "type": "application/json",
            },
        ],
    }
    return pystac.Item.from_dict(doc)


@dataclass
class ServedViirs:
    """The STAC API (CMR-STAC's role) and the granule server (Earthdata's role)."""

    url: str  #: the STAC API
    files: Any  #: the `FaultyFolder` of the granules (its request log)
    token: str


@contextmanager
def serve_viirs(archive: ViirsArchive, *, token: str = "edl-test-token") -> Iterator[ServedViirs]:
    """Serve `archive`: granules behind a bearer token (401 without it), items from a STAC
    API on 127.0.0.1, for the duration of the block."""
    from .faults import Faults, serve_faulty
    from .stac_api import serve_stac_api

    with serve_faulty(archive.granules, faults=Faults(require_token=token)) as files:
        items = cmr_items(archive, files.url)
        with serve_stac_api(archive.catalog, items=items) as api:
            yield ServedViirs(url=api.url, files=files, token=token)
