"""Static catalogs that are not STAC are bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from vegcube.errors import SourceError


def test_static_catalog_that_is_not_stac_is_bad_input(tmp_path):
    """A catalog.json that is JSON but not STAC, a list, or whose item is missing: exit 2
    naming source.catalog and the file, before any work."""
    from vegcube import catalog

    bad = tmp_path / "list.json"
    bad.write_text("[1, 2]")
    notstac = tmp_path / "notstac.json"
    notstac.write_text('{"hello": "world"}')
    for path in (bad, notstac):
        with pytest.raises(SourceError, match=r"source\.catalog: cannot read static catalog"):
            catalog.search(
                str(path),
                collection="sentinel-2-l2a",
                bbox=(0, 0, 1, 1),
                start=dt.date(2023, 1, 1),
                end=dt.date(2023, 1, 2),
            )
