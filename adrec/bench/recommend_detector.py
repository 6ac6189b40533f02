"""The behaviour detector of `adrec bench recommend`: which detector, feature block and input
form, fitted on windows of training histories and chosen on validation targets only."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from adrec.base import BaseDetector
from adrec.bench.recommend_blends import tune_rule
from adrec.bench.recommend_config import BenchConfig
from adrec.data.splits import ChronoSplit, PredictionPoints
from adrec.detectors.registry import detector_class, detector_names, make_detector
from adrec.recommender.behaviour_features import BehaviourWindow, training_windows

DETECTOR_PREFERENCE = ("iforest", "pca", "gmm", "knn", "lstm_ae")


def detector_candidates(
    name: str, features: str, sequence_input: str = "auto"
) -> list[tuple[str, bool, bool]]:
    """(detector name, activity_only, as_steps) triples to choose from on validation. A
    sequence detector (input [n, time, features]) reads either the window's steps or its
    summary as a one-step sequence; a tabular one reads the summary."""
    registered = detector_names()
    if name == "auto":
        names = [d for d in DETECTOR_PREFERENCE if d in registered]
    elif name in registered:
        names = [name]
    else:
        raise ValueError(f"unknown detector {name!r}; registered: {registered}")
    blocks = {"auto": [False, True], "all": [False], "activity": [True]}.get(features)
    if blocks is None:
        raise ValueError(f"features must be auto, all or activity, got {features!r}")
    steps = {"auto": [True, False], "steps": [True], "summary": [False]}.get(sequence_input)
    if steps is None:
        raise ValueError(f"sequence_input must be auto, steps or summary, got {sequence_input!r}")
    forms = {3: steps, 2: [False]}
    return [(n, b, f) for n in names for b in blocks for f in forms[detector_class(n).input_ndim]]


@dataclass
class BehaviourDetector:
    """A fitted detector with the window and input form it reads."""

    detector: BaseDetector
    window: BehaviourWindow
    as_steps: bool

    def inputs(self, rows: list[np.ndarray]) -> np.ndarray:
        X = np.stack(rows)
        return X[:, None, :] if self.detector.input_ndim == 3 and not self.as_steps else X

    def calibrated_at(self, points: PredictionPoints, shares: np.ndarray) -> np.ndarray:
        """Each user's calibrated score at the target's time from the history before it only
        (0 for users with too short a history to have a window)."""
        describe = self.window.steps if self.as_steps else self.window.features
        rows = [
            describe(h, ht, shares, float(t))
            for h, ht, t in zip(points.histories, points.history_times, points.times, strict=True)
        ]
        have = np.array([r is not None for r in rows])
        out = np.zeros(len(rows))
        if have.any():
            out[have] = self.detector.calibrated(self.inputs([r for r in rows if r is not None]))
        return out


def fit_behaviour_detector(
    split: ChronoSplit,
    shares: np.ndarray,
    window: BehaviourWindow,
    name: str,
    seed: int,
    as_steps: bool = False,
) -> tuple[BehaviourDetector, dict]:
    """Fit on windows of 80% of the users' training histories, calibrate (99th percentile) on
    the other 20% (held-out normal windows). Training histories end before every target."""
    rng = np.random.default_rng(seed)
    calib_users = set(rng.permutation(len(split.train))[: len(split.train) // 5].tolist())
    fit_rows, calib_rows = [], []
    for u, (items, ts) in enumerate(zip(split.train, split.train_times, strict=True)):
        w = training_windows(items, ts, shares, window, window.size, as_steps)
        (calib_rows if u in calib_users else fit_rows).extend(w)
    if not fit_rows or not calib_rows:
        raise ValueError(
            f"too few training histories longer than {window.min_history} interactions (window "
            f"{window.size} + profile {window.min_profile}) to fit and calibrate a behaviour "
            f"detector: {len(fit_rows)} fit and {len(calib_rows)} calibration windows; use "
            "fewer targets per user or a smaller window"
        )
    behaviour = BehaviourDetector(make_detector(name, random_state=seed), window, as_steps)
    X_fit, X_cal = behaviour.inputs(fit_rows), behaviour.inputs(calib_rows)
    behaviour.detector.fit(X_fit, X_cal)
    return behaviour, {
        "name": name,
        "activity_only": window.activity_only,
        "input": "steps" if as_steps else "summary",
        "n_fit_windows": len(X_fit),
        "n_calib_windows": len(X_cal),
    }


def choose_detector(
    split: ChronoSplit,
    valid_probs: np.ndarray,
    calm: np.ndarray,
    shares: np.ndarray,
    cfg: BenchConfig,
    seed: int,
    log: Callable[[str], None],
) -> tuple[BehaviourDetector, dict]:
    """The detector, feature block and input form whose anomaly-aware rule ranks the
    validation targets best (coarse grid); validation targets only."""
    best, trials = None, []
    for name, activity_only, as_steps in detector_candidates(
        cfg.detector, cfg.features, cfg.sequence_input
    ):
        window = BehaviourWindow(cfg.window, cfg.min_profile, activity_only)
        t0 = time.perf_counter()
        detector, info = fit_behaviour_detector(split, shares, window, name, seed, as_steps)
        c = detector.calibrated_at(split.valid, shares)
        _, val = tune_rule(valid_probs, split.valid, c, calm, cfg.k, 0.25)
        info.update(
            validation_rule_ndcg=val,
            valid_shifting=int((c >= cfg.shift_level).sum()),
            seconds=round(time.perf_counter() - t0, 1),
        )
        trials.append(info)
        log(f"  detector candidate: {info}")
        if best is None or val > best[1]:
            best = (detector, val, info)
    return best[0], {"chosen": best[2], "trials": trials}
