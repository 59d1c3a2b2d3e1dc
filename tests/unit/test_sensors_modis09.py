"""MODIS MOD09A1: state QA bits by hand."""

from __future__ import annotations

import numpy as np
import xarray as xr

from vegcube.sensors import MODIS09A1


def qa_array(values, dtype="uint16") -> xr.DataArray:
    return xr.DataArray(np.array(values, dtype=dtype), dims="x")


def test_modis_state_qa_bits_by_hand():
    land = 0b001 << 3  # land/water bits 3–5 = land, cloud state clear
    cases = {
        land: set(),
        land | 1: {"cloud"},
        land | 2: {"mixed_cloud"},
        land | 3: set(),  # "not set, assumed clear"
        land | 1 << 2: {"shadow"},
        land | 1 << 8: set(),  # small cirrus: not flagged
        land | 2 << 8: {"cirrus"},
        land | 3 << 8: {"cirrus"},
        land | 1 << 10: {"internal_cloud"},
        land | 1 << 12: {"snow"},
        land | 1 << 13: {"adjacent_cloud"},
        land | 1 << 15: {"internal_snow"},
        65535: {"fill"},
    }
    values = list(cases)
    qa = qa_array(values)
    for flag in MODIS09A1.qa_flags:
        bad, cloud = MODIS09A1.invalid(qa, flags=[flag])
        assert (bad | cloud).values.tolist() == [flag in cases[v] for v in values], flag
