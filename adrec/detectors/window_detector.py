"""Any registered 2-D detector over windows [n, time, features], through per-window features.

adrec.data.anomaly_benchmarks.window_features takes single-channel windows [n, w, 1] only;
`multichannel_window_features` is its extension to F channels (for F = 1 the two agree)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adrec.base import BaseDetector, bounded_sample
from adrec.calibration import ScoreCalibrator
from adrec.detectors.registry import accepts, detector_class, detector_names

_BASE_PREFIX = "base."


def multichannel_window_features(windows: np.ndarray) -> np.ndarray:
    """[n, w * F + 2F] for windows [n, w, F]: the values (time-major), then per channel the
    window's standard deviation and that of its first differences. The two spreads are
    non-linear, so features stay linearly independent, as in window_features."""
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[1] < 2:
        raise ValueError(f"windows must be [n, time >= 2, features], got shape {windows.shape}")
    spread = np.concatenate([windows.std(axis=1), np.diff(windows, axis=1).std(axis=1)], axis=1)
    return np.concatenate([windows.reshape(len(windows), -1), spread], axis=1)


class WindowFeatureDetector(BaseDetector):
    """Delegates to the registered 2-D detector `base` (built with `base_params`, and with
    this detector's `contamination` and, where the base is stochastic, `random_state`),
    fitted on the windows' features. Threshold and calibration are the base detector's own
    (so a base with its own threshold rule, such as hotelling_t2's F law, keeps it); the
    saved state nests the base detector's state."""

    name = "window_features"
    input_ndim = 3

    def __init__(
        self,
        base: str = "iforest",
        base_params: dict[str, Any] | None = None,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.base = base
        self.base_params = base_params
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict[str, Any]:
        return {"base": "pca", "base_params": {"n_components": 2}}

    def _make_base(self) -> BaseDetector:
        tabular = detector_names("tabular")
        if self.base not in tabular:
            msg = f"base must name a registered 2-D detector {tabular}, got {self.base!r}"
            raise ValueError(msg)
        cls = detector_class(self.base)
        params = {**dict(self.base_params or {}), "contamination": self.contamination}
        if accepts(cls, "random_state"):
            params.setdefault("random_state", self.random_state)
        return cls(**params)

    # The calibrator lives on the base detector; this one reads and writes it there.
    @property
    def calibrator_(self) -> ScoreCalibrator:
        try:
            return self.base_.calibrator_
        except AttributeError:
            raise AttributeError("calibrator_") from None

    @calibrator_.setter
    def calibrator_(self, calibrator: ScoreCalibrator) -> None:
        self.base_.calibrator_ = calibrator

    def _features(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] != self.window_:
            raise ValueError(
                f"X has windows of {X.shape[1]} steps, the detector expects {self.window_}"
            )
        return multichannel_window_features(X)

    def _fit(self, X: np.ndarray) -> None:
        self.base_ = self._make_base()
        self.base_._check_params()
        self.window_ = X.shape[1]
        features = self.base_._check_input(multichannel_window_features(X), "window features")
        # The base's own fit() would also calibrate on these rows: BaseDetector.fit does it
        # once, through this detector's scores, on the data fit() chooses.
        self.base_._fit(features)
        self.base_.n_features_ = features.shape[1]
        self.base_.fitted_ = True

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        return self.base_._training_scores(multichannel_window_features(bounded_sample(X)))

    def _forget_fit_scores(self) -> None:
        self.base_._forget_fit_scores()

    def _calibrator_from(self, scores: np.ndarray) -> ScoreCalibrator:
        return self.base_._calibrator_from(scores)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.base_._score(self._features(X))

    def _state(self) -> dict[str, Any]:
        nested = {_BASE_PREFIX + k: v for k, v in self.base_._state().items()}
        return {"window": np.array(self.window_), **nested}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.window_ = int(state["window"])
        base = self._make_base()
        base.n_features_ = self.window_ * self.n_features_ + 2 * self.n_features_
        base._set_state(
            {k[len(_BASE_PREFIX) :]: v for k, v in state.items() if k.startswith(_BASE_PREFIX)}
        )
        base.fitted_ = True
        self.base_ = base
