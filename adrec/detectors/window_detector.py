"""Any registered tabular detector over windows [n, time, features], through per-window
features, optionally scoring a window by its most anomalous stretch.

adrec.data.anomaly_benchmarks.window_features takes single-channel windows [n, w, 1] only;
`multichannel_window_features` is its extension to F channels (for F = 1 the two agree).
`multiscale_window_features` summarises a window at several lengths instead."""

from __future__ import annotations

from typing import Any

import numpy as np

from adrec.base import BaseDetector, bounded_sample
from adrec.calibration import ScoreCalibrator
from adrec.detectors.registry import accepts, detector_class, detector_names

_BASE_PREFIX = "base."
FEATURES = ("values", "multiscale")
_LAST_VALUES = 8  # raw values of the latest steps kept by the multi-scale features
_BLOCK_VALUES = 8_000_000  # sub-window values built at once when scoring a batch


def multichannel_window_features(windows: np.ndarray) -> np.ndarray:
    """[n, w * F + 2F] for windows [n, w, F]: the values (time-major), then per channel the
    window's standard deviation and that of its first differences. The two spreads are
    non-linear, so features stay linearly independent, as in window_features."""
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[1] < 2:
        raise ValueError(f"windows must be [n, time >= 2, features], got shape {windows.shape}")
    spread = np.concatenate([windows.std(axis=1), np.diff(windows, axis=1).std(axis=1)], axis=1)
    return np.concatenate([windows.reshape(len(windows), -1), spread], axis=1)


def window_scales(w: int) -> list[int]:
    """The trailing lengths the multi-scale features summarise: 4, 8, 16, ... below w, and w."""
    scales, length = [], 4
    while length < w:
        scales.append(length)
        length *= 2
    return [*scales, w]


def multiscale_window_features(windows: np.ndarray) -> np.ndarray:
    """Per window [w, F]: the values of the last min(8, w) steps (time-major), then per
    trailing length L in window_scales(w) and per channel the mean, standard deviation,
    mean absolute step, maximum and minimum of the last L steps. A brief spike stays in the
    maxima for as long as it is inside the window; a slow drift shows in the long means."""
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[1] < 2:
        raise ValueError(f"windows must be [n, time >= 2, features], got shape {windows.shape}")
    n, w, _ = windows.shape
    parts = [windows[:, -min(_LAST_VALUES, w) :].reshape(n, -1)]
    steps = np.abs(np.diff(windows, axis=1))
    for length in window_scales(w):
        recent = windows[:, -length:]
        parts += [
            recent.mean(axis=1),
            recent.std(axis=1),
            steps[:, -(length - 1) :].mean(axis=1),
            recent.max(axis=1),
            recent.min(axis=1),
        ]
    return np.concatenate(parts, axis=1)


_FEATURE_FUNCTIONS = {
    "values": multichannel_window_features,
    "multiscale": multiscale_window_features,
}


class WindowFeatureDetector(BaseDetector):
    """The registered tabular detector `base` (built with `base_params`, and with this
    detector's `contamination` and, where the base is stochastic, `random_state`), fitted
    on per-window features ("values": the window's values and two spreads; "multiscale":
    see multiscale_window_features).

    span: the length of the stretches a window is scored by: None scores the whole window;
    an int s or a fraction of the window's length makes the window's score the largest
    among those of its w - s + 1 sub-windows of s steps (its most anomalous stretch), and
    the base is fitted on the distinct sub-windows of the training windows. A brief event
    then keeps a window's score high for as long as it lies inside the window. A batch of
    consecutive sliding windows (each the previous one moved by a step) has each sub-window
    scored once.

    Threshold and calibration are the base detector's own (so a base with its own
    threshold rule, such as hotelling_t2's F law, keeps it); the saved state nests the base
    detector's state."""

    name = "window_features"
    input_ndim = 3

    def __init__(
        self,
        base: str = "knn",
        base_params: dict[str, Any] | None = None,
        features: str = "multiscale",
        span: int | float | None = 0.5,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.base = base
        self.base_params = base_params
        self.features = features
        self.span = span
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

    def _check_params(self) -> None:
        super()._check_params()
        if self.features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, got {self.features!r}")
        span = self.span
        valid = span is None or (
            not isinstance(span, bool)
            and (
                (isinstance(span, int | np.integer) and span >= 2)
                or (isinstance(span, float) and 0.0 < span <= 1.0)
            )
        )
        if not valid:
            msg = f"span must be None, an int >= 2 or a fraction in (0, 1], got {span!r}"
            raise ValueError(msg)

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

    def _featurize(self, windows: np.ndarray) -> np.ndarray:
        return _FEATURE_FUNCTIONS[self.features](windows)

    def _resolve_span(self, w: int) -> int:
        if self.span is None:
            return w
        if isinstance(self.span, float):
            return int(min(w, max(2, np.ceil(self.span * w))))
        return int(min(w, self.span))

    def _fit(self, X: np.ndarray) -> None:
        if X.shape[1] < 2:
            raise ValueError(f"windows need at least 2 steps, got {X.shape[1]}")
        self.base_ = self._make_base()
        self.base_._check_params()
        self.window_ = X.shape[1]
        self.span_ = self._resolve_span(self.window_)
        features = self._featurize(_distinct_subwindows(X, self.span_))
        features = self.base_._check_input(features, "window features", fitting=True)
        # The base's own fit() would also calibrate on these rows: BaseDetector.fit does it
        # once, through this detector's scores, on the data fit() chooses.
        self.base_._fit(features)
        self.base_.n_features_ = features.shape[1]
        self.base_.fitted_ = True

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        if self.span_ == self.window_:  # the base scores its own training rows its way
            return self.base_._training_scores(self._featurize(bounded_sample(X)))
        return self._score(bounded_sample(X))

    def _forget_fit_scores(self) -> None:
        self.base_._forget_fit_scores()

    def _calibrator_from(self, scores: np.ndarray) -> ScoreCalibrator:
        return self.base_._calibrator_from(scores)

    def _score(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] != self.window_:
            raise ValueError(
                f"X has windows of {X.shape[1]} steps, the detector expects {self.window_}"
            )
        s, w = self.span_, self.window_
        if s == w:
            return self.base_._score(self._featurize(X))
        per_window = w - s + 1
        if _is_sliding(X):  # each sub-window once, then the maximum over each window's
            series = np.concatenate([X[0], X[1:, -1]])
            sub = np.lib.stride_tricks.sliding_window_view(series, s, axis=0)
            scores = self.base_._score(self._featurize(sub.transpose(0, 2, 1)))
            return np.lib.stride_tricks.sliding_window_view(scores, per_window).max(axis=1)
        out = np.empty(len(X))
        rows = max(1, _BLOCK_VALUES // (per_window * s * X.shape[2]))
        for start in range(0, len(X), rows):
            block = X[start : start + rows]
            sub = np.lib.stride_tricks.sliding_window_view(block, s, axis=1)  # [b, p, F, s]
            flat = sub.transpose(0, 1, 3, 2).reshape(-1, s, X.shape[2])
            scores = self.base_._score(self._featurize(flat))
            out[start : start + len(block)] = scores.reshape(len(block), per_window).max(axis=1)
        return out

    def _state(self) -> dict[str, Any]:
        nested = {_BASE_PREFIX + k: v for k, v in self.base_._state().items()}
        return {"window": np.array(self.window_), "span": np.array(self.span_), **nested}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.window_ = int(state["window"])
        self.span_ = int(state["span"]) if "span" in state else self.window_
        base = self._make_base()
        sample = np.zeros((1, self.span_, self.n_features_), dtype=np.float32)
        base.n_features_ = self._featurize(sample).shape[1]
        base._set_state(
            {k[len(_BASE_PREFIX) :]: v for k, v in state.items() if k.startswith(_BASE_PREFIX)}
        )
        base.fitted_ = True
        self.base_ = base


def _is_sliding(X: np.ndarray) -> bool:
    """Whether each window is the previous one moved on by one step."""
    return len(X) > 1 and np.array_equal(X[1:, :-1], X[:-1, 1:])


def _distinct_subwindows(X: np.ndarray, s: int) -> np.ndarray:
    """Every sub-window of s steps of the windows X [n, w, F], each distinct one once."""
    if s == X.shape[1]:
        return X
    if _is_sliding(X):
        series = np.concatenate([X[0], X[1:, -1]])
        sub = np.lib.stride_tricks.sliding_window_view(series, s, axis=0)
        return np.ascontiguousarray(sub.transpose(0, 2, 1))
    sub = np.lib.stride_tricks.sliding_window_view(X, s, axis=1).transpose(0, 1, 3, 2)
    flat = np.ascontiguousarray(sub.reshape(-1, s, X.shape[2]))
    _, first = np.unique(flat.reshape(len(flat), -1), axis=0, return_index=True)
    return flat[np.sort(first)]
