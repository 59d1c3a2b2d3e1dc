"""Find the scenes: STAC APIs (pystac-client) and static catalogs (pystac), filtered alike.

Named catalogs (`CATALOGS`) know their URL, how their assets are signed and which environment
variables hold credentials. API searches page through the results, retry HTTP 429/5xx with
exponential backoff (honouring ``Retry-After``), send the cloud-cover limit to the server when
it can filter on it, and keep the client-side filters as a safety net. The same scene published
twice (two processing runs) is kept once: the newest.

- `names`: the known catalogs, `resolve_catalog`, asset signers;
- `query`: `search`, the one entry point, and its client-side filters;
- `api`: STAC API searches and their `retry_policy`;
- `static`: static catalogs walked over disk or HTTP (`RetryingStacIO`);
- `scenes`: one acquisition used once (`scene_key`, `deduplicate`, `one_per_acquisition`);
- `storage`: GDAL options for object storage (`asset_env`, `storage_env`, `requester_pays`);
- `summary`: clear-sky scenes per month and catalog latency (`published`, `latency`).
"""

from __future__ import annotations

from ._util import Grid, acquired, asset_grid, scene_day
from .api import _cloud_params as _cloud_params
from .api import retry_policy
from .names import CATALOGS, KNOWN_CATALOGS, NamedCatalog, Signer, resolve_catalog, signer_for
from .query import search
from .scenes import deduplicate, one_per_acquisition, scene_key
from .static import RetryingStacIO
from .storage import asset_env, requester_pays, storage_env
from .summary import PUBLISHED_FIELDS, MonthSummary, latency, monthly_summary, published
from .summary import _spread as _spread

__all__ = [
    "CATALOGS",
    "KNOWN_CATALOGS",
    "PUBLISHED_FIELDS",
    "Grid",
    "MonthSummary",
    "NamedCatalog",
    "RetryingStacIO",
    "Signer",
    "acquired",
    "asset_env",
    "asset_grid",
    "deduplicate",
    "latency",
    "monthly_summary",
    "one_per_acquisition",
    "published",
    "requester_pays",
    "resolve_catalog",
    "retry_policy",
    "scene_day",
    "scene_key",
    "search",
    "signer_for",
    "storage_env",
]
