"""Sentinel-2: QA60 and SCL flags, the processing-baseline rule."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from vegcube.sensors import SENTINEL2
from vegcube.sensors.sentinel2 import qa60_invalid


def test_scale_offset_rule_by_hand():
    assert SENTINEL2.scale_offset({"s2:processing_baseline": "05.09"}) == (1e-4, -0.1)
    assert SENTINEL2.scale_offset({"s2:processing_baseline": "03.01"}) == (1e-4, 0.0)
    assert SENTINEL2.scale_offset({"datetime": "2022-01-25T00:00:00Z"}) == (1e-4, -0.1)
    assert SENTINEL2.scale_offset({"datetime": "2022-01-24T23:59:59Z"}) == (1e-4, 0.0)


def qa_array(values, dtype="uint16") -> xr.DataArray:
    return xr.DataArray(np.array(values, dtype=dtype), dims="x")


def test_sentinel2_qa60_bits():
    qa = qa_array([0, 1 << 10, 1 << 11, 3 << 10, 1 << 9]).rename("qa60")
    bad, cloud = qa60_invalid(qa)
    assert not bad.values.any()
    assert cloud.values.tolist() == [False, True, True, True, False]
    _, opaque = qa60_invalid(qa, flags=["opaque_cloud"])
    assert opaque.values.tolist() == [False, True, False, True, False]
    _, via_invalid = SENTINEL2.invalid(qa)  # dispatches on the band name
    assert via_invalid.values.tolist() == cloud.values.tolist()
    with pytest.raises(ValueError, match="opaque_cloud, cirrus"):
        qa60_invalid(qa, flags=["thick"])


def test_sentinel2_scl_only_clouds_and_shadows_are_cloud_like():
    scl = qa_array(list(range(12)), "uint8")
    bad, cloud = SENTINEL2.invalid(scl, flags=[0, 1, 3, 8, 9, 10, 11])
    assert np.flatnonzero(cloud.values).tolist() == [3, 8, 9, 10]
    assert np.flatnonzero(bad.values).tolist() == [0, 1, 11]
