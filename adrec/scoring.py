"""Score one user's recent events against their own normal: the detector's live path."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adrec.base import BaseDetector
from adrec.data.behavior import WindowSpec, live_window
from adrec.errors import BadEventsError, UnknownUserError


class BehaviorScorer:
    def __init__(self, detector: BaseDetector, spec: WindowSpec, profiles: dict[int, np.ndarray]):
        self.detector = detector
        self.spec = spec
        self.profiles = profiles

    def knows(self, user_id: int) -> bool:
        return user_id in self.profiles

    def score(self, user_id: int, events: pd.DataFrame) -> dict:
        """Anomaly of the window ending on the day of the user's latest event."""
        profile = self.profiles.get(user_id)
        if profile is None:
            raise UnknownUserError(user_id)
        known = events["category"].isin(self.spec.categories)
        if not known.any():
            raise BadEventsError(
                f"no event has a known category; known categories: {list(self.spec.categories)}"
            )
        window = live_window(events[known], profile, self.spec)
        return {
            **window_anomaly(self.detector, window),
            "unknown_category_events": int((~known).sum()),
        }


def window_anomaly(detector: BaseDetector, window: np.ndarray) -> dict:
    """Score, calibrated score, threshold and verdict of one behaviour window: the same
    answer for the served, streamed and offline paths."""
    score = float(detector.decision_function(window[None])[0])
    cal = detector.calibrator_
    return {
        "score": score,
        "calibrated": float(cal.transform(score)),
        "threshold": cal.threshold,
        "is_anomalous": bool(cal.is_anomalous(score)),
    }
