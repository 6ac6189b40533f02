"""The detector contract (adrec.base.BaseDetector), run against every registered detector.

A new detector plugs in by registering itself (adrec.detectors.registry) and, where its
defaults are slow, overriding `get_test_params()` with tiny ones."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from _adrec_helpers import normal_windows
from sklearn.base import clone

from adrec.base import BaseDetector, NotFittedError, read_state
from adrec.calibration import ScoreCalibrator
from adrec.detectors.registry import (
    FAMILIES,
    accepts,
    detector_class,
    detector_family,
    detector_names,
    load_detector,
    make_detector,
)

DAYS, FEATURES = 7, 5
NAMES = detector_names()
STOCHASTIC = [n for n in NAMES if accepts(detector_class(n), "random_state")]


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
    cls = detector_class(name)
    return cls(**{**cls.get_test_params(), **overrides})


@pytest.fixture(scope="module", params=NAMES)
def fitted(request):
    """(name, detector fitted on 200 normal samples and calibrated on 200 others, X, X_calib)."""
    name = request.param
    cls = detector_class(name)
    x, x_calib = make_data(cls, 200, 0), make_data(cls, 200, 1)
    torch.set_num_threads(1)
    det = make(name)
    returned = det.fit(x, x_calib)
    assert returned is det
    return name, det, x, x_calib


def test_every_registered_name_is_a_detector_of_its_family():
    assert {"lstm_ae", "iforest", "knn", "pca", "padim"} <= set(NAMES)
    for name in NAMES:
        cls = detector_class(name)
        assert cls.name == name and issubclass(cls, BaseDetector)
        ndims = {"tabular": {2}, "window": {3}, "neural": {2, 3}, "image": {4}}
        assert cls.input_ndim in ndims[detector_family(name)]
    assert sorted(sum((detector_names(f) for f in FAMILIES), [])) == NAMES
    with pytest.raises(ValueError, match="unknown detector 'nope'"):
        detector_class("nope")


def test_fit_sets_the_fitted_state(fitted):
    _, det, x, _ = fitted
    assert det.is_fitted
    assert det.n_features_ == x.shape[-1]
    assert isinstance(det.calibrator_, ScoreCalibrator)


def test_decision_function_shape(fitted):
    _, det, x, _ = fitted
    s = det.decision_function(x[:17])
    assert s.shape == (17,)
    assert np.issubdtype(s.dtype, np.floating) and np.isfinite(s).all()
    # Scoring is deterministic and row-wise: a row's score does not depend on its batch.
    np.testing.assert_allclose(det.decision_function(x[3:4]), s[3:4], rtol=1e-5, atol=1e-7)


def test_score_samples_is_not_offered(fitted):
    """One sign, one name: scikit-learn's score_samples means the opposite."""
    _, det, x, _ = fitted
    assert not hasattr(det, "score_samples")
    with pytest.raises(AttributeError, match="decision_function"):
        det.score_samples(x)


def test_threshold_is_the_quantile_of_calibration_scores(fitted):
    _, det, _, x_calib = fitted
    expected = np.quantile(det.decision_function(x_calib).astype(np.float64), 0.99)
    assert det.quantile == pytest.approx(0.99)
    assert det.threshold_ == pytest.approx(expected, rel=1e-6)


def test_threshold_comes_from_training_scores_without_calibration_data(fitted):
    name, _, x, x_calib = fitted
    det = make(name, contamination=0.1).fit(x)
    probe = make(name, contamination=0.1)  # the same fit, stopped before its threshold
    probe._check_params()
    rows = probe._check_input(x, "X", fitting=True)
    probe._fit(rows)
    training = probe._training_scores(rows)
    assert det.threshold_ == pytest.approx(np.quantile(training.astype(np.float64), 0.9), rel=1e-6)
    if detector_family(name) in ("tabular", "window"):
        # Training rows are scored as the method sees them, so they score about like
        # held-out rows of the same law (a kNN row is not its own neighbour).
        held_out = det.decision_function(x_calib)
        assert abs(np.median(training) - np.median(held_out)) < 2 * held_out.std()


def test_predict_is_binary_and_agrees_with_threshold(fitted):
    _, det, x, x_calib = fitted
    both = np.concatenate([x, x_calib])
    pred = det.predict(both)
    assert pred.dtype == np.int64 and set(np.unique(pred)) <= {0, 1}
    expected = (det.decision_function(both) >= det.threshold_).astype(int)
    np.testing.assert_array_equal(pred, expected)
    # The threshold is the 99th percentile of the calibration scores.
    assert 1 <= pred[len(x) :].sum() <= 4


def test_calibrated_is_in_unit_interval_and_consistent(fitted):
    _, det, x, _ = fitted
    shifted = x + 10.0
    for data in (x, shifted):
        cal = det.calibrated(data)
        assert ((cal >= 0) & (cal <= 1)).all()
        np.testing.assert_allclose(cal, det.calibrator_.transform(det.decision_function(data)))
        np.testing.assert_array_equal(cal >= 0.5, det.predict(data) == 1)


def test_save_load_round_trip(fitted, tmp_path):
    name, det, x, _ = fitted
    path = det.save(tmp_path / "det")
    loaded = load_detector(path)
    assert type(loaded) is type(det)
    assert loaded.threshold_ == det.threshold_
    assert loaded.calibrator_ == det.calibrator_
    assert loaded.n_features_ == det.n_features_
    assert json.dumps(loaded.get_params(), sort_keys=True, default=str) == json.dumps(
        det.get_params(), sort_keys=True, default=str
    )
    np.testing.assert_array_equal(loaded.decision_function(x), det.decision_function(x))
    meta = json.loads((path / "detector.json").read_text())
    assert meta["detector"] == name


def test_saved_state_is_arrays_or_tensors_never_pickled(fitted, tmp_path):
    name, det, _, _ = fitted
    path = det.save(tmp_path / "det")
    files = {p.name for p in path.iterdir()}
    if detector_family(name) in ("tabular", "window"):
        assert files == {"detector.json", "state.npz"}  # arrays: no torch needed to load
        with np.load(path / "state.npz", allow_pickle=False) as data:
            assert data.files and all(data[k].dtype != object for k in data.files)
    else:
        assert files == {"detector.json", "state.pt"}
        state = torch.load(path / "state.pt", weights_only=True, map_location="cpu")
        assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    assert set(read_state(path)) == set(det._state())


def test_load_rejects_an_unknown_detector(fitted, tmp_path):
    _, det, _, _ = fitted
    path = det.save(tmp_path / "det")
    meta = json.loads((path / "detector.json").read_text())
    meta["detector"] = "no_such_detector"
    (path / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="no_such_detector"):
        load_detector(path)


def test_bad_inputs_raise_clear_errors(fitted):
    _, det, x, _ = fitted
    with pytest.raises(ValueError, match="dimensions"):
        det.decision_function(x[0])
    with pytest.raises(ValueError, match="dimensions"):
        det.decision_function(x[None])
    with pytest.raises(ValueError, match="features"):
        det.decision_function(x[..., :-1])
    nan = x[:3].copy()
    nan[1, ...] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        det.decision_function(nan)
    inf = x[:3].copy()
    inf.flat[0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        det.predict(inf)
    with pytest.raises(ValueError, match="empty"):
        det.decision_function(x[:0])


@pytest.mark.parametrize("name", NAMES)
def test_fit_rejects_bad_training_data(name):
    x = make_data(detector_class(name), 20, 0)
    bad = x.copy()
    bad.flat[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make(name).fit(bad)
    with pytest.raises(ValueError, match="empty"):
        make(name).fit(x[:0])
    with pytest.raises(ValueError, match="dimensions"):
        make(name).fit(x.reshape(-1))
    with pytest.raises(ValueError, match="X_calib"):
        make(name).fit(x, x[..., :-1])


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_errors(name):
    det = make(name)
    x = make_data(detector_class(name), 4, 0)
    assert not det.is_fitted
    for call in (det.decision_function, det.predict, det.calibrated, det.calibrate):
        with pytest.raises(NotFittedError, match="fit"):
            call(x)
    with pytest.raises(NotFittedError):
        _ = det.threshold_
    with pytest.raises(RuntimeError):  # adrec's NotFittedError is also a RuntimeError
        det.decision_function(x)


def test_shifted_data_scores_higher(fitted):
    name, det, x, x_calib = fitted
    shifted = x_calib.copy()
    shifted[..., :2] += 4.0  # a large, sustained move of two features
    normal_scores = det.decision_function(x_calib)
    shifted_scores = det.decision_function(shifted)
    # Scale-free: scores need not be positive (iforest's are centred on 0).
    assert (shifted_scores - normal_scores).mean() > 2 * normal_scores.std()
    assert (shifted_scores > normal_scores).mean() > 0.9
    assert det.predict(shifted).mean() > 0.5


@pytest.mark.parametrize("name", NAMES)
def test_same_random_state_same_model(name):
    x = make_data(detector_class(name), 60, 0)
    a = make(name, **({"random_state": 3} if name in STOCHASTIC else {})).fit(x)
    b = make(name, **({"random_state": 3} if name in STOCHASTIC else {})).fit(x)
    np.testing.assert_array_equal(a.decision_function(x), b.decision_function(x))


# Parameters under which a method's randomness shows in its model (a 2-component mixture
# converges to the same optimum from any start on this data; PCA under the window
# features has no randomness at all).
SHOWS_RANDOMNESS = {
    "gmm": {"n_components": 5, "covariance_type": "spherical"},
    "window_features": {"base": "iforest", "base_params": {"n_estimators": 10}},
}


@pytest.mark.parametrize("name", STOCHASTIC)
def test_random_state_changes_a_stochastic_model(name):
    """random_state is wired to the method's randomness: another seed, another model."""
    x = make_data(detector_class(name), 60, 0)
    a = make(name, random_state=1, **SHOWS_RANDOMNESS.get(name, {})).fit(x)
    b = make(name, random_state=2, **SHOWS_RANDOMNESS.get(name, {})).fit(x)
    assert not np.array_equal(a.decision_function(x), b.decision_function(x))


def test_every_detector_with_randomness_takes_random_state():
    deterministic = {"hotelling_t2", "kde", "knn", "lof", "mahalanobis_taguchi", "ocsvm"}
    deterministic |= {"pca", "rpca"}
    assert set(NAMES) - set(STOCHASTIC) == deterministic


@pytest.mark.parametrize("name", NAMES)
def test_scikit_learn_estimator_protocol(name):
    """Parameters are stored as given (get_params returns the very objects), set_params
    changes them, clone() builds an unfitted copy with equal parameters, and the PyOD-style
    contamination is a constructor parameter."""
    cls = detector_class(name)
    params = cls.get_test_params()
    det = cls(**params, contamination=0.05)
    got = det.get_params()
    assert got["contamination"] == 0.05 and det.quantile == pytest.approx(0.95)
    for key, value in params.items():
        assert got[key] is value
    twin = clone(det)
    assert type(twin) is cls and twin is not det and twin.get_params() == got
    assert det.set_params(contamination=0.2) is det and det.contamination == 0.2
    with pytest.raises(ValueError, match="Invalid parameter"):
        det.set_params(no_such_parameter=1)
    with pytest.raises(TypeError):
        cls(no_such_parameter=1)
    assert name in repr(det) or cls.__name__ in repr(det)


def test_clone_of_a_fitted_detector_is_unfitted_and_refits_identically():
    det = make("iforest", random_state=4).fit(make_data(detector_class("iforest"), 80, 0))
    twin = clone(det)
    assert not twin.is_fitted
    x = make_data(detector_class("iforest"), 80, 0)
    np.testing.assert_array_equal(twin.fit(x).decision_function(x), det.decision_function(x))


@pytest.mark.parametrize("name", NAMES)
def test_contamination_sets_the_threshold_quantile(name):
    x = make_data(detector_class(name), 80, 0)
    det = make(name, contamination=0.2).fit(x[:40], x[40:])
    scores = det.decision_function(x[40:])
    assert det.threshold_ == pytest.approx(np.quantile(scores.astype(np.float64), 0.8), rel=1e-6)
    for bad in (0.0, 0.5, -0.1, "0.1"):
        with pytest.raises(ValueError, match="contamination"):
            make(name, contamination=bad).fit(x)


def test_make_detector_seeds_where_the_method_is_stochastic():
    assert make_detector("iforest", random_state=7).random_state == 7
    assert make_detector("knn", random_state=7).get_params()["n_neighbors"] == 5  # ignored
    assert make_detector("iforest", n_estimators=10).n_estimators == 10


@pytest.mark.parametrize("name", NAMES)
def test_refit_on_data_of_another_width(name):
    """fit() learns from the data it is given: refitting a detector on data with another
    number of features must not be checked against the previous fit."""
    cls = detector_class(name)
    det = make(name).fit(make_data(cls, 40, 0))
    wider = np.concatenate([make_data(cls, 40, 1), make_data(cls, 40, 2)[..., :1]], axis=-1)
    det.fit(wider)
    assert det.n_features_ == make_data(cls, 1, 0).shape[-1] + 1
    assert det.decision_function(wider).shape == (40,)


def test_tabular_detectors_fit_save_and_load_without_torch(tmp_path):
    """Listing the detectors and using a tabular one imports neither torch nor Ray."""
    code = f"""
import sys
import numpy as np
from adrec.detectors import detector_names, load_detector, make_detector
assert "iforest" in detector_names() and "padim" in detector_names()
x = np.random.default_rng(0).normal(size=(50, 3))
for name in detector_names("tabular"):
    det = make_detector(name, random_state=0).fit(x)
    same = load_detector(det.save(r"{tmp_path}" + "/" + name))
    assert (same.decision_function(x) == det.decision_function(x)).all()
loaded = sorted(m for m in ("torch", "torchvision", "ray") if m in sys.modules)
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
