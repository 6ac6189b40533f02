"""The served recommender without any web or Ray code: a validated request in, the response
body out. The Serve deployments (adrec.serving.app) and a plain single-process app wrap it,
so every front end answers alike."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from adrec.recommender.engine import AnomalyAwareRecommender, RequestEvents
from adrec.recommender.history import History
from adrec.serving.models import RecommendRequest


def _unix(ts: datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp())


def request_events(request: RecommendRequest) -> RequestEvents:
    ev = request.events
    return RequestEvents(
        items=[e.item_id for e in ev],
        times=np.array([_unix(e.timestamp) for e in ev], np.int64),
        actions=[e.action for e in ev],
        values=np.array([np.nan if e.value is None else e.value for e in ev], np.float64),
    )


class RecommendService:
    def __init__(self, engine: AnomalyAwareRecommender):
        self.engine = engine

    @classmethod
    def load(cls, run_dir: str | Path) -> RecommendService:
        return cls(AnomalyAwareRecommender.load(run_dir))

    def history(self, request: RecommendRequest) -> tuple[History, dict, bool]:
        at = None if request.at is None else float(_unix(request.at))
        return self.engine.history_for(request.user_id, request_events(request), at)

    def anomaly(self, request: RecommendRequest) -> dict:
        """The detector's part: the anomaly of the user's window at the prediction time."""
        history, _, _ = self.history(request)
        return self.anomaly_of(history)

    def anomaly_of(self, history: History) -> dict:
        a = self.engine.anomaly([history])
        det = self.engine.detector
        score = float(a["score"][0])
        return {
            "score": score if np.isfinite(score) else None,
            "calibrated": float(a["calibrated"][0]),
            "threshold": det.threshold if det else None,
            "is_anomalous": bool(a["calibrated"][0] >= 0.5),
            "has_window": bool(a["has_window"][0]),
        }

    def recommend(self, request: RecommendRequest, anomaly: dict | None = None) -> dict:
        """The response body; `anomaly` as the detector's part returned it (computed here
        when not given)."""
        history, ignored, known = self.history(request)
        anomaly = anomaly or self.anomaly_of(history)
        arrays = {
            "score": np.array([np.nan if anomaly["score"] is None else anomaly["score"]]),
            "calibrated": np.array([anomaly["calibrated"]]),
            "has_window": np.array([anomaly["has_window"]]),
        }
        result = self.engine.recommend([history], request.k, arrays)[0]
        return {
            "user_id": request.user_id,
            "known_user": known,
            "at": datetime.fromtimestamp(history.now, UTC).replace(tzinfo=None),
            "anomaly": anomaly,
            **result,
            "ignored_events": ignored,
        }

    def info(self) -> dict:
        return self.engine.describe()
