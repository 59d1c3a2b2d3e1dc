"""The Landsat archive generator writes USGS QA values."""

from __future__ import annotations

from vegcube.testing.landsat import qa_value


def test_generator_writes_usgs_qa_values():
    assert qa_value() == 21824 and qa_value(water=True) == 21952
    assert qa_value(cloud=True) == 22280 and qa_value(shadow=True) == 23888
    assert qa_value(snow=True) == 30048 and qa_value(fill=True) == 1
    assert qa_value(oli=False) == 5440 and qa_value(cloud=True, oli=False) == 5896
