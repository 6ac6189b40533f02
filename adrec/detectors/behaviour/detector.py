"""A fitted anomaly detector with the behaviour window it reads: scores a user's History at
its prediction time. The same object scores validation and test points offline and the
served requests, so served scores equal offline scores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adrec.base import BaseDetector
from adrec.detectors.behaviour.windows import Signals, window_from_dict, window_rows
from adrec.detectors.registry import load_detector
from adrec.recommender.history import History


@dataclass
class BehaviourDetector:
    """`detector` reads `window` as a summary vector, or (sequence detectors, input
    [n, time, features]) as its steps when `as_steps`, else as a one-step sequence."""

    detector: BaseDetector
    window: object
    as_steps: bool
    signals: Signals

    def inputs(self, histories: list[History]) -> tuple[np.ndarray, np.ndarray]:
        """Detector inputs of the histories that have a window, and the mask of which do."""
        X, have = window_rows(self.window, histories, self.signals, self.as_steps)
        if self.detector.input_ndim == 3 and not self.as_steps:
            X = X[:, None, :]
        return X, have

    def score(self, histories: list[History]) -> dict[str, np.ndarray]:
        """Per history: raw score (NaN without a window), calibrated score in [0, 1] (0, the
        calm end, without a window) and whether it had a window."""
        X, have = self.inputs(histories)
        score = np.full(len(histories), np.nan)
        calibrated = np.zeros(len(histories))
        if have.any():
            score[have] = self.detector.decision_function(X)
            calibrated[have] = self.detector.calibrator_.transform(score[have])
        return {"score": score, "calibrated": calibrated, "has_window": have}

    @property
    def threshold(self) -> float:
        return float(self.detector.threshold_)

    def describe(self) -> dict:
        return {
            "detector": self.detector.name,
            "window": self.window.to_dict(),
            "input": "steps" if self.as_steps else "summary",
            "threshold": self.threshold,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        self.detector.save(path / "model")
        spec = {"window": self.window.to_dict(), "as_steps": self.as_steps, **self.signals.meta()}
        (path / "behaviour.json").write_text(json.dumps(spec, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path, shares: np.ndarray) -> BehaviourDetector:
        """`shares`: the items' category shares (Signals.shares) of the run it belongs to."""
        path = Path(path)
        spec = json.loads((path / "behaviour.json").read_text())
        signals = Signals(
            np.asarray(shares, np.float64), spec["n_actions"], spec["has_values"], spec["sub_day"]
        )
        return cls(
            load_detector(path / "model"),
            window_from_dict(spec["window"]),
            bool(spec["as_steps"]),
            signals,
        )
