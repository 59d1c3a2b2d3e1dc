"""Named catalogs, their signers and credentials."""

from __future__ import annotations

import pytest

from vegcube import catalog
from vegcube.errors import SourceError


def test_named_catalogs_signers_and_credentials(monkeypatch):
    assert catalog.resolve_catalog("planetary-computer") == (
        "https://planetarycomputer.microsoft.com/api/stac/v1"
    )
    assert catalog.resolve_catalog("cdse") == "https://stac.dataspace.copernicus.eu/v1"
    assert catalog.KNOWN_CATALOGS["earth-search"] == "https://earth-search.aws.element84.com/v1"
    assert catalog.signer_for("earth-search") is None and catalog.signer_for("cdse") is None
    try:
        import planetary_computer
    except ImportError:
        with pytest.raises(SourceError, match=r"vegcube\[planetary-computer\]"):
            catalog.signer_for("planetary-computer")
    else:
        assert catalog.signer_for(catalog.CATALOGS["planetary-computer"].url) is (
            planetary_computer.sign_inplace
        )
    assert catalog.asset_env("earth-search") == {}
    monkeypatch.delenv("CDSE_S3_ACCESS_KEY", raising=False)
    monkeypatch.setenv("CDSE_S3_SECRET_KEY", "very-secret-value")
    with pytest.raises(SourceError, match=r"not set: CDSE_S3_ACCESS_KEY \(create") as err:
        catalog.asset_env("cdse")
    assert "very-secret-value" not in str(err.value)
    monkeypatch.setenv("CDSE_S3_ACCESS_KEY", "my-key-id")
    env = catalog.asset_env("cdse")
    assert env["AWS_S3_ENDPOINT"] == "eodata.dataspace.copernicus.eu"
    assert env["AWS_SECRET_ACCESS_KEY"] == "very-secret-value"
    assert "very-secret-value" not in repr(env) and "my-key-id" not in f"{env}"
