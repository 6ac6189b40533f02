"""Time-series metrics on tiny hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from adrec.metrics.time_series import (
    event_prf,
    point_adjust,
    point_adjusted_prf,
    pointwise_prf,
    segments,
    time_series_report,
    windows_to_labels,
)

# Two true events: points 2-4 and 8-9. Predictions: one hit in the first event (point 3),
# a false alarm run at 6-7, and nothing in the second event.
LABELS = np.array([0, 0, 1, 1, 1, 0, 0, 0, 1, 1])
PRED = np.array([0, 0, 0, 1, 0, 0, 1, 1, 0, 0])


def test_segments_are_runs_of_ones_with_exclusive_ends():
    assert segments(LABELS).tolist() == [[2, 5], [8, 10]]
    assert segments(np.zeros(4, int)).shape == (0, 2)
    assert segments(np.ones(3, int)).tolist() == [[0, 3]]


def test_pointwise():
    # tp = 1 (point 3); 3 predicted points; 5 true points.
    m = pointwise_prf(LABELS, PRED)
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["recall"] == pytest.approx(1 / 5)
    assert m["f1"] == pytest.approx(2 * (1 / 3) * (1 / 5) / (1 / 3 + 1 / 5))


def test_point_adjust_fills_hit_segments_only():
    assert point_adjust(LABELS, PRED).tolist() == [0, 0, 1, 1, 1, 0, 1, 1, 0, 0]
    # tp = 3 (whole first event); 5 predicted; 5 true: P = R = F1 = 0.6.
    m = point_adjusted_prf(LABELS, PRED)
    assert m["precision"] == pytest.approx(0.6)
    assert m["recall"] == pytest.approx(0.6)
    assert m["f1"] == pytest.approx(0.6)
    # The adjustment inflates: adjusted F1 beats the unadjusted one here.
    assert m["f1"] > pointwise_prf(LABELS, PRED)["f1"]


def test_event_wise():
    # True events: 1 of 2 recalled. Predicted events: [3] overlaps, [6, 7] does not -> 1 of 2.
    m = event_prf(LABELS, PRED)
    assert (m["n_true_events"], m["n_pred_events"]) == (2, 2)
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(0.5)


def test_no_predictions_and_no_events_give_zero_not_nan():
    none = np.zeros(10, int)
    assert pointwise_prf(LABELS, none) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert event_prf(none, PRED)["recall"] == 0.0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="differ in shape"):
        pointwise_prf(LABELS, PRED[:-1])
    with pytest.raises(ValueError, match="pred must hold only 0 and 1"):
        event_prf(LABELS, PRED * 2)
    with pytest.raises(ValueError, match="labels must be 1-D"):
        pointwise_prf(LABELS[None], PRED[None])


def test_nab_windows_to_labels_inclusive_ends():
    ts = ["2014-04-10 00:00:00", "2014-04-10 00:05:00", "2014-04-10 00:10:00",
          "2014-04-10 00:15:00", "2014-04-10 00:20:00"]  # fmt: skip
    windows = [["2014-04-10 00:05:00.000000", "2014-04-10 00:10:00.000000"]]
    assert windows_to_labels(ts, windows).tolist() == [0, 1, 1, 0, 0]
    assert windows_to_labels(ts, []).tolist() == [0] * 5
    with pytest.raises(ValueError, match="window 0 ends"):
        windows_to_labels(ts, [["2014-04-10 00:10:00", "2014-04-10 00:05:00"]])


def test_report_keeps_adjusted_beside_unadjusted():
    scores = PRED.astype(float)
    rep = time_series_report(LABELS, scores, threshold=0.5)
    assert rep["point_f1"] == pytest.approx(pointwise_prf(LABELS, PRED)["f1"])
    assert rep["pa_f1"] == pytest.approx(0.6)
    assert rep["event_recall"] == pytest.approx(0.5)
    assert 0.0 <= rep["auroc"] <= 1.0
    # A series without anomalies has no ranking metrics, but still point and event scores.
    rep = time_series_report(np.zeros(10, int), scores, threshold=0.5)
    assert rep["auroc"] is None and rep["point_precision"] == 0.0
