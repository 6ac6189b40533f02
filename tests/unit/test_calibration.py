"""ScoreCalibrator: threshold at a quantile, logistic calibration through two anchors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adrec.calibration import ScoreCalibrator


@pytest.fixture(scope="module")
def scores() -> np.ndarray:
    return np.random.default_rng(0).gamma(2.0, 1.0, size=1000)


def test_threshold_is_the_99th_percentile(scores):
    cal = ScoreCalibrator.fit(scores)
    assert cal.threshold == pytest.approx(np.percentile(scores, 99))
    assert cal.median == pytest.approx(np.median(scores))
    assert cal.quantile == 0.99
    assert ScoreCalibrator.fit(scores, 0.9).threshold == pytest.approx(np.percentile(scores, 90))


def test_about_one_percent_of_normal_scores_are_anomalous(scores):
    cal = ScoreCalibrator.fit(scores)
    share = cal.is_anomalous(scores).mean()
    assert 0.005 <= share <= 0.02


def test_anchors(scores):
    cal = ScoreCalibrator.fit(scores)
    assert float(cal.transform(cal.median)) == pytest.approx(0.01, abs=1e-9)
    assert float(cal.transform(cal.threshold)) == pytest.approx(0.5, abs=1e-12)


def test_transform_is_monotone_and_bounded(scores):
    cal = ScoreCalibrator.fit(scores)
    grid = np.linspace(-50, 50, 2001)
    out = cal.transform(grid)
    assert out.shape == grid.shape
    assert (np.diff(out) >= 0).all()
    assert (out >= 0).all() and (out <= 1).all()
    extreme = cal.transform(np.array([-1e300, -1e12, 1e12, 1e300]))
    assert np.isfinite(extreme).all()
    np.testing.assert_allclose(extreme, [0, 0, 1, 1], atol=1e-12)


def test_calibrated_half_agrees_with_the_threshold(scores):
    cal = ScoreCalibrator.fit(scores)
    probe = np.concatenate([scores, [cal.threshold, cal.threshold * 1.01, cal.threshold * 0.99]])
    np.testing.assert_array_equal(cal.transform(probe) >= 0.5, cal.is_anomalous(probe))


def test_constant_scores_do_not_divide_by_zero():
    cal = ScoreCalibrator.fit(np.full(10, 3.0))
    out = cal.transform(np.array([2.0, 3.0, 4.0]))
    assert np.isfinite(out).all()
    assert out[0] < 0.01 and out[1] == pytest.approx(0.5) and out[2] > 0.99


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([1.0, np.nan, 2.0]), "NaN"),
        (np.array([1.0, np.inf, 2.0]), "NaN or infinity"),
        (np.array([1.0]), "at least 2"),
        (np.array([]), "at least 2"),
    ],
)
def test_fit_rejects_bad_scores(bad, match):
    with pytest.raises(ValueError, match=match):
        ScoreCalibrator.fit(bad)


@pytest.mark.parametrize("quantile", [0.5, 1.0, 0.3, 1.2, -0.99])
def test_fit_rejects_bad_quantiles(scores, quantile):
    with pytest.raises(ValueError, match="quantile"):
        ScoreCalibrator.fit(scores, quantile)


def test_dict_round_trip(scores):
    cal = ScoreCalibrator.fit(scores, 0.95)
    back = ScoreCalibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back == cal
    np.testing.assert_array_equal(back.transform(scores), cal.transform(scores))
