"""The window_features adapter: features, delegation, nested state and errors."""

from __future__ import annotations

import numpy as np
import pytest
from _adrec_helpers import normal_windows

from adrec.base import read_state
from adrec.data.anomaly_benchmarks import window_features
from adrec.detectors.registry import load_detector
from adrec.detectors.tabular import HotellingT2Detector, PCADetector
from adrec.detectors.window_detector import WindowFeatureDetector, multichannel_window_features

X, X_CALIB = normal_windows(120, 6, 3, seed=0), normal_windows(80, 6, 3, seed=1)


def test_features_extend_the_single_channel_window_features():
    one = normal_windows(10, 8, 1, seed=2)
    np.testing.assert_array_equal(multichannel_window_features(one), window_features(one))
    feats = multichannel_window_features(X)
    assert feats.shape == (len(X), 6 * 3 + 2 * 3)
    np.testing.assert_array_equal(feats[:, :18], X.reshape(len(X), -1))
    np.testing.assert_allclose(feats[:, 18:21], X.std(axis=1))
    with pytest.raises(ValueError, match="time >= 2"):
        multichannel_window_features(X[:, :1])


def test_scores_are_the_base_detectors_on_the_features():
    det = WindowFeatureDetector(base="pca", base_params={"n_components": 3}).fit(X, X_CALIB)
    direct = PCADetector(n_components=3).fit(
        multichannel_window_features(X), multichannel_window_features(X_CALIB)
    )
    np.testing.assert_array_equal(
        det.decision_function(X_CALIB),
        direct.decision_function(multichannel_window_features(X_CALIB)),
    )
    assert det.threshold_ == direct.threshold_
    assert det.calibrator_ is det.base_.calibrator_


def test_state_nests_the_base_and_a_law_threshold_survives_save_load(tmp_path):
    params = {"covariance": "ledoit_wolf", "threshold": "chi2"}
    det = WindowFeatureDetector(base="hotelling_t2", base_params=params, contamination=0.05)
    det.fit(X, X_CALIB)
    assert isinstance(det.base_, HotellingT2Detector)
    assert det.threshold_ == pytest.approx(det.base_.law_threshold())
    path = det.save(tmp_path / "win")
    state = read_state(path)
    assert int(state["window"]) == 6
    assert {k for k in state if k != "window"} == {"base." + k for k in det.base_._state()}
    loaded = load_detector(path)
    assert isinstance(loaded.base_, HotellingT2Detector)
    assert loaded.base_.get_params() == det.base_.get_params()
    assert loaded.threshold_ == det.threshold_
    np.testing.assert_array_equal(loaded.decision_function(X_CALIB), det.decision_function(X_CALIB))


def test_errors_name_the_window_length_and_the_base():
    det = WindowFeatureDetector(base="pca", base_params={"n_components": 2}).fit(X)
    with pytest.raises(ValueError, match="windows of 5 steps"):
        det.decision_function(X[:, :5])
    for bad in ("no_such_detector", "lstm_ae", "window_features"):
        with pytest.raises(ValueError, match="base must name a registered 2-D detector"):
            WindowFeatureDetector(base=bad).fit(X)
    with pytest.raises(TypeError, match="n_components"):
        WindowFeatureDetector(base="pca", n_components=2)
