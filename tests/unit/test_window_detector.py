"""The window_features adapter: features, delegation, nested state and errors."""

from __future__ import annotations

import numpy as np
import pytest
from _adrec_helpers import normal_windows

from adrec.base import read_state
from adrec.data.anomaly_benchmarks import window_features
from adrec.detectors.registry import load_detector
from adrec.detectors.tabular import HotellingT2Detector, PCADetector
from adrec.detectors.window_detector import (
    WindowFeatureDetector,
    multichannel_window_features,
    multiscale_window_features,
    window_scales,
)

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
    det = WindowFeatureDetector(
        base="pca", base_params={"n_components": 3}, features="values", span=None
    ).fit(X, X_CALIB)
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
    assert int(state["span"]) == 3  # half the window
    assert set(state) - {"window", "span"} == {"base." + k for k in det.base_._state()}
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


def test_multiscale_features_summarise_trailing_stretches():
    w = np.arange(12, dtype=np.float32).reshape(1, 12, 1)
    w[0, 5, 0] = 40.0  # a spike seven steps back
    feats = multiscale_window_features(w)
    assert window_scales(12) == [4, 8, 12]
    assert feats.shape == (1, 8 + 3 * 5)
    np.testing.assert_array_equal(feats[0, :8], w[0, -8:, 0])
    by_scale = feats[0, 8:].reshape(3, 5)  # mean, std, mean |step|, max, min per scale
    np.testing.assert_allclose(by_scale[:, 0], [w[0, -L:, 0].mean() for L in (4, 8, 12)])
    assert by_scale[0, 3] == 11.0 and by_scale[1, 3] == 40.0  # the spike only in longer ones
    np.testing.assert_allclose(by_scale[0, 2], 1.0)  # steps of 1 in the last 4
    two = multiscale_window_features(X)  # channels side by side
    assert two.shape == (len(X), 6 * 3 + len(window_scales(6)) * 5 * 3)


def test_a_window_scores_its_most_anomalous_stretch():
    det = WindowFeatureDetector(base="pca", base_params={"n_components": 2}, span=4).fit(X)
    assert det.span_ == 4 and det.base_.n_features_ == multiscale_window_features(X[:, :4]).shape[1]
    sub = np.stack([X_CALIB[:, i : i + 4] for i in range(3)], axis=1)  # [n, 3, 4, F]
    direct = det.base_.decision_function(multiscale_window_features(sub.reshape(-1, 4, 3)))
    np.testing.assert_allclose(
        det.decision_function(X_CALIB), direct.reshape(-1, 3).max(axis=1), rtol=1e-12
    )


def test_sliding_windows_score_each_stretch_once_and_equal_one_by_one():
    series = normal_windows(1, 200, 2, seed=3)[0]
    windows = np.lib.stride_tricks.sliding_window_view(series, 16, axis=0).transpose(0, 2, 1)
    det = WindowFeatureDetector(span=0.5).fit(windows[:120])
    # The fit saw each distinct sub-window of the sliding training windows once.
    assert det.base_.n_features_ and len(det.base_.train_) == 120 + 16 - 8
    together = det.decision_function(windows[120:])
    alone = np.concatenate([det.decision_function(w[None]) for w in windows[120:]])
    np.testing.assert_allclose(together, alone, rtol=1e-9)


def test_span_and_features_are_checked_in_fit():
    for bad in (1, 0.0, 1.5, "half", True):
        with pytest.raises(ValueError, match="span"):
            WindowFeatureDetector(span=bad).fit(X)
    with pytest.raises(ValueError, match="features"):
        WindowFeatureDetector(features="fft").fit(X)
