"""Any registered 2-D detector over windows [n, time, features], through per-window features.

adrec.data.anomaly_benchmarks.window_features takes single-channel windows [n, w, 1] only;
`multichannel_window_features` is its extension to F channels (for F = 1 the two agree)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from adrec.base import DETECTORS, BaseDetector
from adrec.calibration import ScoreCalibrator

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
    """Delegates to the registered 2-D detector `base` (built with `base_params`), fitted on
    the windows' features. Threshold and calibration are the base detector's own (so a base
    with its own threshold rule, such as hotelling_t2's F law, keeps it); the saved state
    nests the base detector's state."""

    name = "window_features"
    input_ndim = 3

    def __init__(self, quantile: float = 0.99, base: str = "iforest", base_params=None, **kw):
        if kw:
            raise TypeError(f"WindowFeatureDetector got unknown parameter(s) {sorted(kw)}")
        super().__init__(quantile, base=base, base_params=dict(base_params or {}))

    @classmethod
    def get_test_params(cls) -> dict[str, Any]:
        return {"base": "pca", "base_params": {"n_components": 2}}

    def _make_base(self) -> BaseDetector:
        name = self.params["base"]
        cls = DETECTORS.get(name)
        if cls is None or cls.input_ndim != 2:
            choices = sorted(k for k, c in DETECTORS.items() if c.input_ndim == 2)
            raise ValueError(f"base must name a registered 2-D detector {choices}, got {name!r}")
        return cls(quantile=self.quantile, **self.params["base_params"])

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
        self.window_ = X.shape[1]
        features = multichannel_window_features(X)
        # The base's own fit() would also calibrate on these rows; calibrate() below does it
        # once, on the data fit() chooses.
        self.base_._fit(self.base_._check_input(features, "window features"))
        self.n_features_ = X.shape[2]
        self.fitted_ = True

    def calibrate(self, X_normal: np.ndarray) -> WindowFeatureDetector:
        self.base_.calibrate(self._features(self._check_input(X_normal, "X_normal")))
        return self

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.base_.score_samples(self._features(X))

    def _state(self) -> dict[str, torch.Tensor]:
        nested = {_BASE_PREFIX + k: v for k, v in self.base_._state().items()}
        return {"window": torch.tensor(self.window_), **nested}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        self.window_ = int(state["window"])
        base = self._make_base()
        base.n_features_ = self.window_ * self.n_features_ + 2 * self.n_features_
        base._set_state(
            {k[len(_BASE_PREFIX) :]: v for k, v in state.items() if k.startswith(_BASE_PREFIX)}
        )
        base.fitted_ = True
        self.base_ = base
