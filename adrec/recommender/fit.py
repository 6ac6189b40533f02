"""The product's fit step: a validated log in, a servable anomaly-aware recommender out.

    split (test targets held out, validation targets before them)
    -> checks that the data can carry each part, BEFORE any training: a window kind with too
       few windows is dropped, a log without categories drops the emerging source, a log too
       small to split fails at once with what to change
    -> the sequential model (early stopping on validation targets; in process or Ray Train)
    -> sources: item transitions, trending window and short-term source chosen on validation
    -> the best fixed blend -> the behaviour detector, its window kind, feature block and input
       form chosen by how well the anomaly-aware rule it drives ranks validation targets
    -> the rule, the learned gates and the recency control, tuned on validation
    -> AnomalyAwareRecommender (saved as the run directory) and a report of every choice.

Test targets are never read here: the benchmark scores them through the saved engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from adrec.calibration import ScoreCalibrator
from adrec.data.interactions import Interactions
from adrec.data.splits import LogSplit, Points, split_log
from adrec.detectors.behaviour import BehaviourDetector, DayWindow, InteractionWindow, Signals
from adrec.detectors.behaviour.windows import window_rows
from adrec.detectors.registry import detector_class, detector_names, make_detector
from adrec.recommender.blend import BlendRule, Blends
from adrec.recommender.config import DETECTOR_PREFERENCE, FitConfig
from adrec.recommender.engine import AnomalyAwareRecommender, gate_features, recency_days
from adrec.recommender.history import History, histories_at, history_of
from adrec.recommender.long_term import fit_long_term, next_item_probs
from adrec.recommender.source_set import SourceSet
from adrec.recommender.sources import ItemTransitions, Trending
from adrec.recommender.tuning import (
    ValidationRanker,
    fit_gate,
    ndcg_per_point,
    rule_weights,
    tune_fixed,
    tune_rule,
)

LongTermTrainer = Callable[..., tuple]


class Progress:
    """One line per finished stage, with the time since the start; keeps each duration."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.t0 = self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def done(self, key: str, message: str) -> None:
        now = time.perf_counter()
        self.seconds[key] = round(now - self.last, 2)
        self.last = now
        self.log(f"  [{now - self.t0:7.1f}s] {message}")


def sample_points(points: Points, limit: int, seed: int) -> Points:
    """At most about `limit` points, whole users kept together (seeded)."""
    if len(points) <= limit:
        return points
    users = np.unique(points.user)
    keep_n = max(1, int(len(users) * limit / len(points)))
    chosen = np.random.default_rng(seed).choice(users, size=keep_n, replace=False)
    return points.subset(np.isin(points.user, chosen))


def check_split(split: LogSplit, inter: Interactions) -> None:
    """Fail before any training when the log cannot be split into something to learn from."""
    n_train = int(((split.train_end - split.train_start) >= 2).sum())
    problems = []
    if n_train == 0:
        problems.append("no user has 2 or more training interactions")
    if len(split.valid) == 0 or len(split.test) == 0:
        problems.append(
            f"no {'validation' if len(split.valid) == 0 else 'test'} targets "
            f"({split.counts.get('users_with_targets', 0)} of {inter.n_users} users have the 3 "
            "interactions a target needs)"
        )
    if problems:
        raise ValueError(
            f"the log ({inter.n_events} interactions, {inter.n_users} users) is too small to "
            f"fit on: {'; '.join(problems)}. Use a larger log, or --split global_time."
        )


def training_points(
    inter: Interactions,
    split: LogSplit,
    stride: int,
    first: int,
    fit_fraction: float = 0.5,
    calib_fraction: float = 0.68,
) -> tuple[list[History], list[History]]:
    """Each user's own early behaviour as the detector's normal: histories at every
    `stride`-th training interaction (from the `first`), each predicting the next one; those
    in the first `fit_fraction` of the user's training rows fit the detector, those up to
    `calib_fraction` calibrate it (held out, later in time), the rest is left to validation.
    A per-user cut: every user's normal is their own past, whatever the log's calendar."""
    fit_h, calib_h = [], []
    for u in np.flatnonzero(split.train_end - split.train_start > first):
        a, b = int(split.train_start[u]), int(split.train_end[u])
        fit_end = a + int(fit_fraction * (b - a))
        calib_end = a + int(calib_fraction * (b - a))
        for end in range(a + first, calib_end, stride):
            h = history_of(inter, u, a, end, float(inter.time[end]))
            (fit_h if end < fit_end else calib_h).append(h)
    return fit_h, calib_h


def window_kinds(cfg: FitConfig, shrink: int = 1) -> list:
    """The window kinds to try, their sizes divided by `shrink` (a second, smaller try for
    logs whose histories are too short for the configured sizes)."""
    profile = max(1, cfg.min_profile // shrink)
    kinds = {
        "interactions": InteractionWindow(max(2, cfg.window // shrink), profile),
        "days": DayWindow(max(2, cfg.window_days // shrink), profile),
    }
    return list(kinds.values()) if cfg.windows == "auto" else [kinds[cfg.windows]]


def detector_candidates(cfg: FitConfig) -> list[str]:
    names = detector_names()
    if cfg.detector == "auto":
        return [d for d in DETECTOR_PREFERENCE if d in names]
    if cfg.detector == "none":
        return []
    detector_class(cfg.detector)  # unknown names fail here, before training
    return [cfg.detector]


def _with_blocks(window, activity_only: bool):
    params = {k: v for k, v in window.to_dict().items() if k not in ("kind", "activity_only")}
    return type(window)(**params, activity_only=activity_only)


class _WindowCache:
    """Detector inputs per (window, input form), computed once for every candidate; the
    training histories behind a window depend on its size (`parts_of`)."""

    def __init__(self, sig: Signals, valid: list[History], parts_of):
        self.sig, self.valid, self.parts_of, self.rows = sig, valid, parts_of, {}

    def get(self, window, as_steps: bool, part: str) -> tuple[np.ndarray, np.ndarray]:
        key = (repr(window), as_steps, part)
        if key not in self.rows:
            histories = self.valid if part == "valid" else self.parts_of(window)[part]
            self.rows[key] = window_rows(window, histories, self.sig, as_steps)
        return self.rows[key]


def fit_recommender(
    inter: Interactions,
    cfg: FitConfig | None = None,
    seed: int = 0,
    train_long_term: LongTermTrainer = fit_long_term,
    log: Callable[[str], None] = print,
) -> tuple[AnomalyAwareRecommender, dict]:
    """Fit every part of the recommender on `inter`; returns the engine and the report."""
    cfg = cfg or FitConfig()
    progress = Progress(log)
    split = split_log(inter, cfg.split, cfg.targets_per_user)
    check_split(split, inter)
    # The validation sources are held in memory ([4, points, items] float32): large
    # catalogues get a seeded sample of users within the memory budget.
    per_point = 4 * 4 * (inter.n_items + 1)
    limit = max(100, min(cfg.max_valid_points, int(cfg.valid_memory_gb * 2**30 // per_point)))
    valid = sample_points(split.valid, limit, seed)
    valid_h = histories_at(inter, valid)
    seen = [h.items for h in valid_h]
    targets = valid.target
    sig = Signals.from_log(inter.item_categories, len(inter.action_names), inter.value, inter.time)
    dropped: list[str] = []
    if sig.n_categories == 0:
        dropped.append(
            f"source emerging: the log has {len(inter.categories)} item categories (it needs 2+)"
        )
    train_seqs = split.train_sequences(inter.item)
    progress.done(
        "split",
        f"{cfg.split} split: {len(train_seqs)} training sequences, {len(valid)} validation and "
        f"{len(split.test)} test targets; {split.counts}",
    )

    # Detector inputs are planned now, so too little data shows before the long training.
    candidates = detector_candidates(cfg)
    points: dict[tuple[int, int], dict[str, list[History]]] = {}

    def parts_of(window) -> dict[str, list[History]]:
        """Each user's normal at the stride and history length a window needs."""
        key = (getattr(window, "size", window.min_profile), window.min_profile + 1)
        if key not in points:
            fit, calib = training_points(inter, split, *key, cfg.fit_fraction,
                                         cfg.calib_fraction)  # fmt: skip
            points[key] = {"fit": fit, "calib": calib}
        return points[key]

    cache = _WindowCache(sig, valid_h, parts_of)
    windows, window_report = [], []
    for kind in range(len(window_kinds(cfg))) if candidates else []:
        for shrink in (1, 2):  # the configured sizes, then halved for short histories
            w = window_kinds(cfg, shrink)[kind]
            n_fit = int(cache.get(w, False, "fit")[1].sum())
            n_calib = int(cache.get(w, False, "calib")[1].sum())
            n_valid = int(cache.get(w, False, "valid")[1].sum())
            ok = n_fit >= cfg.min_fit_windows and n_calib >= cfg.min_calib_windows
            window_report.append({**w.to_dict(), "fit_windows": n_fit, "calib_windows": n_calib,
                                  "valid_points_with_window": n_valid, "used": ok})  # fmt: skip
            if ok:
                windows.append(w)
                break
            dropped.append(
                f"{w.kind} windows of {w.to_dict()}: {n_fit} fit and {n_calib} calibration "
                f"windows (need {cfg.min_fit_windows} and {cfg.min_calib_windows})"
                + ("; trying them halved" if shrink == 1 else "")
            )
    if candidates and not windows:
        dropped.append("the behaviour detector: no window kind has enough data; every user "
                       "gets the calm (best fixed) blend")  # fmt: skip
    elif not candidates:
        dropped.append("the behaviour detector: --detector none")
    for line in dropped:
        log(f"  dropped {line}")
    progress.done("plan", f"behaviour windows: {window_report}")

    model, long_term_info = train_long_term(
        train_seqs, inter.n_items, cfg.long_term, seed, valid=(seen, targets),
        exclude_seen=True, log=log,
    )  # fmt: skip
    progress.done(
        "long_term",
        f"trained {cfg.long_term.kind}: best validation NDCG@10 "
        f"{long_term_info.get('best_valid_ndcg@10')} at epoch {long_term_info.get('best_epoch')}",
    )

    item_counts = np.bincount(np.concatenate(train_seqs), minlength=inter.n_items + 1)
    transitions = ItemTransitions(last=cfg.short_term_last).fit(train_seqs, inter.n_items)
    at = np.array([h.now for h in valid_h])
    trend_ndcg = {
        d: float(ndcg_per_point(Trending(inter.item, inter.time, inter.n_items, d).scores(at),
                                targets, seen, cfg.k).mean())
        for d in cfg.trending_days
    }  # fmt: skip
    trending_days = max(trend_ndcg, key=trend_ndcg.get)
    short_ndcg = {}
    if cfg.short_term in ("auto", "transitions"):
        short_ndcg["transitions"] = float(
            ndcg_per_point(transitions.scores(seen), targets, seen, cfg.k).mean()
        )
    if cfg.short_term in ("auto", "sasrec_last"):
        last = next_item_probs(model, seen, cfg.short_term_last)
        short_ndcg["sasrec_last"] = float(ndcg_per_point(last, targets, seen, cfg.k).mean())
    short_term = max(short_ndcg, key=short_ndcg.get)
    sources = SourceSet(
        model=model,
        model_config=cfg.long_term,
        transitions=transitions,
        trending=Trending(inter.item, inter.time, inter.n_items, trending_days),
        short_term=short_term,
        shares=sig.shares if sig.n_categories else np.zeros((inter.n_items + 1, 0)),
        item_counts=item_counts.astype(np.float64),
        short_term_last=cfg.short_term_last,
        emerging_recent=cfg.window,
        emerging_min_profile=cfg.min_profile,
    )
    probs = sources.probs(valid_h)
    ranker = ValidationRanker(probs, targets, seen, cfg.k)
    fixed, fixed_val = tune_fixed(ranker, cfg.grid_step)
    names = sources.names
    progress.done(
        "sources",
        f"sources {list(names)}; trending window (days: validation NDCG@{cfg.k}) {trend_ndcg} -> "
        f"{trending_days}; short-term {short_ndcg} -> {short_term}; best fixed blend "
        f"{dict(zip(names, fixed.round(2).tolist(), strict=True))} ({fixed_val:.4f})",
    )

    detector, detector_info = _choose_detector(
        candidates, windows, cache, ranker, fixed, cfg, seed, log
    )
    anomaly = (
        detector.score(valid_h)
        if detector
        else {"calibrated": np.zeros(len(valid_h)), "has_window": np.zeros(len(valid_h), bool)}
    )
    c = anomaly["calibrated"]
    shifted, rule_val = tune_rule(ranker, c, fixed, cfg.grid_step)
    progress.done(
        "detector",
        f"behaviour detector {detector.describe() if detector else None}; rule on validation "
        f"{rule_val:.4f} (fixed {fixed_val:.4f})",
    )

    # Controls: the same rule driven by recency, and the learned gates with / without the score.
    # Calibrated "the same way" as the detector: on held-out normal training points.
    first = parts_of(window_kinds(cfg)[0])
    basis = next((h for h in (first["calib"], first["fit"], valid_h) if len(h) >= 2), valid_h)
    recency_cal = ScoreCalibrator.fit(recency_days(basis), cfg.quantile)
    c_recency = recency_cal.transform(recency_days(valid_h))
    rec_shifted, rec_val = tune_rule(ranker, c_recency, fixed, cfg.grid_step)
    gate = gate_plain = None
    gate_info: dict = {"fitted": False}
    if len(valid_h) >= cfg.min_gate_points:
        X = gate_features(valid_h, c, sources.shares, cfg.window)
        gate, l2 = fit_gate(X, ranker, valid.user, names, fixed, cfg.gate_epochs, seed)
        gate_plain, l2_plain = fit_gate(
            X[:, 1:], ranker, valid.user, names, fixed, cfg.gate_epochs, seed
        )
        gate_val = ranker.ndcg(gate.weights(X)).mean()
        gate_info = {"fitted": True, "l2": l2, "l2_no_score": l2_plain,
                     "validation_ndcg_in_sample": float(gate_val)}  # fmt: skip
    else:
        dropped.append(f"the learned gate: {len(valid_h)} validation targets (need "
                       f"{cfg.min_gate_points})")  # fmt: skip
    served = cfg.served if (cfg.served != "gate" or gate is not None) else "rule"
    blends = Blends(
        names,
        fixed,
        BlendRule(names, fixed, shifted),
        served,
        gate,
        gate_plain,
        BlendRule(names, fixed, rec_shifted),
        recency_cal,
    )
    engine = AnomalyAwareRecommender(inter, sources, blends, detector, sig, cfg.window)
    progress.done(
        "blends",
        f"served blend {served}: rule {blends.rule.named()}; recency control on validation "
        f"{rec_val:.4f}; gate {gate_info}",
    )
    report = {
        "config": cfg.to_dict(),
        "seed": seed,
        "data": inter.report,
        "split": {
            "kind": split.name,
            **split.counts,
            "valid_targets": len(split.valid),
            "test_targets": len(split.test),
            "valid_targets_used": len(valid),
        },  # fmt: skip
        "dropped": dropped,
        "signals": {"categories": len(inter.categories), **sig.meta()},
        "windows": window_report,
        "long_term": long_term_info,
        "sources": {
            "names": list(names),
            "trending_days": {"validation_ndcg": trend_ndcg, "chosen": trending_days},
            "short_term": {"validation_ndcg": short_ndcg, "chosen": short_term},
        },
        "detector": detector_info,
        "validation_ndcg@10": {
            "best fixed blend": fixed_val,
            "anomaly-aware rule": rule_val,
            "recency rule": rec_val,
            "valid points with a window": int(np.sum(anomaly["has_window"])),
            "valid points flagged": int((c >= 0.5).sum()),
        },
        "blend": {
            "served": served,
            "rule": blends.rule.named(),
            "recency_rule": blends.recency_rule.named(),
            "gate": gate_info,
        },  # fmt: skip
        "seconds": progress.seconds,
    }
    return engine, report


def _choose_detector(candidates, windows, cache, ranker, fixed, cfg, seed, log):
    """The detector, window, feature block and input form, on validation targets only: each
    candidate drives the anomaly-aware rule (coarse grid) and is scored by the validation
    NDCG@k of that rule. The differences between candidates are often within noise, so the
    one-standard-error rule picks the FIRST candidate in preference order (every feature
    block before activity alone, then cheaper detectors, then interaction windows before day
    windows, summaries before steps) whose NDCG is within one standard error of the best
    (the paired difference over validation points), not the noisy maximum."""
    blocks = {"auto": [False, True], "all": [False], "activity": [True]}[cfg.features]
    forms = {"auto": [False, True], "steps": [True], "summary": [False]}[cfg.sequence_input]
    order = [
        (_with_blocks(base, activity_only), name, as_steps)
        for activity_only in blocks
        for name in candidates
        for base in windows
        for as_steps in (forms if detector_class(name).input_ndim == 3 else [False])
    ]
    runs, trials = [], []
    for window, name, as_steps in order:
        t0 = time.perf_counter()
        one_step = detector_class(name).input_ndim == 3 and not as_steps
        X_fit, _ = cache.get(window, as_steps, "fit")
        X_cal, _ = cache.get(window, as_steps, "calib")
        if one_step:  # a sequence detector reading the summary as a one-step sequence
            X_fit, X_cal = X_fit[:, None, :], X_cal[:, None, :]
        det = make_detector(name, random_state=seed, contamination=1.0 - cfg.quantile)
        det.fit(X_fit, X_cal)
        X_val, have = cache.get(window, as_steps, "valid")
        c = np.zeros(len(have))
        if have.any():
            c[have] = det.calibrated(X_val[:, None, :] if one_step else X_val)
        shifted, val = tune_rule(ranker, c, fixed, cfg.detector_grid_step)
        info = {
            "name": name, "window": window.to_dict(),
            "input": "steps" if as_steps else "summary",
            "fit_windows": len(X_fit), "calib_windows": len(X_cal),
            "validation_rule_ndcg": round(val, 5),
            "valid_flagged": int((c >= 0.5).sum()),
            "seconds": round(time.perf_counter() - t0, 1),
        }  # fmt: skip
        trials.append(info)
        log(f"    detector candidate {info}")
        per_point = ranker.ndcg(rule_weights(c, fixed, shifted))
        runs.append((BehaviourDetector(det, window, as_steps, cache.sig), per_point))
    if not runs:
        return None, {"chosen": None, "trials": trials}
    best = int(np.argmax([p.mean() for _, p in runs]))
    for i, (behaviour, per_point) in enumerate(runs):
        diff = runs[best][1] - per_point
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
        if diff.mean() <= se:
            chosen = {
                **trials[i],
                "best_validation_rule_ndcg": trials[best]["validation_rule_ndcg"],
                "standard_error": round(float(se), 5),
                "selection": "first candidate within one standard error of the best",
            }
            return behaviour, {"chosen": chosen, "trials": trials}
    raise AssertionError("the best candidate is within one standard error of itself")


__all__ = ["FitConfig", "Progress", "fit_recommender", "rule_weights"]
