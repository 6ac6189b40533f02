"""Time-series detection metrics: point-wise, point-adjusted and event-wise (range) scores,
and NAB anomaly windows as point labels.

Point adjustment (any hit inside a true anomaly segment marks the whole segment detected)
inflates scores, so `time_series_report` always reports it beside the unadjusted point-wise
F1, never instead of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from adrec.metrics.detection import detection_report


def _binary(name: str, a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1")
    return a.astype(bool)


def _pair(labels: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, pred = _binary("labels", labels), _binary("pred", pred)
    if labels.shape != pred.shape:
        raise ValueError(f"labels {labels.shape} and pred {pred.shape} differ in shape")
    return labels, pred


def _prf(tp_p: int, n_pred: int, tp_r: int, n_true: int) -> dict[str, float]:
    # Precision and recall may count different things (event-wise: predicted vs true events).
    p = tp_p / n_pred if n_pred else 0.0
    r = tp_r / n_true if n_true else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def segments(flags: np.ndarray) -> np.ndarray:
    """Runs of consecutive 1s as [k, 2] rows of (start, end), end exclusive."""
    flags = _binary("flags", flags).astype(np.int8)
    edges = np.diff(np.concatenate([[0], flags, [0]]))
    return np.column_stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)])


def pointwise_prf(labels: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 over individual points."""
    labels, pred = _pair(labels, pred)
    tp = int((labels & pred).sum())
    return _prf(tp, int(pred.sum()), tp, int(labels.sum()))


def point_adjust(labels: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Predictions with every true segment that holds at least one hit flagged whole."""
    labels, pred = _pair(labels, pred)
    adjusted = pred.copy()
    for start, end in segments(labels):
        if pred[start:end].any():
            adjusted[start:end] = True
    return adjusted.astype(np.int64)


def point_adjusted_prf(labels: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return pointwise_prf(labels, point_adjust(labels, pred))


def event_prf(labels: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Event-wise (range) scores: a true event is recalled when any of its points is flagged;
    a predicted event (a run of flagged points) is correct when it overlaps a true event."""
    labels, pred = _pair(labels, pred)
    true_events, pred_events = segments(labels), segments(pred)
    recalled = sum(bool(pred[s:e].any()) for s, e in true_events)
    correct = sum(bool(labels[s:e].any()) for s, e in pred_events)
    out = _prf(correct, len(pred_events), recalled, len(true_events))
    out.update({"n_true_events": len(true_events), "n_pred_events": len(pred_events)})
    return out


def windows_to_labels(timestamps: pd.Series | np.ndarray, windows: list) -> np.ndarray:
    """NAB anomaly windows (a list of [start, end] timestamps, both ends inclusive) as 0/1
    labels of the given timestamps."""
    ts = pd.to_datetime(pd.Series(np.asarray(timestamps))).to_numpy()
    labels = np.zeros(len(ts), dtype=np.int64)
    for i, window in enumerate(windows):
        if len(window) != 2:
            raise ValueError(f"window {i} must be [start, end], got {window!r}")
        start, end = pd.Timestamp(window[0]), pd.Timestamp(window[1])
        if end < start:
            raise ValueError(f"window {i} ends ({end}) before it starts ({start})")
        labels[(ts >= start.to_datetime64()) & (ts <= end.to_datetime64())] = 1
    return labels


def time_series_report(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """Everything for one scored series at the detector's threshold: point-wise, point-adjusted
    and event-wise precision / recall / F1, plus AUROC / AUPRC / best F1 when the series has
    both normal and anomalous points (those keys are None otherwise)."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    pred = (scores >= threshold).astype(np.int64)
    report: dict = {"n": int(len(labels)), "n_anomalous": int(np.sum(labels))}
    if len(np.unique(labels)) == 2:
        ranked = detection_report(labels, scores)
        report.update({k: ranked[k] for k in ("auroc", "auprc", "best_f1")})
    else:
        report.update({"auroc": None, "auprc": None, "best_f1": None})
    for prefix, metrics in (
        ("point", pointwise_prf(labels, pred)),
        ("pa", point_adjusted_prf(labels, pred)),
        ("event", event_prf(labels, pred)),
    ):
        report.update({f"{prefix}_{k}": v for k, v in metrics.items()})
    return report
