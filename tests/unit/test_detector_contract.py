"""The detector contract (adrec.base.BaseDetector), run against every registered detector.

A new detector plugs in by registering itself (a `name`) and, where its defaults are slow,
overriding `get_test_params()` with tiny ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _adrec_helpers import normal_windows

import adrec.detectors  # noqa: F401  (registers every detector)
from adrec.base import DETECTORS, BaseDetector, NotFittedError
from adrec.calibration import ScoreCalibrator

DAYS, FEATURES = 7, 5


def make_data(cls: type[BaseDetector], n: int, seed: int) -> np.ndarray:
    if cls.input_ndim == 4:  # images [n, 3, H, W] of noise, one patch at stride 8
        rng = np.random.default_rng(seed)
        return rng.normal(size=(n, 3, 8, 8)).astype(np.float32)
    x = normal_windows(n, DAYS, FEATURES, seed)
    if cls.input_ndim == 3:
        return x
    if cls.input_ndim == 2:
        return x.mean(axis=1)
    raise AssertionError(f"unexpected input_ndim {cls.input_ndim}")


def make(name: str, **overrides) -> BaseDetector:
    cls = DETECTORS[name]
    return cls(**{**cls.get_test_params(), **overrides})


@pytest.fixture(scope="module", params=sorted(DETECTORS))
def fitted(request):
    """(name, detector fitted on 200 normal samples and calibrated on 200 others, X, X_calib)."""
    name = request.param
    cls = DETECTORS[name]
    x, x_calib = make_data(cls, 200, 0), make_data(cls, 200, 1)
    torch.set_num_threads(1)
    det = make(name)
    returned = det.fit(x, x_calib)
    assert returned is det
    return name, det, x, x_calib


def test_every_registered_detector_is_named_and_a_detector():
    assert "lstm_ae" in DETECTORS
    for name, cls in DETECTORS.items():
        assert cls.name == name and issubclass(cls, BaseDetector)


def test_fit_sets_the_fitted_state(fitted):
    _, det, x, _ = fitted
    assert det.is_fitted
    assert det.n_features_ == x.shape[-1]
    assert isinstance(det.calibrator_, ScoreCalibrator)


def test_score_samples_shape(fitted):
    _, det, x, _ = fitted
    s = det.score_samples(x[:17])
    assert s.shape == (17,)
    assert np.issubdtype(s.dtype, np.floating) and np.isfinite(s).all()
    # Scoring is deterministic and row-wise: a row's score does not depend on its batch.
    np.testing.assert_allclose(det.score_samples(x[3:4]), s[3:4], rtol=1e-5, atol=1e-7)


def test_threshold_is_the_quantile_of_calibration_scores(fitted):
    _, det, _, x_calib = fitted
    expected = np.quantile(det.score_samples(x_calib).astype(np.float64), det.quantile)
    assert det.threshold_ == pytest.approx(expected, rel=1e-6)


def test_threshold_comes_from_training_data_without_calibration_data(fitted):
    name, _, x, _ = fitted
    det = make(name, quantile=0.9).fit(x)
    assert det.threshold_ == pytest.approx(
        np.quantile(det.score_samples(x).astype(np.float64), 0.9), rel=1e-6
    )


def test_predict_is_binary_and_agrees_with_threshold(fitted):
    _, det, x, x_calib = fitted
    both = np.concatenate([x, x_calib])
    pred = det.predict(both)
    assert pred.dtype == np.int64 and set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (det.score_samples(both) >= det.threshold_).astype(int))
    # The threshold is the 99th percentile of the calibration scores.
    assert 1 <= pred[len(x) :].sum() <= 4


def test_calibrated_is_in_unit_interval_and_consistent(fitted):
    _, det, x, _ = fitted
    shifted = x + 10.0
    for data in (x, shifted):
        cal = det.calibrated(data)
        assert ((cal >= 0) & (cal <= 1)).all()
        np.testing.assert_allclose(cal, det.calibrator_.transform(det.score_samples(data)))
        np.testing.assert_array_equal(cal >= 0.5, det.predict(data) == 1)


def test_save_load_round_trip(fitted, tmp_path):
    name, det, x, _ = fitted
    path = det.save(tmp_path / "det")
    loaded = BaseDetector.load(path)
    assert type(loaded) is type(det)
    assert loaded.threshold_ == det.threshold_
    assert loaded.calibrator_ == det.calibrator_
    assert loaded.n_features_ == det.n_features_
    assert loaded.params == det.params and loaded.quantile == det.quantile
    np.testing.assert_array_equal(loaded.score_samples(x), det.score_samples(x))
    meta = json.loads((path / "detector.json").read_text())
    assert meta["detector"] == name


def test_saved_state_loads_with_weights_only(fitted, tmp_path):
    _, det, _, _ = fitted
    path = det.save(tmp_path / "det")
    state = torch.load(path / "state.pt", weights_only=True, map_location="cpu")
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())


def test_load_rejects_an_unknown_detector(fitted, tmp_path):
    _, det, _, _ = fitted
    path = det.save(tmp_path / "det")
    meta = json.loads((path / "detector.json").read_text())
    meta["detector"] = "no_such_detector"
    (path / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="no_such_detector"):
        BaseDetector.load(path)


def test_bad_inputs_raise_clear_errors(fitted):
    _, det, x, _ = fitted
    with pytest.raises(ValueError, match="dimensions"):
        det.score_samples(x[0])
    with pytest.raises(ValueError, match="dimensions"):
        det.score_samples(x[None])
    with pytest.raises(ValueError, match="features"):
        det.score_samples(x[..., :-1])
    nan = x[:3].copy()
    nan[1, ...] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        det.score_samples(nan)
    inf = x[:3].copy()
    inf.flat[0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        det.predict(inf)
    with pytest.raises(ValueError, match="empty"):
        det.score_samples(x[:0])


def test_fit_rejects_bad_training_data():
    for name, cls in DETECTORS.items():
        x = make_data(cls, 20, 0)
        bad = x.copy()
        bad.flat[5] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            make(name).fit(bad)
        with pytest.raises(ValueError, match="empty"):
            make(name).fit(x[:0])
        with pytest.raises(ValueError, match="dimensions"):
            make(name).fit(x.reshape(-1))


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_not_fitted_errors(name):
    det = make(name)
    x = make_data(DETECTORS[name], 4, 0)
    assert not det.is_fitted
    for call in (det.score_samples, det.predict, det.calibrated):
        with pytest.raises(NotFittedError):
            call(x)
    with pytest.raises(NotFittedError):
        _ = det.threshold_


def test_shifted_data_scores_higher(fitted):
    name, det, x, x_calib = fitted
    shifted = x_calib.copy()
    shifted[..., :2] += 4.0  # a large, sustained move of two features
    normal_scores = det.score_samples(x_calib)
    shifted_scores = det.score_samples(shifted)
    # Scale-free: scores need not be positive (iforest's are centred on 0).
    assert (shifted_scores - normal_scores).mean() > 2 * normal_scores.std()
    assert (shifted_scores > normal_scores).mean() > 0.9
    assert det.predict(shifted).mean() > 0.5


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_same_seed_same_model(name):
    cls = DETECTORS[name]
    x = make_data(cls, 60, 0)
    a = make(name).fit(x)
    b = make(name).fit(x)
    np.testing.assert_array_equal(a.score_samples(x), b.score_samples(x))


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_refit_on_data_of_another_width(name):
    """fit() learns from the data it is given: refitting a detector on data with another
    number of features must not be checked against the previous fit."""
    cls = DETECTORS[name]
    det = make(name).fit(make_data(cls, 40, 0))
    wider = np.concatenate([make_data(cls, 40, 1), make_data(cls, 40, 2)[..., :1]], axis=-1)
    det.fit(wider)
    assert det.n_features_ == make_data(cls, 1, 0).shape[-1] + 1
    assert det.score_samples(wider).shape == (40,)


def test_contamination_sets_the_quantile():
    det = DETECTORS["lstm_ae"].with_contamination(0.05, **DETECTORS["lstm_ae"].get_test_params())
    assert det.quantile == pytest.approx(0.95)
    for bad in (0.0, 0.5, -0.1):
        with pytest.raises(ValueError, match="contamination"):
            DETECTORS["lstm_ae"].with_contamination(bad)
