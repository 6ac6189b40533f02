"""The dashboard's series, from what training and the benchmark already write: a run's batch
scores (scores.parquet: user_id, time and window_start in unix s, score, calibrated) with
the log's ground truth where it has one (life events: user_id, event_time), and
`adrec bench recommend`'s JSON report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adrec.detectors.behaviour.scoring import label_scores

THRESHOLD = 0.5
HISTOGRAM_BINS = 40


def _check(scores: pd.DataFrame) -> None:
    for col in ("user_id", "time", "window_start", "calibrated"):
        if col not in scores:
            raise ValueError(f"scores lack the column {col!r}")


def window_labels(scores: pd.DataFrame, truth: pd.DataFrame | None) -> np.ndarray | None:
    """Per window: 1 life-event window, 0 normal, -1 split by the event; None without truth."""
    return None if truth is None else label_scores(scores, truth)


def population_by_day(
    scores: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    threshold: float = THRESHOLD,
    labels: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per day of the windows' end time (UTC): windows and users scored, the share of those
    users with a flagged window that day (calibrated >= threshold), the mean calibrated score
    and, with ground truth, recall (share of life-event windows flagged) and false alarms
    (share of normal windows flagged). A window counts as a life-event window when it
    starts at or after the user's event, as normal when it ends at or before it; windows the
    event splits are in neither rate, as in the detection metrics. `labels`: the windows'
    labels where the caller has them already (window_labels)."""
    _check(scores)
    frame = pd.DataFrame(
        {
            "date": scores["time"].to_numpy(np.int64) // 86_400,
            "user": pd.factorize(scores["user_id"])[0],
            "calibrated": scores["calibrated"].to_numpy(np.float64),
        }
    )
    frame["flagged"] = frame["calibrated"] >= threshold
    if truth is not None:
        labels = window_labels(scores, truth) if labels is None else labels
        frame["event_flagged"] = np.where(labels == 1, frame["flagged"], np.nan)
        frame["normal_flagged"] = np.where(labels == 0, frame["flagged"], np.nan)
    days = frame.groupby("date")
    per_user = frame.groupby(["date", "user"])["flagged"].any().groupby("date")
    out = pd.DataFrame(
        {
            "windows": days.size(),
            "users": per_user.size(),
            "flagged_users": per_user.sum().astype(int),
            "flagged_share": per_user.mean(),
            "mean_calibrated": days["calibrated"].mean(),
        }
    )
    if truth is not None:
        out["event_windows"] = days["event_flagged"].count()
        out["normal_windows"] = days["normal_flagged"].count()
        out["recall"] = days["event_flagged"].mean()  # NaN on days without an event window
        out["false_alarm_rate"] = days["normal_flagged"].mean()
    out.index = pd.to_datetime(out.index.to_numpy() * 86_400, unit="s")
    out.index.name = "date"
    return out


def calibrated_histogram(
    scores: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    bins: int = HISTOGRAM_BINS,
    labels: np.ndarray | None = None,
) -> dict:
    """Counts of calibrated scores in `bins` equal bins over [0, 1]; with ground truth split
    into normal windows, life-event windows and windows the event splits."""
    _check(scores)
    edges = np.linspace(0.0, 1.0, bins + 1)
    c = np.clip(scores["calibrated"].to_numpy(np.float64), 0.0, 1.0)

    def counts(mask) -> list[int]:
        return np.histogram(c[mask], edges)[0].astype(int).tolist()

    out = {"edges": np.round(edges, 4).tolist(), "all": counts(np.ones(len(c), bool))}
    if truth is not None:
        labels = window_labels(scores, truth) if labels is None else labels
        out.update(normal=counts(labels == 0), event=counts(labels == 1), split=counts(labels < 0))
    return out


def episodes(rows, threshold: float = THRESHOLD) -> list[dict]:
    """One user's detected episodes: runs of consecutive flagged windows (in time order),
    each from the first flagged window's start to the last one's end, with its peak.
    `rows`: a frame or a mapping with window_start, time and calibrated."""
    cal = np.asarray(rows["calibrated"], np.float64)
    flagged = cal >= threshold
    starts = np.asarray(rows["window_start"], np.int64)
    ends = np.asarray(rows["time"], np.int64)
    out, i = [], 0
    while i < len(flagged):
        if not flagged[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(flagged) and flagged[j + 1]:
            j += 1
        out.append({"start": int(starts[i]), "end": int(ends[j]), "windows": j - i + 1,
                    "peak": round(float(cal[i : j + 1].max()), 4)})  # fmt: skip
        i = j + 1
    return out


def accuracy_by_month(report: dict) -> pd.DataFrame:
    """Test NDCG@10 per calendar month of the target for each blend, the mean over seeds, and
    the targets per month (the same in every seed), from `adrec bench recommend`'s report."""
    rows = [r for res in report.get("seeds", {}).values() for r in res.get("ndcg@10_by_month", [])]
    if not rows:
        return pd.DataFrame()
    variants = [k for k in rows[0] if k not in ("month", "n")]
    by_month = pd.DataFrame(rows).groupby("month")
    return by_month[variants].mean().join(by_month["n"].first().rename("targets"))
