"""The dashboard's time series, from what training and the benchmark already write: a run's
scored test windows (test_scores.parquet) and `adrec bench recommend`'s JSON report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adrec.calibration import ScoreCalibrator
from adrec.data.behavior import WindowSpec, label_windows


def anomaly_by_day(
    scores: pd.DataFrame,
    calibrator: ScoreCalibrator,
    spec: WindowSpec,
    truth: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per window end day: windows scored, mean calibrated score, share flagged (calibrated
    >= 0.5) and, with ground truth (life_events), the share of life-event windows flagged
    (recall) and of normal windows flagged (false alarms). Windows the event splits are left
    out of both rates, as in the detection metrics."""
    for col in ("user_id", "end_day", "score"):
        if col not in scores:
            raise ValueError(f"scores lack the column {col!r}")
    frame = pd.DataFrame(
        {
            "end_day": scores["end_day"].to_numpy(np.int64),
            "calibrated": calibrator.transform(scores["score"].to_numpy()),
        }
    )
    frame["flagged"] = frame["calibrated"] >= 0.5
    if truth is not None:
        labels = label_windows(
            scores["user_id"].to_numpy(), frame["end_day"].to_numpy(), spec.window_days, truth
        )
        frame["event_flagged"] = np.where(labels == 1, frame["flagged"], np.nan)
        frame["normal_flagged"] = np.where(labels == 0, frame["flagged"], np.nan)
    days = frame.groupby("end_day")
    out = pd.DataFrame(
        {
            "windows": days.size(),
            "mean_calibrated": days["calibrated"].mean(),
            "flagged_share": days["flagged"].mean(),
        }
    )
    if truth is not None:
        out["life_event_windows"] = days["event_flagged"].count()
        out["recall"] = days["event_flagged"].mean()  # nan on days without an event window
        out["false_alarm_rate"] = days["normal_flagged"].mean()
    out.index = pd.Timestamp(spec.origin) + pd.to_timedelta(out.index, unit="D")
    out.index.name = "date"
    return out


def accuracy_by_month(report: dict) -> pd.DataFrame:
    """Test NDCG@10 per calendar month of the target for each blend, the mean over seeds, and
    the targets per month (the same in every seed)."""
    rows = [r for res in report.get("seeds", {}).values() for r in res.get("ndcg@10_by_month", [])]
    if not rows:
        return pd.DataFrame()
    variants = [k for k in rows[0] if k not in ("month", "n")]
    by_month = pd.DataFrame(rows).groupby("month")
    return by_month[variants].mean().join(by_month["n"].first().rename("targets"))
