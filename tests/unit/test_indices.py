"""Spectral indices against values computed by hand and by spyndex."""

from __future__ import annotations

import numpy as np
import pytest
import spyndex

from helpers import cube_factory
from vegcube import indices
from vegcube.errors import BandError

#: random reflectances, drawn from this module's own generator (seed 42)
cube = cube_factory(42)


def test_ndvi_ndwi_by_hand():
    ds = cube(["2020-01-01", "2020-01-06"])
    out = indices.compute(ds, ["ndvi", "ndwi"])
    r, n, s = ds.red.values, ds.nir.values, ds.swir16.values
    np.testing.assert_allclose(out.ndvi.values, (n - r) / (n + r), rtol=1e-6)
    np.testing.assert_allclose(out.ndwi.values, (n - s) / (n + s), rtol=1e-6)  # Gao, not McFeeters
    assert out.ndvi.dtype == np.float32


def test_spyndex_indices_match_spyndex_and_mcfeeters_by_name():
    ds = cube(["2020-01-01"])
    out = indices.compute(ds, ["EVI", "NDWI", "savi"])
    n, r, b, g = ds.nir.values, ds.red.values, ds.blue.values, ds.green.values
    evi = 2.5 * (n - r) / (n + 6 * r - 7.5 * b + 1)
    np.testing.assert_allclose(out.EVI.values, evi, rtol=1e-5)
    np.testing.assert_allclose(out.NDWI.values, (g - n) / (g + n), rtol=1e-6)
    # constants take spyndex's defaults (L = 1 for SAVI there)
    savi = spyndex.computeIndex("SAVI", {"N": n, "R": r, "L": spyndex.constants["L"].default})
    np.testing.assert_allclose(out.savi.values, savi, rtol=1e-5)
    np.testing.assert_allclose(out.savi.values, 2 * (n - r) / (n + r + 1), rtol=1e-5)


def test_index_zero_denominator_is_nan_not_inf():
    ds = cube(["2020-01-01"])
    ds["red"][0, 0, 0] = 0.0
    ds["nir"][0, 0, 0] = 0.0
    out = indices.compute(ds, ["ndvi"])
    assert np.isnan(out.ndvi.values[0, 0, 0])
    assert np.isfinite(out.ndvi.values[0, 1:, :]).all()


def test_index_missing_band_and_unknown_name():
    ds = cube(["2020-01-01"], bands=("red", "nir"))
    with pytest.raises(BandError, match="swir16"):
        indices.compute(ds, ["ndwi"])
    with pytest.raises(ValueError, match="unknown index"):
        indices.resolve("NOPE")
    with pytest.raises(ValueError, match="optical"):
        indices.resolve("NBRT1")  # needs a thermal band (radar indices resolve: vv, vh)
    assert indices.resolve("VHVVR").bands == ("vh", "vv")
