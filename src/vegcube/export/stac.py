"""One writer of static STAC catalogs, shared by the COG export and the download mirror."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pystac

from .atomic import atomic_path

__all__ = ["save_catalog"]


def save_catalog(catalog: pystac.Catalog, root: Path) -> Path:
    """Write `catalog` as a self-contained static catalog under `root`; its path.

    The hrefs of `catalog` and its children and items must already be set under `root`
    (they give the layout). Each JSON file is written atomically, items first and
    ``root/catalog.json`` last, so a reader never finds a link to a missing file.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".catalog-", dir=root) as tmp:
        catalog.save(pystac.CatalogType.SELF_CONTAINED, dest_href=tmp)
        written = sorted(Path(tmp).rglob("*.json"), key=lambda q: -len(q.parts))
        for src in written:  # items first, catalog.json last
            with atomic_path(root / src.relative_to(tmp)) as dst:
                shutil.copyfile(src, dst)
    return root / "catalog.json"
