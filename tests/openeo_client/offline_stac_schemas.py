"""A pytest plugin for openeo-test-suite's runs: the STAC schemas its stac-validator downloads
from https://schemas.stacspec.org/ come from `tests/data/stac-schemas/` (the official files
of stac-spec v1.0.0), so that validating a batch job's results needs no internet. Any other
address is left to the network, which the tests do not have: such a download fails."""

from __future__ import annotations

import io
import json
import urllib.request
import urllib.response
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).parents[1] / "data" / "stac-schemas"
PREFIX = "https://schemas.stacspec.org/"


def _local(url: str) -> Path | None:
    if not url.startswith(PREFIX):
        return None
    path = SCHEMAS / url.removeprefix(PREFIX).split("#")[0]
    return path if path.is_file() else None


_urlopen = urllib.request.urlopen


def _offline_urlopen(url: Any, *args: Any, **kwargs: Any) -> Any:
    """jsonschema retrieves `$ref`s with urllib: answer the STAC schemas from disk."""
    address = url.full_url if isinstance(url, urllib.request.Request) else str(url)
    path = _local(address)
    if path is None:
        return _urlopen(url, *args, **kwargs)
    return urllib.response.addinfourl(io.BytesIO(path.read_bytes()), {}, address, 200)


def pytest_configure(config: Any) -> None:
    from stac_validator import utilities

    fetch = utilities.fetch_and_parse_file

    def offline_fetch(input_path: str) -> dict:
        path = _local(input_path)
        return json.loads(path.read_text()) if path is not None else fetch(input_path)

    utilities.fetch_and_parse_file = offline_fetch
    urllib.request.urlopen = _offline_urlopen
