"""Detection metrics: AUROC, AUPRC and F1 at the best threshold (scikit-learn)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score


def detection_report(
    labels: np.ndarray, scores: np.ndarray, threshold: float | None = None
) -> dict:
    """AUROC, AUPRC, best-threshold F1 and, given the detector's own threshold, its precision,
    recall and F1 there. Labels are 0/1; both classes must be present."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    if len(np.unique(labels)) != 2:
        raise ValueError("detection metrics need both normal (0) and anomalous (1) labels")
    precision, recall, _ = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    report = {
        "n": int(len(labels)),
        "n_anomalous": int(labels.sum()),
        "auroc": float(roc_auc_score(labels, scores)),
        "auprc": float(average_precision_score(labels, scores)),
        "best_f1": float(f1.max()),
    }
    if threshold is not None:
        pred = scores >= threshold
        tp = int((pred & (labels == 1)).sum())
        p = tp / max(int(pred.sum()), 1)
        r = tp / max(int(labels.sum()), 1)
        report.update(
            {
                "threshold": float(threshold),
                "precision_at_threshold": p,
                "recall_at_threshold": r,
                "f1_at_threshold": 2 * p * r / max(p + r, 1e-12),
            }
        )
    return report
