"""Shared fixtures: demo archives generated once per test session (deterministic, seed 42)."""

from __future__ import annotations

import pytest

from vegcube.testing.demo import DemoArchive, generate_archive
from vegcube.testing.truth import drought_time, truth_masks

__all__ = ["drought_time", "truth_masks"]  # tests import them from here


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> DemoArchive:
    """Five years (2019–2023), 1 km × 1 km, a scene every 5 days: the drought is in 2023."""
    return generate_archive(tmp_path_factory.mktemp("demo"), size=100, revisit_days=5)


@pytest.fixture(scope="session")
def demo_run(demo, tmp_path_factory):
    """What `vegcube demo` runs, on the `demo` archive: the outputs folder (shared, read-only)."""
    import vegcube

    out = tmp_path_factory.mktemp("demo-run")
    vegcube.run(demo.demo_recipe(out))
    return out


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> DemoArchive:
    """Five months across the 2022-01-25 processing-baseline switch, 600 m × 600 m."""
    return generate_archive(
        tmp_path_factory.mktemp("small"),
        size=60,
        revisit_days=5,
        start="2021-11-01",
        end="2022-03-31",
    )


@pytest.fixture(scope="session")
def small_no_raster_bands(tmp_path_factory) -> DemoArchive:
    """The same as `small` but items without `raster:bands`: the baseline rule must apply."""
    return generate_archive(
        tmp_path_factory.mktemp("small_norb"),
        size=60,
        revisit_days=5,
        start="2021-11-01",
        end="2022-03-31",
        raster_bands=False,
    )


#: test modules that run the whole chain, the CLI in subprocesses or servers: marked `slow`
#: (`pytest -m "not slow"` is the fast loop: every step's own tests, under 90 s on 2 cores)
END_TO_END = {
    "test_bad_inputs",
    "test_blocks",
    "test_cli",
    "test_cloudprob",
    "test_combined",
    "test_fetch",
    "test_lst",
    "test_report",
    "test_run_demo",
    "test_stac_api",
    "test_update",
}
#: fixtures that run the chain once for a session
CHAIN_FIXTURES = {"demo_run"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the end-to-end tests `slow` (by module, or by a fixture that runs the chain)."""
    for item in items:
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        if module in END_TO_END or CHAIN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
