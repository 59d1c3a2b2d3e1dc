"""Catalogs by name: the known STAC APIs, their URLs and asset signers, and how a recipe's
``source.catalog`` (name, URL or path) resolves to what is opened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pystac

from ..errors import SourceError

__all__ = ["CATALOGS", "KNOWN_CATALOGS", "NamedCatalog", "Signer", "resolve_catalog", "signer_for"]

#: a modifier applied to each item found (e.g. adds a token to its asset hrefs)
Signer = Callable[[pystac.Item], Any]


@dataclass(frozen=True)
class NamedCatalog:
    """A STAC API known by name: where it is, how assets are signed, which credentials."""

    name: str
    url: str
    description: str
    #: signing scheme of its assets (None: assets are public or read with credentials)
    signer: str | None = None
    #: environment variables read to access its assets (never printed)
    credentials: tuple[str, ...] = ()


CATALOGS: dict[str, NamedCatalog] = {
    c.name: c
    for c in (
        NamedCatalog(
            "earth-search",
            "https://earth-search.aws.element84.com/v1",
            "Element 84 Earth Search v1 (AWS open data; public COGs)",
        ),
        NamedCatalog(
            "planetary-computer",
            "https://planetarycomputer.microsoft.com/api/stac/v1",
            "Microsoft Planetary Computer (Azure; assets signed with a SAS token)",
            signer="planetary-computer",
            credentials=("PC_SDK_SUBSCRIPTION_KEY",),
        ),
        NamedCatalog(
            "cdse",
            "https://stac.dataspace.copernicus.eu/v1",
            "Copernicus Data Space Ecosystem (assets on its S3 endpoint, with your S3 keys)",
            credentials=("CDSE_S3_ACCESS_KEY", "CDSE_S3_SECRET_KEY"),
        ),
    )
}
#: name → URL of the named catalogs (kept for callers of earlier versions)
KNOWN_CATALOGS = {name: c.url for name, c in CATALOGS.items()}


def resolve_catalog(catalog: str) -> str:
    """A known catalog name, URL or path → the URL or absolute path to open."""
    if catalog in CATALOGS:
        return CATALOGS[catalog].url
    if "://" in catalog:
        return catalog
    path = Path(catalog).expanduser()
    if path.is_dir():
        path = path / "catalog.json"
    if not path.is_file():
        raise SourceError(
            f"{catalog!r} is neither a known catalog "
            f"({', '.join(CATALOGS)}), a URL, nor an existing catalog.json",
            field="source.catalog",
        )
    return str(path.resolve())


def _named(catalog: str) -> NamedCatalog | None:
    if catalog in CATALOGS:
        return CATALOGS[catalog]
    url = catalog.rstrip("/")
    return next((c for c in CATALOGS.values() if c.url == url), None)


def signer_for(catalog: str) -> Signer | None:
    """The signer a named catalog (or its URL) needs for its assets; None if it needs none.

    Planetary Computer's signer comes from the optional ``planetary-computer`` package.
    """
    named = _named(catalog)
    if named is None or named.signer is None:
        return None
    try:
        import planetary_computer  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise SourceError(
            f"{named.name!r} assets must be signed by the planetary-computer "
            "package, which is not installed; install it with "
            "`pip install 'vegcube[planetary-computer]'`",
            field="source.catalog",
        ) from None
    sign: Signer = planetary_computer.sign_inplace
    return sign
