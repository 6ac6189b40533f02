"""The dashboard's time series, from what training and the benchmark already write: a run's
batch scores (scores.parquet) and `adrec bench recommend`'s JSON report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adrec.detectors.behaviour.scoring import label_scores


def anomaly_by_day(scores: pd.DataFrame, truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per day of the prediction time: windows scored, mean calibrated score, share flagged
    (calibrated >= 0.5) and, with ground truth (life events: user_id, event_time), the share
    of life-event windows flagged (recall) and of normal windows flagged (false alarms).
    Windows the event splits are left out of both rates, as in the detection metrics.
    `scores`: batch scores (user_id, time and window_start in unix s, calibrated)."""
    for col in ("user_id", "time", "window_start", "calibrated"):
        if col not in scores:
            raise ValueError(f"scores lack the column {col!r}")
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(scores["time"].to_numpy(np.int64), unit="s").normalize(),
            "calibrated": scores["calibrated"].to_numpy(np.float64),
        }
    )
    frame["flagged"] = frame["calibrated"] >= 0.5
    if truth is not None:
        labels = label_scores(scores, truth)
        frame["event_flagged"] = np.where(labels == 1, frame["flagged"], np.nan)
        frame["normal_flagged"] = np.where(labels == 0, frame["flagged"], np.nan)
    days = frame.groupby("date")
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
