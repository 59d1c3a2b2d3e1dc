"""The chain: one ordered list of stages for runs and updates."""

from __future__ import annotations

import pandas as pd

from vegcube.chain import STAGES, Window


def test_one_chain_for_runs_and_updates():
    """`run` and `update` drive the same stages; the window says what they recompute."""
    names = [s.__name__ for s in STAGES]
    assert names[:3] == ["composites_stage", "gapfill_stage", "reference_stage"]
    assert names.index("zonal_stage") < names.index("report_stage")
    assert Window().fresh  # a run: everything
    since = pd.Timestamp("2024-01-01")
    assert not Window(since, rebuild_reference=False).fresh  # an update keeps the reference
    assert Window(since, rebuild_reference=True).fresh
