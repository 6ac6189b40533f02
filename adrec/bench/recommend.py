"""Does reacting to a user's detected change recommend better? The core of `adrec bench
recommend`, Ray-free.

On a chronological leave-last-out split (validation target = each user's second-to-last
interaction, test target = the last), every user gets candidate distributions from four
sources at prediction time: long_term (SASRec over the history), short_term (the recent
items; item transitions or SASRec over the last few items, chosen on validation), emerging
(popular items of the genres the user newly moved towards) and trending (global popularity in a
window strictly before the prediction time). A behaviour detector scores each user's last
window of interactions against the user's own profile, from the past only. Blends compared on
the same users: each source alone, the best fixed blend, the anomaly-aware rule
(BlendRule: calm -> shifted as the calibrated score rises), a learned gate with the anomaly score
and the same gate without it. Every weight is tuned on validation targets; test targets are only
scored. Metrics: full-ranking HR@10 / NDCG@10 with seen items excluded, and the
100-sampled-negatives variant, on all users, shifting users (calibrated score >= 0.5 at test
time) and the rest, with paired-bootstrap CIs.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import adrec.detectors  # noqa: F401  (registers every detector class)
from adrec.base import DETECTORS, BaseDetector
from adrec.recommender.behaviour_features import BehaviourWindow, genre_shares, training_windows
from adrec.recommender.blend import ALL_SOURCES, BlendRule
from adrec.recommender.gate import SourceGate
from adrec.recommender.sources import (
    ItemTransitions,
    emerging_categories,
    genre_popularity_scores,
    trending,
)

SOURCE_NAMES = ALL_SOURCES  # long_term, short_term, emerging, trending
DETECTOR_PREFERENCE = ("iforest", "pca", "gmm", "knn", "lstm_ae")


@dataclass(frozen=True)
class BenchConfig:
    max_len: int = 50
    dim: int = 64
    n_layers: int = 2
    dropout: float = 0.2
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0,)
    window: int = 10
    min_profile: int = 10
    detector: str = "auto"
    features: str = "activity"
    # Sequence detectors read the window summary: on ml-100k validation targets the summary
    # flags returning users (median idle ~25 days), steps flag within-session rhythm.
    sequence_input: str = "summary"
    gate_epochs: int = 300
    trending_days: tuple[float, ...] = (3.0, 7.0, 14.0, 30.0)  # chosen on validation
    short_term_last: int = 5
    k: int = 10
    n_negatives: int = 100
    n_bootstrap: int = 2000
    grid_step: float = 0.1
    shift_level: float = 0.5
    split: str = "leave_last_out"  # or "global_time"


@dataclass
class PredictionPoints:
    """One target per user: the history before it (items, times), the target and its time."""

    users: np.ndarray
    histories: list[np.ndarray]
    history_times: list[np.ndarray]
    targets: np.ndarray
    times: np.ndarray


@dataclass
class ChronoSplit:
    """Training sequences (with their times) of `users`, and validation / test targets."""

    name: str
    users: np.ndarray
    train: list[np.ndarray]
    train_times: list[np.ndarray]
    valid: PredictionPoints
    test: PredictionPoints
    n_dropped_users: int = 0


def _pack(rows: list[tuple]) -> PredictionPoints:
    u, h, ht, t, tt = zip(*rows, strict=True)
    return PredictionPoints(
        np.array(u, np.int64), list(h), list(ht), np.array(t, np.int64), np.array(tt, np.int64)
    )


def _user_sequences(ratings: pd.DataFrame):
    for col in ("user_id", "item_id", "timestamp"):
        if col not in ratings:
            raise ValueError(f"ratings lack the column {col!r}")
    ordered = ratings.sort_values(["user_id", "timestamp"], kind="stable")
    for user, g in ordered.groupby("user_id", sort=True):
        yield int(user), g["item_id"].to_numpy(np.int64), g["timestamp"].to_numpy(np.int64)


@dataclass
class SplitSources:
    """Source distributions [n_sources, n_users, n_items + 1], each user's calibrated anomaly
    score at prediction time and the gate's inputs."""

    probs: np.ndarray
    calibrated: np.ndarray
    gate_features: np.ndarray | None = None


def leave_last_out(ratings: pd.DataFrame, min_interactions: int = 3) -> ChronoSplit:
    """Per-user chronological sequences (the frame's order within a user and timestamp is kept:
    a stable sort, so ties stay in the loader's order); validation target = second to last,
    test target = last. Leaks across users: one user's last item may come after another's."""
    users, train, train_t, valid, test, dropped = [], [], [], [], [], 0
    for user, items, ts in _user_sequences(ratings):
        if len(items) < min_interactions:
            dropped += 1
            continue
        users.append(user)
        train.append(items[:-2])
        train_t.append(ts[:-2])
        valid.append((user, items[:-2], ts[:-2], items[-2], ts[-2]))
        test.append((user, items[:-1], ts[:-1], items[-1], ts[-1]))
    if not users:
        raise ValueError(f"no user has at least {min_interactions} interactions")
    return ChronoSplit(
        "leave_last_out", np.array(users), train, train_t, _pack(valid), _pack(test), dropped
    )


def global_time_split(
    ratings: pd.DataFrame, valid_frac: float = 0.1, test_frac: float = 0.1, min_history: int = 3
) -> ChronoSplit:
    """Two global time cuts at the (1 - valid - test) and (1 - test) quantiles of all
    timestamps. Training: everything before the first cut. A validation target is a user's
    first rating between the cuts (history: before the first cut); a test target is a user's
    first rating after the second cut (history: everything before it). Users with fewer than
    `min_history` ratings before a cut get no target there."""
    if not (0 < valid_frac and 0 < test_frac and valid_frac + test_frac < 1):
        raise ValueError("valid_frac and test_frac must be > 0 and sum to < 1")
    t_valid, t_test = np.quantile(
        ratings["timestamp"].to_numpy(), [1 - valid_frac - test_frac, 1 - test_frac]
    )
    users, train, train_t, valid, test, dropped = [], [], [], [], [], 0
    for user, items, ts in _user_sequences(ratings):
        n_train, n_before_test = int((ts < t_valid).sum()), int((ts < t_test).sum())
        if n_train >= 2:
            users.append(user)
            train.append(items[:n_train])
            train_t.append(ts[:n_train])
        if n_train >= min_history and n_train < len(ts) and ts[n_train] < t_test:
            valid.append((user, items[:n_train], ts[:n_train], items[n_train], ts[n_train]))
        if n_before_test >= min_history and n_before_test < len(ts):
            k = n_before_test
            test.append((user, items[:k], ts[:k], items[k], ts[k]))
        if n_train < 2 and n_before_test < min_history:
            dropped += 1
    if not valid or not test:
        raise ValueError("the time cuts leave no validation or no test targets")
    return ChronoSplit(
        "global_time", np.array(users), train, train_t, _pack(valid), _pack(test), dropped
    )


# ------------------------------------------------------------------------------ metrics


def full_ranks(scores: np.ndarray, targets: np.ndarray, seen: list[np.ndarray]) -> np.ndarray:
    """0-based rank of each target among all items (padding and seen items excluded; ties
    counted against the target)."""
    s = scores.copy()
    s[:, 0] = -np.inf
    rows = np.repeat(np.arange(len(seen)), [len(h) for h in seen])
    s[rows, np.concatenate(seen)] = -np.inf
    target = scores[np.arange(len(targets)), targets]
    s[np.arange(len(targets)), targets] = -np.inf
    return (s >= target[:, None]).sum(1)


def sampled_ranks(
    scores: np.ndarray, targets: np.ndarray, seen: list[np.ndarray], n_negatives: int, seed: int
) -> np.ndarray:
    """Rank of the target among itself and `n_negatives` uniform items the user has not seen
    (seeded; ties against the target)."""
    rng = np.random.default_rng(seed)
    n_items = scores.shape[1] - 1
    out = np.zeros(len(targets), np.int64)
    for u, (t, h) in enumerate(zip(targets, seen, strict=True)):
        pool = np.setdiff1d(np.arange(1, n_items + 1), np.append(h, t))
        neg = rng.choice(pool, size=min(n_negatives, len(pool)), replace=False)
        out[u] = (scores[u, neg] >= scores[u, t]).sum()
    return out


def hit_ndcg(ranks: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    hit = (ranks < k).astype(np.float64)
    return hit, np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n: int, seed: int) -> dict:
    """Mean of a - b over the same users with a 95% percentile-bootstrap interval."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if len(d) == 0:
        return {"diff": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    idx = np.random.default_rng(seed).integers(0, len(d), size=(n, len(d)))
    means = d[idx].mean(1)
    low, high = np.quantile(means, [0.025, 0.975])
    return {"diff": float(d.mean()), "low": float(low), "high": float(high), "n": len(d)}


# ------------------------------------------------------------------------------ sources


def fit_long_term(train: list[np.ndarray], n_items: int, cfg: BenchConfig, seed: int):
    """SASRec trained with full-softmax cross-entropy on every position of every training
    sequence, a fixed number of epochs."""
    from adrec.recommender.sasrec import SASRec, next_item_loss
    from adrec.recommender.sequences import training_examples
    from adrec.training import train_one_epoch

    torch.manual_seed(seed)
    examples = [training_examples(s, cfg.max_len) for s in train if len(s) >= 2]
    inputs = torch.as_tensor(np.concatenate([e["input"] for e in examples]))
    targets = torch.as_tensor(np.concatenate([e["target"] for e in examples]))
    model = SASRec(n_items, cfg.max_len, cfg.dim, cfg.n_layers, 2, cfg.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(inputs), generator=gen)
        batches = [
            {
                "input": inputs[order[i : i + cfg.batch_size]],
                "target": targets[order[i : i + cfg.batch_size]],
            }
            for i in range(0, len(inputs), cfg.batch_size)
        ]
        train_one_epoch(model, batches, next_item_loss, opt)
    return model.eval()


@torch.no_grad()
def next_item_probs(model, histories: list[np.ndarray], last: int | None = None) -> np.ndarray:
    """Softmax over the catalogue after each history (or its last `last` items):
    [n, n_items + 1], padding column 0."""
    from adrec.recommender.sasrec import left_pad

    seqs = [np.asarray(h, np.int64)[-(last or len(h)) :] for h in histories]
    batch = torch.stack([left_pad(s.copy(), model.max_len) for s in seqs])
    out = torch.cat([torch.softmax(model.full_sort_predict(b), -1) for b in batch.split(512)])
    return out.double().numpy()


def emerging_weights(
    histories: list[np.ndarray], shares: np.ndarray, window: BehaviourWindow
) -> np.ndarray:
    """Each user's genre growth in the last window over the earlier profile: [n, n_genres]."""
    out = np.zeros((len(histories), shares.shape[1]))
    for u, h in enumerate(histories):
        if len(h) > window.size:
            recent = shares[h[-window.size :]].sum(0)
            out[u] = emerging_categories(recent, shares[h[: -window.size]].mean(0))
    return out


# ------------------------------------------------------------------------------ detector


def detector_candidates(
    name: str, features: str, sequence_input: str = "auto"
) -> list[tuple[str, bool, bool]]:
    """(detector name, activity_only, as_steps) triples to choose from on validation. A
    sequence detector (input [n, time, features]) reads either the window's steps or its
    summary as a one-step sequence; a tabular one reads the summary."""
    if name == "auto":
        names = [d for d in DETECTOR_PREFERENCE if d in DETECTORS]
    elif name in DETECTORS:
        names = [name]
    else:
        raise ValueError(f"unknown detector {name!r}; registered: {sorted(DETECTORS)}")
    blocks = {"auto": [False, True], "all": [False], "activity": [True]}.get(features)
    if blocks is None:
        raise ValueError(f"features must be auto, all or activity, got {features!r}")
    steps = {"auto": [True, False], "steps": [True], "summary": [False]}.get(sequence_input)
    if steps is None:
        raise ValueError(f"sequence_input must be auto, steps or summary, got {sequence_input!r}")
    forms = {3: steps, 2: [False]}
    return [(n, b, f) for n in names for b in blocks for f in forms[DETECTORS[n].input_ndim]]


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
    cls = DETECTORS[name]
    rng = np.random.default_rng(seed)
    calib_users = set(rng.permutation(len(split.train))[: len(split.train) // 5].tolist())
    fit_rows, calib_rows = [], []
    for u, (items, ts) in enumerate(zip(split.train, split.train_times, strict=True)):
        w = training_windows(items, ts, shares, window, window.size, as_steps)
        (calib_rows if u in calib_users else fit_rows).extend(w)
    params = {"seed": seed} if "seed" in cls().params else {}
    behaviour = BehaviourDetector(cls(**params), window, as_steps)
    X_fit, X_cal = behaviour.inputs(fit_rows), behaviour.inputs(calib_rows)
    behaviour.detector.fit(X_fit, X_cal)
    return behaviour, {
        "name": name,
        "activity_only": window.activity_only,
        "input": "steps" if as_steps else "summary",
        "n_fit_windows": len(X_fit),
        "n_calib_windows": len(X_cal),
    }


def user_features(
    points: PredictionPoints, calibrated: np.ndarray, flags: np.ndarray, window: BehaviourWindow
) -> np.ndarray:
    """Gate inputs: [calibrated score, log1p days since the last rating, share of the recent
    window's genres new to the user, log history length]."""
    since = np.array(
        [(t - ht[-1]) / 86_400.0 for t, ht in zip(points.times, points.history_times, strict=True)]
    )
    new = np.array([window.new_genre_share(h, flags) for h in points.histories])
    length = np.log([len(h) for h in points.histories])
    return np.column_stack([calibrated, np.log1p(np.clip(since, 0, None)), new, length])


# ------------------------------------------------------------------------------ blends


def simplex_grid(n: int, step: float) -> np.ndarray:
    """All weight vectors of n non-negative multiples of `step` summing to 1."""
    m = round(1 / step)
    rows = [c for c in itertools.product(range(m + 1), repeat=n) if sum(c) == m]
    return np.array(rows, np.float64) / m


def mixed(probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Blend [S, n, I] by weights [S] (one for all users) or [n, S] (per user)."""
    if weights.ndim == 1:
        return np.tensordot(weights, probs, axes=1)
    return np.einsum("ns,sni->ni", weights, probs)


def _mean_ndcg(scores, points: PredictionPoints, k: int) -> float:
    return float(hit_ndcg(full_ranks(scores, points.targets, points.histories), k)[1].mean())


def tune_fixed(probs, points, k, step) -> tuple[np.ndarray, float]:
    grid = simplex_grid(len(probs), step)
    vals = [_mean_ndcg(mixed(probs, w), points, k) for w in grid]
    best = int(np.argmax(vals))
    return grid[best], vals[best]


def tune_rule(probs, points, calibrated, calm, k, step) -> tuple[np.ndarray, float]:
    """Shifted weights for BlendRule(calm -> shifted), chosen on validation NDCG@k."""
    grid = simplex_grid(len(probs), step)
    c = np.clip(calibrated, 0, 1)[:, None]
    vals = [_mean_ndcg(mixed(probs, (1 - c) * calm + c * w), points, k) for w in grid]
    best = int(np.argmax(vals))
    return grid[best], vals[best]


def as_rule(calm: np.ndarray, shifted: np.ndarray) -> BlendRule:
    return BlendRule(
        calm=dict(zip(SOURCE_NAMES, calm.round(6).tolist(), strict=True)),
        shifted=dict(zip(SOURCE_NAMES, shifted.round(6).tolist(), strict=True)),
    )


# ------------------------------------------------------------------------------ the bench


def source_probs(
    points: PredictionPoints,
    model,
    short_term: str,
    transitions: ItemTransitions,
    ratings: pd.DataFrame,
    shares: np.ndarray,
    item_counts: np.ndarray,
    cfg: BenchConfig,
    trending_days: float,
) -> np.ndarray:
    """The four source distributions at each user's prediction time: [4, n_users, n_items+1]."""
    window = BehaviourWindow(cfg.window, cfg.min_profile)
    short = (
        transitions.scores(points.histories)
        if short_term == "transitions"
        else next_item_probs(model, points.histories, cfg.short_term_last)
    )
    emerging = emerging_weights(points.histories, shares, window)
    return np.stack(
        [
            next_item_probs(model, points.histories),
            short,
            genre_popularity_scores(emerging, shares, item_counts),
            trending(
                ratings["item_id"].to_numpy(),
                ratings["timestamp"].to_numpy(),
                points.times,
                trending_days * 86_400.0,
                len(shares) - 1,
            ),
        ]
    )


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


def run_bench(
    ratings: pd.DataFrame,
    genre_flags: np.ndarray,
    cfg: BenchConfig,
    log: Callable[[str], None] = print,
    fit_model: Callable | None = None,
) -> dict:
    """The whole comparison on one data set; returns the report as a JSON-able dict.

    genre_flags: [n_items + 1, n_genres] multi-hot (row 0 = padding). `fit_model(train,
    n_items, cfg, seed)` trains the long-term model (default: fit_long_term)."""
    started = time.perf_counter()
    fit_model = fit_model or fit_long_term
    flags = np.asarray(genre_flags, dtype=np.float64)
    n_items = len(flags) - 1
    if ratings["item_id"].max() > n_items or ratings["item_id"].min() < 1:
        raise ValueError(f"item ids must lie in 1..{n_items} (the rows of genre_flags)")
    splitters = {"leave_last_out": leave_last_out, "global_time": global_time_split}
    if cfg.split not in splitters:
        raise ValueError(f"split must be one of {sorted(splitters)}, got {cfg.split!r}")
    split = splitters[cfg.split](ratings)
    log(
        f"{cfg.split}: {len(split.users)} training users, {len(split.valid.targets)} validation "
        f"and {len(split.test.targets)} test targets, {n_items} items"
    )
    shares = genre_shares(flags)
    item_counts = np.bincount(np.concatenate(split.train), minlength=n_items + 1).astype(float)
    transitions = ItemTransitions(last=cfg.short_term_last).fit(split.train, n_items)
    trend_ndcg = {
        days: _mean_ndcg(
            trending(
                ratings["item_id"].to_numpy(), ratings["timestamp"].to_numpy(),
                split.valid.times, days * 86_400.0, n_items,
            ),
            split.valid, cfg.k,
        )
        for days in cfg.trending_days
    }  # fmt: skip
    trending_days = max(trend_ndcg, key=trend_ndcg.get)
    log(f"trending window on validation (days: NDCG@{cfg.k}) {trend_ndcg} -> {trending_days}")
    report: dict = {
        "config": asdict(cfg),
        "data": {
            "n_users": len(split.users),
            "n_valid_targets": len(split.valid.targets),
            "n_test_targets": len(split.test.targets),
            "n_items": n_items,
            "n_ratings": len(ratings),
            "n_dropped_users": split.n_dropped_users,
            "sessions": rating_sessions(ratings),
        },
        "split": split.name,
        "trending_window_days": {"validation_ndcg": trend_ndcg, "chosen": trending_days},
        "threads": {"torch": torch.get_num_threads()},
        "seeds": {},
    }
    for seed in cfg.seeds:
        log(f"seed {seed}: training the long-term model ...")
        t0 = time.perf_counter()
        model = fit_model(split.train, n_items, cfg, seed)
        train_s = time.perf_counter() - t0
        log(f"seed {seed}: trained in {train_s:.1f} s")
        # Short-term source: the better of the two on validation NDCG@k, alone.
        candidates = {
            "transitions": transitions.scores(split.valid.histories),
            "sasrec_last": next_item_probs(model, split.valid.histories, cfg.short_term_last),
        }
        short_ndcg = {n: _mean_ndcg(p, split.valid, cfg.k) for n, p in candidates.items()}
        short_term = max(short_ndcg, key=short_ndcg.get)
        log(f"seed {seed}: short-term source on validation {short_ndcg} -> {short_term}")
        del candidates
        build = dict(
            model=model, short_term=short_term, transitions=transitions, ratings=ratings,
            shares=shares, item_counts=item_counts, cfg=cfg, trending_days=trending_days,
        )  # fmt: skip
        valid_probs = source_probs(split.valid, **build)
        test_probs = source_probs(split.test, **build)
        fixed_w, fixed_val = tune_fixed(valid_probs, split.valid, cfg.k, cfg.grid_step)
        log(f"seed {seed}: best fixed blend on validation {fixed_w} ({fixed_val:.4f})")
        detector, det_info = choose_detector(split, valid_probs, fixed_w, shares, cfg, seed, log)
        valid = SplitSources(valid_probs, detector.calibrated_at(split.valid, shares))
        test = SplitSources(test_probs, detector.calibrated_at(split.test, shares))
        for src, points in ((valid, split.valid), (test, split.test)):
            src.gate_features = user_features(points, src.calibrated, flags, detector.window)
        log(f"seed {seed}: tuning the aware blends on validation ...")
        result = compare_blends(split, valid, test, fixed_w, fixed_val, cfg, seed)
        result.update(
            train_seconds=round(train_s, 1),
            detector=det_info,
            short_term_choice={"validation_ndcg": short_ndcg, "chosen": short_term},
        )
        report["seeds"][str(seed)] = result
        log(summary_line(seed, result))
    per_seed = [report["seeds"][str(s)].pop("_per_user") for s in cfg.seeds]
    report["pooled_ci_ndcg@10"] = pooled_cis(per_seed, cfg.n_bootstrap)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    return report


COMPARISONS = (
    ("anomaly-aware rule", "best fixed blend"),
    ("learned gate", "best fixed blend"),
    ("learned gate", "learned gate, no anomaly score"),
)


def pooled_cis(per_seed: list[dict], n_resamples: int) -> list[dict]:
    """A - B over all seeds at once: a cluster bootstrap that resamples users (each user's
    rows of every seed go together); a user is 'shifting' in the seeds where the detector of
    that seed flagged them."""
    shifting = np.stack([p["shifting"] for p in per_seed])  # [seeds, users]
    groups = {"all": np.ones_like(shifting), "shifting": shifting, "rest": ~shifting}
    idx = np.random.default_rng(0).integers(0, shifting.shape[1], (n_resamples, shifting.shape[1]))
    out = []
    for a, b in COMPARISONS:
        d = np.stack([p["ndcg"][a] - p["ndcg"][b] for p in per_seed])
        base = np.stack([p["ndcg"][b] for p in per_seed])
        for g, mask in groups.items():
            m = mask.astype(np.float64)
            n = m.sum()
            if n == 0:
                continue
            # per resample: the masked sums over the drawn users, summed over seeds
            num = (d * m).sum(0)[idx].sum(1)
            den = m.sum(0)[idx].sum(1)
            means = num[den > 0] / den[den > 0]
            low, high = np.quantile(means, [0.025, 0.975])
            diff = float((d * m).sum() / n)
            out.append(
                {
                    "a": a, "b": b, "users": g, "n_user_seeds": int(n), "diff": diff,
                    "low": float(low), "high": float(high),
                    "relative": diff / float((base * m).sum() / n),
                }
            )  # fmt: skip
    return out


def compare_blends(
    split: ChronoSplit,
    valid: SplitSources,
    test: SplitSources,
    fixed_w: np.ndarray,
    fixed_val: float,
    cfg: BenchConfig,
    seed: int,
) -> dict:
    S = len(SOURCE_NAMES)
    shifted_w, rule_val = tune_rule(
        valid.probs, split.valid, valid.calibrated, fixed_w, cfg.k, cfg.grid_step
    )
    rule = as_rule(fixed_w, shifted_w)

    gate, gate_l2 = fit_gate(valid.gate_features, valid.probs, split.valid, fixed_w, cfg, seed)
    gate_plain, plain_l2 = fit_gate(
        valid.gate_features[:, 1:], valid.probs, split.valid, fixed_w, cfg, seed
    )
    c_test = np.clip(test.calibrated, 0, 1)[:, None]
    weights = {
        "long_term only": np.eye(S)[0],
        "short_term only": np.eye(S)[1],
        "best fixed blend": fixed_w,
        "anomaly-aware rule": (1 - c_test) * fixed_w + c_test * shifted_w,
        "learned gate": gate.weights(test.gate_features),
        "learned gate, no anomaly score": gate_plain.weights(test.gate_features[:, 1:]),
    }
    shifting = test.calibrated >= cfg.shift_level
    groups = {"all": np.ones_like(shifting), "shifting": shifting, "rest": ~shifting}
    per_user, table = {}, []
    for name, w in weights.items():
        scores = mixed(test.probs, w)
        full = full_ranks(scores, split.test.targets, split.test.histories)
        sampled = sampled_ranks(
            scores, split.test.targets, split.test.histories, cfg.n_negatives, seed
        )
        hit, ndcg = hit_ndcg(full, cfg.k)
        s_hit, s_ndcg = hit_ndcg(sampled, cfg.k)
        per_user[name] = ndcg
        for g, mask in groups.items():
            table.append(
                {
                    "variant": name,
                    "users": g,
                    "n": int(mask.sum()),
                    "full_hr@10": _mean(hit[mask]),
                    "full_ndcg@10": _mean(ndcg[mask]),
                    "sampled100_hr@10": _mean(s_hit[mask]),
                    "sampled100_ndcg@10": _mean(s_ndcg[mask]),
                }
            )
    cis = []
    for aware, base in COMPARISONS:
        for g, mask in groups.items():
            ci = paired_bootstrap(
                per_user[aware][mask], per_user[base][mask], cfg.n_bootstrap, seed
            )
            base_mean = _mean(per_user[base][mask])
            rel = ci["diff"] / base_mean if base_mean else float("nan")
            cis.append({"a": aware, "b": base, "users": g, **ci, "relative": rel})
    months = pd.to_datetime(split.test.times, unit="s").strftime("%Y-%m").to_numpy()
    over_time = [
        {
            "month": m,
            "n": int((months == m).sum()),
            **{
                v: _mean(per_user[v][months == m])
                for v in ("best fixed blend", "anomaly-aware rule", "learned gate")
            },
        }
        for m in sorted(set(months))
    ]
    # Our SASRec alone under RecBole's sequential protocol (seen items not excluded) too.
    no_exclusion = [np.zeros(0, np.int64)] * len(split.test.targets)
    hit, ndcg = hit_ndcg(full_ranks(test.probs[0], split.test.targets, no_exclusion), cfg.k)
    sasrec = {
        "full_hr@10_seen_excluded": _mean(
            hit_ndcg(full_ranks(test.probs[0], split.test.targets, split.test.histories), cfg.k)[0]
        ),
        "full_ndcg@10_seen_excluded": _mean(per_user["long_term only"]),
        "full_hr@10_seen_kept": _mean(hit),
        "full_ndcg@10_seen_kept": _mean(ndcg),
    }
    return {
        "_per_user": {"ndcg": per_user, "shifting": shifting},
        "sasrec": sasrec,
        "validation_ndcg@10": {"best fixed blend": fixed_val, "anomaly-aware rule": rule_val},
        "rule": {"calm": rule.calm, "shifted": rule.shifted},
        "gate_l2": {"learned gate": gate_l2, "learned gate, no anomaly score": plain_l2},
        "gate_mean_weights": {
            "learned gate": dict(
                zip(SOURCE_NAMES, weights["learned gate"].mean(0).round(4).tolist(), strict=True)
            ),
            "learned gate, no anomaly score": dict(
                zip(
                    SOURCE_NAMES,
                    weights["learned gate, no anomaly score"].mean(0).round(4).tolist(),
                    strict=True,
                )
            ),
        },
        "shifting": {
            "valid_users": int((valid.calibrated >= cfg.shift_level).sum()),
            "test_users": int(shifting.sum()),
        },
        "table": table,
        "ci_ndcg@10": cis,
        "ndcg@10_by_month": over_time,
    }


GATE_L2 = (1e-3, 1e-2, 1e-1, 1.0)


def fit_gate(
    X: np.ndarray,
    probs: np.ndarray,
    points: PredictionPoints,
    prior: np.ndarray,
    cfg: BenchConfig,
    seed: int,
    n_folds: int = 5,
) -> tuple[SourceGate, float]:
    """A gate on the validation targets, pulled towards the best fixed blend; the strength of
    that pull (L2) is chosen by NDCG@k in n-fold cross-validation over validation users."""
    target = probs[:, np.arange(len(points.targets)), points.targets].T
    folds = np.random.default_rng(seed).permutation(len(X)) % n_folds
    cv = {}
    for l2 in GATE_L2:
        held = np.zeros(len(X))
        for f in range(n_folds):
            train, test = folds != f, folds == f
            gate = SourceGate(SOURCE_NAMES, prior=prior, l2=l2, epochs=cfg.gate_epochs, seed=seed)
            w = gate.fit(X[train], target[train]).weights(X[test])
            scores = np.einsum("ns,sni->ni", w, probs[:, test])
            seen = [h for h, t in zip(points.histories, test, strict=True) if t]
            ranks = full_ranks(scores, points.targets[test], seen)
            held[test] = hit_ndcg(ranks, cfg.k)[1]
        cv[l2] = held.mean()
    best = max(cv, key=cv.get)
    gate = SourceGate(SOURCE_NAMES, prior=prior, l2=best, epochs=cfg.gate_epochs, seed=seed)
    return gate.fit(X, target), best


def rating_sessions(ratings: pd.DataFrame) -> dict:
    """Why windows count interactions: how many distinct days users rate on."""
    days = ratings.assign(day=ratings["timestamp"] // 86_400).groupby("user_id")["day"]
    n_days = days.nunique()
    per_day = ratings.groupby("user_id").size() / n_days
    return {
        "median_active_days_per_user": float(n_days.median()),
        "share_users_on_at_most_3_days": float((n_days <= 3).mean()),
        "median_ratings_per_active_day": float(per_day.median()),
    }


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


def summary_line(seed: int, result: dict) -> str:
    rows = {(r["variant"], r["users"]): r["full_ndcg@10"] for r in result["table"]}
    parts = [
        f"{v}={rows[(v, 'all')]:.4f}/{rows[(v, 'shifting')]:.4f}" for v, _ in rows if _ == "all"
    ]
    return f"seed {seed} full NDCG@10 all/shifting: " + ", ".join(parts)


def write_report(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "recommend.json"
    json_path.write_text(json.dumps(report, indent=2, default=float))
    md_path = out / "recommend.md"
    md_path.write_text(markdown(report))
    return json_path, md_path


def markdown(report: dict) -> str:
    lines = ["# adrec bench recommend", ""]
    d = report["data"]
    lines.append(
        f"{d['n_users']} training users, {d['n_valid_targets']} validation and "
        f"{d['n_test_targets']} test targets, {d['n_items']} items, {d['n_ratings']} ratings; "
        f"split {report['split']}; torch threads {report['threads']['torch']}; wall "
        f"{report.get('wall_seconds', float('nan'))} s. Trending window (chosen on "
        f"validation): {report['trending_window_days']['chosen']} days."
    )
    for seed, res in report["seeds"].items():
        lines += ["", f"## Seed {seed}", ""]
        lines.append(
            f"Detector {res['detector']['chosen']['name']} (activity only: "
            f"{res['detector']['chosen']['activity_only']}); short-term source "
            f"{res['short_term_choice']['chosen']}; shifting users at test "
            f"{res['shifting']['test_users']}; long-term model trained in {res['train_seconds']} s."
        )
        lines += [
            "",
            "| variant | users | n | full HR@10 | full NDCG@10 | sampled-100 HR@10 "
            "| sampled-100 NDCG@10 |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in res["table"]:
            lines.append(
                f"| {r['variant']} | {r['users']} | {r['n']} | {r['full_hr@10']:.4f} | "
                f"{r['full_ndcg@10']:.4f} | {r['sampled100_hr@10']:.4f} | "
                f"{r['sampled100_ndcg@10']:.4f} |"
            )
        lines += [
            "",
            "| A - B (full NDCG@10) | users | n | diff | 95% CI | relative |",
            "|---|---|---|---|---|---|",
        ]
        for c in res["ci_ndcg@10"]:
            lines.append(
                f"| {c['a']} - {c['b']} | {c['users']} | {c['n']} | {c['diff']:+.4f} | "
                f"[{c['low']:+.4f}, {c['high']:+.4f}] | {c['relative']:+.1%} |"
            )
        lines += [
            "",
            f"Rule (tuned on validation): calm {res['rule']['calm']}, "
            f"shifted {res['rule']['shifted']}",
        ]
    if report.get("pooled_ci_ndcg@10"):
        lines += [
            "",
            f"## All seeds pooled ({', '.join(report['seeds'])}): cluster bootstrap over users",
            "",
            "| A - B (full NDCG@10) | users | user-seeds | diff | 95% CI | relative |",
            "|---|---|---|---|---|---|",
        ]
        for c in report["pooled_ci_ndcg@10"]:
            lines.append(
                f"| {c['a']} - {c['b']} | {c['users']} | {c['n_user_seeds']} | "
                f"{c['diff']:+.4f} | [{c['low']:+.4f}, {c['high']:+.4f}] | {c['relative']:+.1%} |"
            )
    lines += [
        "",
        "## adrec SASRec alone (test, full ranking)",
        "",
        "| seed | train s | HR@10 seen excluded | NDCG@10 seen excluded | HR@10 seen kept "
        "| NDCG@10 seen kept |",
        "|---|---|---|---|---|---|",
    ]
    for seed, res in report["seeds"].items():
        q = res["sasrec"]
        lines.append(
            f"| {seed} | {res['train_seconds']} | {q['full_hr@10_seen_excluded']:.4f} | "
            f"{q['full_ndcg@10_seen_excluded']:.4f} | {q['full_hr@10_seen_kept']:.4f} | "
            f"{q['full_ndcg@10_seen_kept']:.4f} |"
        )
    if "recbole" in report:
        lines += [
            "",
            "## SASRec: adrec vs RecBole",
            "",
            "```",
            json.dumps(report["recbole"], indent=2),
            "```",
        ]
    return "\n".join(lines) + "\n"


def genre_flags(items: pd.DataFrame, genres: tuple[str, ...]) -> np.ndarray:
    """Multi-hot [max item id + 1, n_genres] from an items frame with item_id and genres
    (tuples of names); row 0 (padding) and ids without a row stay all zero."""
    index = {g: i for i, g in enumerate(genres)}
    flags = np.zeros((int(items["item_id"].max()) + 1, len(genres)))
    for item, names in zip(items["item_id"], items["genres"], strict=True):
        for name in names:
            flags[int(item), index[name]] = 1.0
    return flags


def run_movielens(
    path: str | Path,
    cfg: BenchConfig,
    threads: int = 1,
    with_recbole: bool = True,
    out_dir: str | Path = "reports/recommend",
    log: Callable[[str], None] = print,
    recbole_epochs: int = 5,
) -> dict:
    """Load a MovieLens folder, run the bench, and (optionally) RecBole's SASRec on the same
    leave-last-out split; threads are fixed and recorded."""
    torch.set_num_threads(threads)
    ratings, items, genres, loader = _load_movielens(Path(path))
    report = run_bench(ratings, genre_flags(items, genres), cfg, log)
    report["data"].update(path=str(path), loader=loader)
    report["threads"]["requested"] = threads
    if with_recbole and cfg.split != "leave_last_out":
        report["recbole"] = {"status": "skipped", "why": "run only on the leave-last-out split"}
    elif with_recbole:
        report["recbole"] = recbole_side_by_side(ratings, cfg, recbole_epochs, out_dir, log)
    return report


def _load_movielens(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...], str]:
    """adrec's MovieLens loader (adrec.data.movielens); until that module is in the checkout,
    a minimal ml-100k reader with the same contract (ratings sorted by user, then time, ties
    in file order; items with genre tuples)."""
    try:
        from adrec.data.movielens import load_movielens
    except ImportError:
        return (*_read_ml100k(path), "bench fallback ml-100k reader")
    data = load_movielens(path)
    return data.ratings, data.items, data.genres, "adrec.data.movielens"


def _read_ml100k(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    for name in ("u.data", "u.item", "u.genre"):
        if not (path / name).exists():
            raise ValueError(f"{path} has no {name} (an ml-100k folder is expected)")
    ratings = pd.read_csv(
        path / "u.data", sep="\t", names=["user_id", "item_id", "rating", "timestamp"]
    ).sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)
    genre_rows = pd.read_csv(path / "u.genre", sep="|", header=None, encoding="latin-1")
    genres = tuple(genre_rows[0].dropna())
    raw = pd.read_csv(path / "u.item", sep="|", header=None, encoding="latin-1")
    flags = raw.iloc[:, -len(genres) :].to_numpy(bool)
    items = pd.DataFrame(
        {
            "item_id": raw[0].astype(np.int64),
            "title": raw[1],
            "genres": [tuple(g for g, f in zip(genres, row, strict=True) if f) for row in flags],
        }
    )
    return ratings, items, genres


def recbole_side_by_side(
    ratings: pd.DataFrame, cfg: BenchConfig, epochs: int, out_dir, log
) -> dict:
    """RecBole's SASRec on the identical leave-last-out split (task E's launcher); RecBole
    trains on every prefix (minutes per epoch on 2 cores), so its epochs are capped apart."""
    try:
        from adrec.bench.recbole_reference import run_recbole_sasrec
        from adrec.data.splits import leave_last_out as split_for_recbole
    except ImportError as exc:
        return {"status": "unavailable", "why": f"RecBole launcher not in this checkout: {exc}"}

    log("RecBole SASRec side by side ...")
    return run_recbole_sasrec(
        split_for_recbole(ratings), Path(out_dir) / "recbole", cfg.max_len, epochs
    )
