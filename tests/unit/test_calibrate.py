"""Cross-sensor calibration recovers a known relation."""

from __future__ import annotations

import numpy as np
import pytest

from vegcube import calibrate, indices, mask


def test_calibration_recovers_the_known_relation(s2_landsat, s2_landsat_scenes):
    _, ls = s2_landsat  # NDVI_landsat = ndvi_gain × NDVI_s2 + ndvi_offset on the ground
    _, c = s2_landsat_scenes
    idx = indices.per_scene(mask.apply(c, mask.valid(c, dilate_m=30)), ["ndvi"])
    f = calibrate.fit(idx, index="ndvi", sensor="landsat", reference="sentinel-2-l2a")
    assert f.slope == pytest.approx(ls.ndvi_gain, abs=0.02)
    assert f.intercept == pytest.approx(ls.ndvi_offset, abs=0.02)
    assert f.r2 > 0.95 and f.n > 500 and f.scene_pairs >= 5 and f.ok
    # applied, Landsat NDVI lies on the Sentinel-2 scale: a refit is the identity
    fixed = calibrate.apply(idx, [f])
    g = calibrate.fit(fixed, index="ndvi", sensor="landsat", reference="sentinel2")
    assert g.slope == pytest.approx(1, abs=0.005) and g.intercept == pytest.approx(0, abs=0.005)
    s2 = c.sensor.values == "sentinel2"
    np.testing.assert_array_equal(fixed.ndvi.values[s2], idx.ndvi.values[s2])
    # pairs are only scenes at most max_days apart: none at zero days with another sensor
    _, _, n_same_day = calibrate.pairs(
        idx, index="ndvi", sensor="landsat", reference="sentinel2", max_days=0
    )
    assert 0 < n_same_day < f.scene_pairs


def test_fit_line_rma_recovers_slope_with_noise_in_both():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 0.8, 20000)
    ref = truth + rng.normal(0, 0.05, truth.size)
    sen = 0.8 * truth + 0.1 + rng.normal(0, 0.04, truth.size)
    sen[:300] = -0.5  # residual clouds: outliers
    slope, intercept, r2, n = calibrate.fit_line(ref, sen)
    assert slope == pytest.approx(0.8, abs=0.02) and intercept == pytest.approx(0.1, abs=0.01)
    assert n < truth.size - 250 and 0.8 < r2 < 1
    ols, *_ = calibrate.fit_line(ref, sen, method="ols")
    assert ols < 0.78  # regression dilution: why RMA is the default
    assert np.isnan(calibrate.fit_line(ref[:2], sen[:2])[0])
