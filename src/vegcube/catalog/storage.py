"""Object-storage access: the GDAL options reading a catalog's assets needs (CDSE's S3
endpoint and keys, requester-pays or anonymous ``s3://`` buckets), secrets never shown."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pystac

from ..errors import SourceError
from .names import _named

__all__ = ["asset_env", "gdal_http_options", "requester_pays", "storage_env"]

_CDSE_S3_ENDPOINT = "eodata.dataspace.copernicus.eu"


class _Masked(dict[str, str]):
    """GDAL options holding secrets: their repr never shows the values."""

    def __repr__(self) -> str:
        shown = {k: ("***" if _secret(k) else v) for k, v in self.items()}
        return f"{type(self).__name__}({shown!r})"

    __str__ = __repr__


def _secret(key: str) -> bool:
    return any(w in key.upper() for w in ("SECRET", "KEY_ID", "TOKEN", "PASSWORD"))


def asset_env(catalog: str) -> dict[str, str]:
    """GDAL/rasterio options needed to read the assets of `catalog` ({} if none are needed).

    ``cdse``: its assets are ``s3://eodata/...`` objects on CDSE's own S3 endpoint, read with
    the S3 keys you generate in your CDSE account, taken from ``CDSE_S3_ACCESS_KEY`` and
    ``CDSE_S3_SECRET_KEY``. The values are never printed (the mapping's repr masks them).
    """
    named = _named(catalog)
    if named is None or named.name != "cdse":
        return {}
    missing = [v for v in named.credentials if not os.environ.get(v)]
    if missing:
        raise SourceError(
            f"reading 'cdse' assets needs your CDSE S3 keys in the environment "
            f"variables {' and '.join(named.credentials)}; not set: {', '.join(missing)} "
            "(create keys at https://eodata-s3keysmanager.dataspace.copernicus.eu)",
            field="source.catalog",
        )
    return _Masked(
        AWS_S3_ENDPOINT=_CDSE_S3_ENDPOINT,
        AWS_VIRTUAL_HOSTING="FALSE",
        AWS_HTTPS="YES",
        AWS_ACCESS_KEY_ID=os.environ[named.credentials[0]],
        AWS_SECRET_ACCESS_KEY=os.environ[named.credentials[1]],
    )


def requester_pays(item: pystac.Item, key: str) -> bool:
    """Whether asset `key` of `item` lies in a requester-pays bucket: storage extension v1
    (``storage:requester_pays`` on the asset or the item) or v2 (every ``storage:schemes``
    entry the asset's ``storage:refs`` name has ``requester_pays: true``)."""
    asset = item.assets[key]
    for where in (asset.extra_fields, item.properties):
        if where.get("storage:requester_pays") is True:
            return True
    schemes = item.properties.get("storage:schemes") or {}
    refs = [r for r in asset.extra_fields.get("storage:refs") or list(schemes) if r in schemes]
    # CDSE lists its own free endpoint beside CREODIAS' requester-pays one: free if one is
    return bool(refs) and all(schemes[r].get("requester_pays") is True for r in refs)


def storage_env(items: Iterable[pystac.Item]) -> dict[str, str]:
    """GDAL options the object-storage hrefs of the items' assets need.

    ``s3://`` hrefs in a requester-pays bucket (Earth Search ``landsat-c2-l2``:
    ``s3://usgs-landsat``) get ``AWS_REQUEST_PAYER=requester``: GDAL then signs with your AWS
    credentials (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` or an
    instance role) and your account pays the transfer. Other ``s3://`` hrefs are read
    anonymously (``AWS_NO_SIGN_REQUEST=YES``) unless AWS credentials are set. Options already
    set in the environment win.
    """
    s3 = pays = False
    for item in items:
        for key, asset in item.assets.items():
            if asset.href.startswith("s3://"):
                s3 = True
                pays = pays or requester_pays(item, key)
    opts: dict[str, str] = {}
    if pays:
        opts["AWS_REQUEST_PAYER"] = "requester"
    elif s3 and not _aws_credentials():
        opts["AWS_NO_SIGN_REQUEST"] = "YES"
    return {k: os.environ.get(k, v) for k, v in opts.items()}


def _aws_credentials() -> bool:
    names = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")
    return any(os.environ.get(n) for n in names) or Path("~/.aws/credentials").expanduser().exists()


def gdal_http_options() -> dict[str, str]:
    """GDAL config options that make ``/vsicurl/`` reads retry transient HTTP failures.

    GDAL ≥ 3.10 retries the listed codes (and connection resets) with exponential backoff
    from ``GDAL_HTTP_RETRY_DELAY`` (it does not read ``Retry-After``): 0.1 s, the base delay
    of the AWS SDKs, about doubling each time (10 retries span minutes); a stalled transfer
    (< 1 byte/s for 60 s) fails instead of hanging. A truncated body is not retried by GDAL:
    the read fails with an error, never with wrong pixels. Options already set in the
    environment win (also over odc-stac's cloud defaults), so users and tests can tune them.
    """
    opts = {
        "GDAL_HTTP_MAX_RETRY": "10",
        "GDAL_HTTP_RETRY_DELAY": "0.1",
        "GDAL_HTTP_RETRY_CODES": "429,500,502,503,504",
        "GDAL_HTTP_CONNECTTIMEOUT": "30",
        "GDAL_HTTP_LOW_SPEED_LIMIT": "1",
        "GDAL_HTTP_LOW_SPEED_TIME": "60",
    }
    return {k: os.environ.get(k, v) for k, v in opts.items()}
