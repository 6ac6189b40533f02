"""Batch scoring of a whole log: every user's behaviour window at every `stride`-th
interaction, each scored from the history before it (the dashboard's input and offline
evaluation's), and detection metrics where the log comes with ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adrec.data.interactions import Interactions
from adrec.detectors.behaviour.detector import BehaviourDetector
from adrec.metrics.detection import detection_report
from adrec.recommender.history import History, history_of


def scoring_points(inter: Interactions, stride: int) -> list[History]:
    """Per user, the history before every `stride`-th interaction (predicting it), and the
    whole history at the time of the user's last interaction."""
    bounds = inter.user_bounds()
    out = []
    for u in range(inter.n_users):
        a, b = int(bounds[u]), int(bounds[u + 1])
        ends = list(range(a + stride, b, stride)) + [b]
        for end in ends:
            now = inter.time[end] if end < b else inter.time[b - 1]
            out.append(history_of(inter, u, a, end, float(now)))
    return out


def score_log(
    inter: Interactions, detector: BehaviourDetector, stride: int = 10, chunk: int = 20_000
) -> pd.DataFrame:
    """user_id (raw), time and window_start (unix s), score, calibrated, flagged: one row per
    scored window (histories too short for a window are left out)."""
    histories = scoring_points(inter, stride)
    frames = []
    for lo in range(0, len(histories), chunk):
        part = histories[lo : lo + chunk]
        s = detector.score(part)
        have = s["has_window"]
        starts = [_window_start(detector.window, h) for h, k in zip(part, have, strict=True) if k]
        kept = [h for h, k in zip(part, have, strict=True) if k]
        frames.append(
            pd.DataFrame(
                {
                    "user": np.array([h.user for h in kept], np.int64),
                    "time": np.array([h.now for h in kept], np.int64),
                    "window_start": np.array(starts, np.int64),
                    "score": s["score"][have],
                    "calibrated": s["calibrated"][have],
                }
            )
        )
    return _scores_frame(frames, inter)


def same_signals(a, b) -> bool:
    """Whether two Signals describe the same log (shares, actions, values, sub-day times)."""
    return (
        a.shares.shape == b.shares.shape
        and np.array_equal(a.shares, b.shares)
        and (a.n_actions, a.has_values, a.sub_day) == (b.n_actions, b.has_values, b.sub_day)
    )


def score_windows(
    windows, inter: Interactions, detector: BehaviourDetector, chunk: int = 200_000
) -> pd.DataFrame:
    """score_log's frame from precomputed windows (the pipeline's windows table: user_id,
    end, time, window_start, features and steps, adrec.data.windows_table) of the detector's
    own window and signals at score_log's stride: the same rows in the same order (users in
    index order, each user's points in time order), scored in chunks."""
    users = inter.users.index(windows["user_id"])
    if (users < 0).any():
        raise ValueError("the windows hold users the log lacks")
    order = np.lexsort((windows["end"].to_numpy(), users))
    column = "steps" if detector.as_steps else "features"
    frames = []
    for lo in range(0, len(order), chunk):
        rows = order[lo : lo + chunk]
        part = windows.take(rows)
        flat = part[column].combine_chunks() if len(part) else None
        if detector.as_steps:
            inner = flat.flatten()
            X = inner.flatten().to_numpy().reshape(len(part), flat.type.list_size, -1)
        else:
            X = flat.flatten().to_numpy().reshape(len(part), -1)
        if detector.detector.input_ndim == 3 and not detector.as_steps:
            X = X[:, None, :]
        score = detector.detector.decision_function(X)
        frames.append(
            pd.DataFrame(
                {
                    "user": users[rows],
                    "time": part["time"].to_numpy().astype(np.int64),
                    "window_start": part["window_start"].to_numpy().astype(np.int64),
                    "score": score,
                    "calibrated": detector.detector.calibrator_.transform(score),
                }
            )
        )
    return _scores_frame(frames, inter)


def log_windows(inter: Interactions, window, sig, stride: int, steps: bool = True):
    """The windows table (adrec.data.windows_table) of every scoring point of the log, as the
    pipeline writes it: interaction windows only, vectorised over all users at once."""
    from adrec.data.log_prep import window_table
    from adrec.data.windows_table import interaction_windows

    bounds = inter.user_bounds()
    wa = interaction_windows(bounds, inter.item, inter.time, inter.value, inter.action, window,
                             sig, stride, steps)  # fmt: skip
    users = np.searchsorted(bounds, wa.row, side="right") - 1
    return window_table(wa, inter.users.raw[users])


def score_log_fast(
    inter: Interactions, detector: BehaviourDetector, stride: int = 10
) -> pd.DataFrame:
    """score_log's frame, with interaction windows computed vectorised (log_windows) instead
    of history by history; day windows go through score_log."""
    if not vectorised(detector):
        return score_log(inter, detector, stride)
    table = log_windows(inter, detector.window, detector.signals, stride, detector.as_steps)
    return score_windows(table, inter, detector)


def vectorised(detector: BehaviourDetector) -> bool:
    """Whether score_log_fast computes the detector's windows vectorised (interaction
    windows) rather than history by history (day windows, through score_log)."""
    from adrec.detectors.behaviour.windows import InteractionWindow

    return isinstance(detector.window, InteractionWindow)


def _scores_frame(frames: list[pd.DataFrame], inter: Interactions) -> pd.DataFrame:
    """The chunks' frames as one, users as raw ids, with the flag."""
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if out.empty:
        return out
    out.insert(0, "user_id", inter.users.raw_ids(out.pop("user").to_numpy()))
    out["flagged"] = out["calibrated"] >= 0.5
    return out


def _window_start(window, h: History) -> int:
    recent, _ = window.split(h)
    return int(h.times[recent[0]]) if len(recent) else int(h.now)


def label_scores(scores: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Ground truth of scored windows from each user's event time (truth: user_id,
    event_time): 1 when the whole window follows the event, 0 when it ends at or before it,
    -1 (left out of metrics) when the event splits it."""
    event = dict(
        zip(
            [str(u) for u in truth["user_id"]],
            pd.to_datetime(truth["event_time"]).astype("datetime64[s]").astype("int64"),
            strict=True,
        )
    )
    never = np.iinfo(np.int64).max
    ev = np.array([event.get(str(u), never) for u in scores["user_id"]], np.int64)
    start, end = scores["window_start"].to_numpy(), scores["time"].to_numpy()
    return np.where(end <= ev, 0, np.where(start >= ev, 1, -1))


def detection_metrics(scores: pd.DataFrame, truth: pd.DataFrame | None, threshold: float):
    """AUROC, AUPRC, F1 at the threshold and at the best threshold on labelled windows; None
    without ground truth or without both classes."""
    if truth is None or scores.empty:
        return None
    labels = label_scores(scores, truth)
    keep = labels >= 0
    if len(np.unique(labels[keep])) < 2:
        return None
    report = detection_report(labels[keep], scores["score"].to_numpy()[keep], threshold)
    report["left_out_split_windows"] = int((~keep).sum())
    return report
