"""The demo archive and what `vegcube demo` runs on it, for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from vegcube.testing import DemoArchive, generate_archive


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> DemoArchive:
    """Five years (2019–2023), 1 km × 1 km, a scene every 5 days: the drought is in 2023."""
    return generate_archive(tmp_path_factory.mktemp("demo"), size=100, revisit_days=5)


@pytest.fixture(scope="session")
def demo_run(demo, tmp_path_factory) -> Path:
    """What `vegcube demo` runs, on the `demo` archive: the outputs folder (shared, read-only)."""
    import vegcube

    out = tmp_path_factory.mktemp("demo-run")
    vegcube.run(demo.demo_recipe(out))
    return out
