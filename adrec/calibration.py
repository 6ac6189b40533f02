"""Turn raw anomaly scores into a threshold and a calibrated score in [0, 1].

The threshold is the q-quantile (default 99th percentile) of scores on held-out normal data.
The calibrated score is a logistic curve through two anchors of that same normal sample:
the median maps to 0.01 and the threshold to 0.5. So `calibrated >= 0.5` is exactly
`score >= threshold`, typical users sit near 0, and a recommender can use it as a weight.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

_MEDIAN_LEVEL = 0.01


@dataclass(frozen=True)
class ScoreCalibrator:
    threshold: float
    median: float
    quantile: float = 0.99

    @classmethod
    def fit(cls, normal_scores: np.ndarray, quantile: float = 0.99) -> ScoreCalibrator:
        scores = np.asarray(normal_scores, dtype=np.float64).ravel()
        if scores.size < 2:
            raise ValueError("calibration needs at least 2 normal scores")
        if not np.isfinite(scores).all():
            raise ValueError("calibration scores contain NaN or infinity")
        if not 0.5 < quantile < 1.0:
            raise ValueError("quantile must be in (0.5, 1)")
        return cls(float(np.quantile(scores, quantile)), float(np.median(scores)), quantile)

    @property
    def _slope(self) -> float:
        spread = max(self.threshold - self.median, 1e-12)
        return np.log((1 - _MEDIAN_LEVEL) / _MEDIAN_LEVEL) / spread

    def transform(self, scores: np.ndarray | float) -> np.ndarray:
        z = self._slope * (np.asarray(scores, dtype=np.float64) - self.threshold)
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow

    def is_anomalous(self, scores: np.ndarray | float) -> np.ndarray:
        return np.asarray(scores) >= self.threshold

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ScoreCalibrator:
        return cls(float(d["threshold"]), float(d["median"]), float(d["quantile"]))
