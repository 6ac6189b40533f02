"""detection_report: AUROC, AUPRC, best F1 and metrics at the detector's threshold."""

from __future__ import annotations

import numpy as np
import pytest

from adrec.metrics.detection import detection_report


def test_perfect_scores():
    labels = np.array([0, 0, 0, 1, 1])
    rep = detection_report(labels, np.array([0.1, 0.2, 0.3, 0.8, 0.9]))
    assert rep["n"] == 5 and rep["n_anomalous"] == 2
    assert rep["auroc"] == 1.0 and rep["auprc"] == pytest.approx(1.0)
    assert rep["best_f1"] == pytest.approx(1.0)
    assert "threshold" not in rep


def test_reversed_scores():
    labels = np.array([0, 0, 1, 1])
    rep = detection_report(labels, np.array([0.9, 0.8, 0.2, 0.1]))
    assert rep["auroc"] == 0.0
    assert rep["best_f1"] < 1.0


def test_random_scores_are_near_chance():
    rng = np.random.default_rng(0)
    labels = (rng.random(4000) < 0.1).astype(int)
    rep = detection_report(labels, rng.random(4000))
    assert abs(rep["auroc"] - 0.5) < 0.05
    assert abs(rep["auprc"] - labels.mean()) < 0.03


def test_metrics_at_threshold():
    labels = np.array([0, 0, 0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.6, 0.7, 0.5, 0.8, 0.9])
    rep = detection_report(labels, scores, threshold=0.6)
    # predicted: 0.6, 0.7, 0.8, 0.9 -> 2 true positives of 4 predictions; 3 anomalies.
    assert rep["threshold"] == 0.6
    assert rep["precision_at_threshold"] == pytest.approx(0.5)
    assert rep["recall_at_threshold"] == pytest.approx(2 / 3)
    assert rep["f1_at_threshold"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert rep["best_f1"] >= rep["f1_at_threshold"]


def test_threshold_above_every_score():
    rep = detection_report(np.array([0, 1]), np.array([0.1, 0.9]), threshold=5.0)
    assert rep["precision_at_threshold"] == 0.0 and rep["recall_at_threshold"] == 0.0
    assert rep["f1_at_threshold"] == 0.0


def test_boolean_labels_are_accepted():
    rep = detection_report(np.array([False, True, True]), np.array([0.0, 1.0, 2.0]))
    assert rep["n_anomalous"] == 2 and rep["auroc"] == 1.0


@pytest.mark.parametrize("labels", [np.zeros(5), np.ones(5)])
def test_one_class_labels_are_an_error(labels):
    with pytest.raises(ValueError, match="both"):
        detection_report(labels, np.arange(5.0))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        detection_report(np.array([0, 1, 0]), np.array([0.1, 0.2]))
