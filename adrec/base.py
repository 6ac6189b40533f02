"""The detector contract, in scikit-learn's estimator conventions and PyOD's sign.

- `__init__` stores its keyword arguments unchanged (scikit-learn's rule), so `get_params`,
  `set_params` and `sklearn.base.clone` work; validation happens in `fit`.
- `fit(X, X_calib=None)` learns from normal data and returns self; the threshold and the
  calibrated score are set here, in one place for every detector, from the held-out normal
  `X_calib` when given, else from the training data (a bounded sample of it, or scores the
  method already has).
- `decision_function(X)`: anomaly scores, higher = more anomalous (PyOD's meaning).
  scikit-learn's `score_samples` (higher = more normal) is not offered: one sign, one name.
- `contamination` (PyOD's parameter): the share of normal data above the threshold, so the
  threshold is the (1 - contamination) quantile of the calibration scores (default 0.01: the
  99th percentile).
- `random_state` on every stochastic detector (an int seeds it; None draws fresh entropy).
- `save(path)` writes the state as arrays (`state.npz`, read with allow_pickle=False) or
  tensors (`state.pt`, read with torch.load(weights_only=True)) beside a JSON file; nothing is
  pickled. `adrec.detectors.registry.load_detector(path)` reads it back.

Subclasses implement only `_fit`, `_score` and their state (`_state` / `_set_state`). This
module knows no concrete detector (the registry lives in adrec.detectors.registry), and
imports neither torch nor Ray.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from adrec.calibration import ScoreCalibrator

# The threshold and calibration come from at most this many scores (a seeded sample of the
# rows given): the 99th percentile of 20,000 scores has a standard error of about 0.07
# percentage points, and the pass costs the same for 10^4 or 10^7 rows.
MAX_CALIBRATION_ROWS = 20_000
STATE_ARRAYS, STATE_TENSORS, META = "state.npz", "state.pt", "detector.json"
_SAVE_FORMAT = 2


class NotFittedError(_SklearnNotFittedError, RuntimeError):
    """A detector used before `fit` (scikit-learn's NotFittedError, and a RuntimeError)."""


def seed_from(random_state: Any) -> int:
    """An int seed from a `random_state` parameter: the int itself, a draw from a
    np.random.RandomState / Generator, or fresh entropy for None."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        msg = f"random_state must be None, an int or a RandomState, got {random_state!r}"
        raise ValueError(msg)
    return int(random_state)


def bounded_sample(X: np.ndarray, limit: int | None = None) -> np.ndarray:
    """X itself when it has at most `limit` (MAX_CALIBRATION_ROWS) rows, else `limit` rows
    drawn without replacement with a fixed seed (in their original order), so the same data
    gives the same sample."""
    limit = MAX_CALIBRATION_ROWS if limit is None else limit
    if len(X) <= limit:
        return X
    rows = np.random.default_rng(0).choice(len(X), size=limit, replace=False)
    return X[np.sort(rows)]


class BaseDetector(BaseEstimator, ABC):
    name: ClassVar[str]
    input_ndim: ClassVar[int] = 2  # 2: [n, features]; 3: [n, time, features]; 4: images

    # Every subclass declares its parameters in its own __init__ (scikit-learn reads them
    # from the signature), `contamination` included, and only stores them.

    @classmethod
    def get_test_params(cls) -> dict[str, Any]:
        """Small, fast parameters for the shared contract tests and smoke runs."""
        return {}

    @property
    def quantile(self) -> float:
        """The quantile of the calibration scores that is the threshold: 1 - contamination."""
        return 1.0 - self.contamination

    # -- what subclasses implement -------------------------------------------------------
    @abstractmethod
    def _fit(self, X: np.ndarray) -> None:
        """Learn from validated normal rows (float32, finite)."""

    @abstractmethod
    def _score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores (higher = more anomalous) of validated rows."""

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """The fitted state: NumPy arrays (saved as .npz) or torch tensors (saved as .pt)."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any]) -> None: ...

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """Scores of the training rows that set the threshold when fit() has no X_calib: the
        scores the method already computed while fitting (a `_fit` may leave them in
        `self._fit_scores`, as LOF does), else those of a bounded sample of the rows. A
        method that must score its own training rows differently (kNN leaves a row out of
        its own neighbours) overrides this."""
        fit_scores = self.__dict__.get("_fit_scores")
        return self._score(bounded_sample(X)) if fit_scores is None else fit_scores

    def _forget_fit_scores(self) -> None:
        self.__dict__.pop("_fit_scores", None)

    def _calibrator_from(self, scores: np.ndarray) -> ScoreCalibrator:
        return ScoreCalibrator.fit(scores, self.quantile)

    def _check_params(self) -> None:
        """Validate the parameters (called by fit, never by __init__)."""
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, int | float) or not 0.0 < c < 0.5:
            raise ValueError(f"contamination must be in (0, 0.5), got {c!r}")

    # -- the contract ----------------------------------------------------------------------
    def fit(self, X: np.ndarray, X_calib: np.ndarray | None = None) -> BaseDetector:
        """Fit on normal data; the threshold comes from `X_calib` (held-out normal data) when
        given, else from the training data itself."""
        self._check_params()
        X = self._check_input(X, "X", fitting=True)
        calib = None if X_calib is None else self._check_input(X_calib, "X_calib", fitting=True)
        if calib is not None and calib.shape[1:] != X.shape[1:]:
            raise ValueError(f"X_calib has shape {calib.shape[1:]} per row, X {X.shape[1:]}")
        self.fitted_ = False
        self._fit(X)
        self.n_features_ = int(X.shape[-1])
        self.fitted_ = True
        scores = self._training_scores(X) if calib is None else self._score(bounded_sample(calib))
        self._forget_fit_scores()
        self.calibrator_ = self._calibrator_from(scores)
        return self

    def calibrate(self, X_normal: np.ndarray) -> BaseDetector:
        """Set the threshold and calibration again from held-out normal data (for a model
        trained elsewhere, e.g. by Ray Train); a bounded sample of it is scored."""
        self._check_params()
        self._require_fitted()
        X_normal = self._check_input(X_normal, "X_normal")
        self.calibrator_ = self._calibrator_from(self._score(bounded_sample(X_normal)))
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores: higher = more anomalous (PyOD's meaning), one per row."""
        self._require_fitted()
        return self._score(self._check_input(X, "X"))

    @property
    def score_samples(self):
        # A property that raises AttributeError: hasattr() is False and a call says why.
        raise AttributeError(
            "score_samples is not offered (scikit-learn's has the opposite sign): use "
            "decision_function, where higher = more anomalous"
        )

    @property
    def threshold_(self) -> float:
        return self._calibrator().threshold

    def calibrated(self, X: np.ndarray) -> np.ndarray:
        """Scores mapped to [0, 1]: 0.5 at the threshold, about 0.01 at the median normal."""
        return self._calibrator().transform(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """1 for rows at or above the threshold (anomalous), else 0 (PyOD's labels)."""
        return (self.decision_function(X) >= self.threshold_).astype(np.int64)

    @property
    def is_fitted(self) -> bool:
        return getattr(self, "fitted_", False)

    def __sklearn_is_fitted__(self) -> bool:
        return self.is_fitted

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _calibrator(self) -> ScoreCalibrator:
        if not hasattr(self, "calibrator_"):
            raise NotFittedError(f"{type(self).__name__} has no threshold; call fit() first")
        return self.calibrator_

    def _check_input(self, X: np.ndarray, name: str, fitting: bool = False) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != self.input_ndim:
            raise ValueError(f"{name} must have {self.input_ndim} dimensions, got shape {X.shape}")
        if len(X) == 0:
            raise ValueError(f"{name} is empty")
        if not np.isfinite(X).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        expected = None if fitting else getattr(self, "n_features_", None)
        if expected is not None and X.shape[-1] != expected:
            raise ValueError(f"{name} has {X.shape[-1]} features, the detector expects {expected}")
        return X

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted detector to the folder `path`: its state (arrays or tensors) and
        a JSON file with its name, parameters, input width and calibration."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = self._state()
        for stale in (STATE_ARRAYS, STATE_TENSORS):
            (path / stale).unlink(missing_ok=True)
        if all(isinstance(v, np.ndarray) for v in state.values()):
            objects = [k for k, v in state.items() if v.dtype.hasobject]
            if objects:
                raise TypeError(f"state arrays {objects} hold Python objects")
            np.savez(path / STATE_ARRAYS, **state)
        else:
            import torch

            torch.save({k: torch.as_tensor(v) for k, v in state.items()}, path / STATE_TENSORS)
        meta = {
            "format": _SAVE_FORMAT,
            "detector": self.name,
            "params": self.get_params(deep=False),
            "n_features": getattr(self, "n_features_", None),
            "calibrator": self._calibrator().to_dict(),
        }
        (path / META).write_text(json.dumps(meta, indent=2, default=_json_param))
        return path

    @classmethod
    def _from_saved(cls, meta: dict, state: dict[str, Any]) -> BaseDetector:
        """A fitted detector from what `save` wrote (adrec.detectors.registry.load_detector
        reads the files and picks the class)."""
        det = cls(**_saved_params(meta))
        det.n_features_ = meta["n_features"]
        det._set_state(state)
        det.calibrator_ = ScoreCalibrator.from_dict(meta["calibrator"])
        det.fitted_ = True
        return det


def read_meta(path: str | Path) -> dict:
    return json.loads((Path(path) / META).read_text())


def read_state(path: str | Path) -> dict[str, Any]:
    """The saved state: arrays from state.npz (allow_pickle=False) or tensors from state.pt
    (torch.load with weights_only=True). Neither path unpickles anything."""
    path = Path(path)
    if (path / STATE_ARRAYS).exists():
        with np.load(path / STATE_ARRAYS, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    import torch

    return torch.load(path / STATE_TENSORS, weights_only=True, map_location="cpu")


def _saved_params(meta: dict) -> dict:
    params = dict(meta["params"])
    if meta.get("format", 1) < 2:  # saved before contamination and random_state
        if "quantile" in meta:
            params["contamination"] = 1.0 - float(meta["quantile"])
        if "seed" in params:
            params["random_state"] = params.pop("seed")
    # JSON has no tuples: a tuple parameter comes back as a list; give it back as a tuple.
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def _json_param(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"parameter value {v!r} is not JSON serialisable")
