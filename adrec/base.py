"""The detector contract: fit on normal data, score (higher = more anomalous), a threshold and a
calibrated score fixed at fit time, predict, and a safe save / load.

Subclasses implement only `_fit`, `_score`, and their state (`_state` / `_set_state`); the
threshold and calibration are set here, in one place, for every detector.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from adrec.calibration import ScoreCalibrator

DETECTORS: dict[str, type[BaseDetector]] = {}


class NotFittedError(RuntimeError):
    pass


class BaseDetector(ABC):
    name: ClassVar[str]
    input_ndim: ClassVar[int] = 2  # 2: [n, features]; 3: [n, time, features]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            DETECTORS[cls.name] = cls

    def __init__(self, quantile: float = 0.99, **params: Any) -> None:
        self.quantile = quantile
        self.params = params

    @classmethod
    def get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the shared contract tests and smoke runs."""
        return {}

    @classmethod
    def with_contamination(cls, contamination: float, **params: Any) -> BaseDetector:
        """A detector whose threshold flags `contamination` of the normal data (PyOD's
        convention) instead of the default 1 - 0.99."""
        if not 0.0 < contamination < 0.5:
            raise ValueError("contamination must be in (0, 0.5)")
        return cls(quantile=1.0 - contamination, **params)

    # -- what subclasses implement -------------------------------------------------------
    @abstractmethod
    def _fit(self, X: np.ndarray) -> None: ...

    @abstractmethod
    def _score(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _state(self) -> dict[str, torch.Tensor]: ...

    @abstractmethod
    def _set_state(self, state: dict[str, torch.Tensor]) -> None: ...

    # -- the contract ----------------------------------------------------------------------
    def fit(self, X: np.ndarray, X_calib: np.ndarray | None = None) -> BaseDetector:
        """Fit on normal data; the threshold comes from `X_calib` (held-out normal data) when
        given, else from the training data itself."""
        self.__dict__.pop("n_features_", None)  # a refit may change the input width
        self._fit(self._check_input(X, "X"))
        return self.calibrate(X if X_calib is None else X_calib)

    def calibrate(self, X_normal: np.ndarray) -> BaseDetector:
        self.calibrator_ = ScoreCalibrator.fit(self.score_samples(X_normal), self.quantile)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores: higher = more anomalous (PyOD's meaning)."""
        return self.score_samples(X)

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")
        return self._score(self._check_input(X, "X"))

    @property
    def threshold_(self) -> float:
        return self._calibrator().threshold

    def calibrated(self, X: np.ndarray) -> np.ndarray:
        return self._calibrator().transform(self.score_samples(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score_samples(X) >= self.threshold_).astype(np.int64)

    @property
    def is_fitted(self) -> bool:
        return getattr(self, "fitted_", False)

    def _calibrator(self) -> ScoreCalibrator:
        if not hasattr(self, "calibrator_"):
            raise NotFittedError(f"{type(self).__name__} has no threshold; call fit() first")
        return self.calibrator_

    def _check_input(self, X: np.ndarray, name: str) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != self.input_ndim:
            raise ValueError(f"{name} must have {self.input_ndim} dimensions, got shape {X.shape}")
        if len(X) == 0:
            raise ValueError(f"{name} is empty")
        if not np.isfinite(X).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        expected = getattr(self, "n_features_", None)
        if expected is not None and X.shape[-1] != expected:
            raise ValueError(f"{name} has {X.shape[-1]} features, the detector expects {expected}")
        return X

    # -- persistence: tensors via torch.save, loaded with weights_only=True; the rest is JSON
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self._state(), path / "state.pt")
        meta = {
            "detector": self.name,
            "quantile": self.quantile,
            "params": self.params,
            "n_features": getattr(self, "n_features_", None),
            "calibrator": self._calibrator().to_dict(),
        }
        (path / "detector.json").write_text(json.dumps(meta, indent=2))
        return path

    @staticmethod
    def load(path: str | Path) -> BaseDetector:
        path = Path(path)
        import adrec.detectors  # noqa: F401  (registers every detector class)

        meta = json.loads((path / "detector.json").read_text())
        cls = DETECTORS.get(meta["detector"])
        if cls is None:
            raise ValueError(f"unknown detector {meta['detector']!r} in {path}")
        det = cls(quantile=meta["quantile"], **meta["params"])
        det.n_features_ = meta["n_features"]
        det._set_state(torch.load(path / "state.pt", weights_only=True, map_location="cpu"))
        det.calibrator_ = ScoreCalibrator.from_dict(meta["calibrator"])
        det.fitted_ = True
        return det
