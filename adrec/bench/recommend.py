"""Does reacting to a user's detected change recommend better? The core of `adrec bench
recommend`; Ray appears only with trainer="ray" (through adrec.distributed).

On a chronological leave-last-out split (test targets = each user's last `targets_per_user`
interactions, validation targets = the ones before them, each predicted from the whole
history before it), every prediction point gets candidate distributions from four sources:
long_term (SASRec over the history), short_term (the recent items; item transitions or SASRec
over the last few items, chosen on validation), emerging (popular items of the genres the user
newly moved towards) and trending (global popularity in a window strictly before the
prediction time). A behaviour detector scores the user's last window of interactions against
the user's own profile, from the past only. Blends compared on the same targets: each source
alone, the best fixed blend, the anomaly-aware rule (BlendRule: calm -> shifted as the
calibrated score rises), a learned gate with the anomaly score and the same gate without it.
Every weight is tuned on validation targets; test targets are only scored. Metrics:
full-ranking HR@10 / NDCG@10 with seen items excluded, and the 100-sampled-negatives variant,
on all targets, shifting ones (calibrated score >= 0.5 at prediction time) and the rest, with
bootstrap CIs that resample users.

Modules: recommend_config (settings), recommend_sources (candidate sources), recommend_detector
(behaviour detector), recommend_blends (tuning), recommend_compare (test ablation),
recommend_report (Markdown + JSON).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from adrec.bench.recommend_blends import tune_fixed
from adrec.bench.recommend_compare import compare_blends, pooled_cis
from adrec.bench.recommend_config import SOURCE_NAMES, BenchConfig, SplitSources
from adrec.bench.recommend_detector import choose_detector
from adrec.bench.recommend_report import rating_sessions, summary_line
from adrec.bench.recommend_sources import (
    choose_short_term,
    choose_trending_days,
    fit_long_term,
    next_item_probs,
    source_probs,
    user_features,
)
from adrec.data.movielens import load_movielens
from adrec.data.splits import SPLITS
from adrec.metrics.ranking import full_ranks, hit_ndcg
from adrec.recommender.behaviour_features import genre_shares
from adrec.recommender.sources import ItemTransitions

__all__ = ["SOURCE_NAMES", "BenchConfig", "run_bench", "run_movielens"]

TRAINERS = ("local", "ray")


def long_term_trainer(cfg: BenchConfig) -> Callable:
    """fit_model(train, n_items, cfg, seed) for cfg.trainer: in-process, or Ray Train over a
    Ray Data dataset of the training sequences on the cluster adrec.distributed connects to."""
    if cfg.trainer == "local":
        return fit_long_term
    if cfg.trainer != "ray":
        raise ValueError(f"trainer must be one of {TRAINERS}, got {cfg.trainer!r}")
    from adrec.distributed.recommend_train import fit_next_item_on_ray

    def fit(train: list[np.ndarray], n_items: int, cfg: BenchConfig, seed: int):
        model, _ = fit_next_item_on_ray(
            train, n_items, max_len=cfg.max_len, dim=cfg.dim, n_layers=cfg.n_layers,
            dropout=cfg.dropout, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            seed=seed, use_gpu=cfg.use_gpu, kind=cfg.sequence_model, loss=cfg.loss,
            n_negatives=cfg.sampled_negatives,
        )  # fmt: skip
        return model

    return fit


def run_bench(
    ratings: pd.DataFrame,
    genre_flags: np.ndarray,
    cfg: BenchConfig,
    log: Callable[[str], None] = print,
    fit_model: Callable | None = None,
) -> dict:
    """The whole comparison on one data set; returns the report as a JSON-able dict.

    genre_flags: [n_items + 1, n_genres] multi-hot (row 0 = padding). `fit_model(train,
    n_items, cfg, seed)` trains the long-term model (default: the one cfg.trainer names)."""
    started = time.perf_counter()
    fit_model = fit_model or long_term_trainer(cfg)
    flags = np.asarray(genre_flags, dtype=np.float64)
    n_items = len(flags) - 1
    if ratings["item_id"].max() > n_items or ratings["item_id"].min() < 1:
        raise ValueError(f"item ids must lie in 1..{n_items} (the rows of genre_flags)")
    if cfg.split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {cfg.split!r}")
    split = SPLITS[cfg.split](ratings, n_targets=cfg.targets_per_user)
    n_test_users = len(np.unique(split.test.users))
    log(
        f"{cfg.split}: {len(split.users)} training users, {len(split.valid.targets)} validation "
        f"and {len(split.test.targets)} test targets ({n_test_users} users), {n_items} items"
    )
    shares = genre_shares(flags)
    item_counts = np.bincount(np.concatenate(split.train), minlength=n_items + 1).astype(float)
    transitions = ItemTransitions(last=cfg.short_term_last).fit(split.train, n_items)
    trending_days, trend_ndcg = choose_trending_days(ratings, split.valid, n_items, cfg)
    log(f"trending window on validation (days: NDCG@{cfg.k}) {trend_ndcg} -> {trending_days}")
    report: dict = {
        "config": asdict(cfg),
        "data": {
            "n_users": len(split.users),
            "n_valid_targets": len(split.valid.targets),
            "n_test_targets": len(split.test.targets),
            "n_test_users": n_test_users,
            "targets_per_user": cfg.targets_per_user,
            "n_items": n_items,
            "n_ratings": len(ratings),
            "n_dropped_users": split.n_dropped_users,
            "sessions": rating_sessions(ratings),
        },
        "split": split.name,
        "trainer": cfg.trainer,
        "trending_window_days": {"validation_ndcg": trend_ndcg, "chosen": trending_days},
        "threads": {"torch": torch.get_num_threads()},
        "seeds": {},
    }
    per_seed = []
    for seed in cfg.seeds:
        log(f"seed {seed}: training the long-term model ({cfg.trainer}) ...")
        t0 = time.perf_counter()
        model = fit_model(split.train, n_items, cfg, seed)
        train_s = time.perf_counter() - t0
        log(f"seed {seed}: trained in {train_s:.1f} s")
        short_term, short_ndcg = choose_short_term(model, transitions, split.valid, cfg)
        log(f"seed {seed}: short-term source on validation {short_ndcg} -> {short_term}")
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
        per_seed.append(result.pop("_per_user"))
        result.update(
            train_seconds=round(train_s, 1),
            detector=det_info,
            short_term_choice={"validation_ndcg": short_ndcg, "chosen": short_term},
        )
        report["seeds"][str(seed)] = result
        log(summary_line(seed, result))
    report["pooled_ci_ndcg@10"] = pooled_cis(per_seed, cfg.n_bootstrap)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    return report


def run_movielens(
    path: str | Path,
    cfg: BenchConfig,
    threads: int = 1,
    with_recbole: bool = True,
    out_dir: str | Path = "reports/recommend",
    log: Callable[[str], None] = print,
    recbole_epochs: int = 15,
) -> dict:
    """Load a MovieLens folder, run the bench, and (optionally) RecBole's SASRec on the same
    leave-last-out split; threads are fixed and recorded."""
    torch.set_num_threads(threads)
    data = load_movielens(path)
    if any(data.malformed.values()):
        log(f"malformed lines skipped: {data.malformed}")
    report = run_bench(data.ratings, data.genre_flags(), cfg, log)
    report["data"].update(path=str(path), loader=data.source, malformed_lines=data.malformed)
    report["threads"]["requested"] = threads
    if with_recbole and cfg.split != "leave_last_out":
        report["recbole"] = {"status": "skipped", "why": "run only on the leave-last-out split"}
    elif with_recbole and cfg.sequence_model != "sasrec":
        why = f"RecBole's reference is SASRec; this run's long-term model is {cfg.sequence_model}"
        report["recbole"] = {"status": "skipped", "why": why}
    elif with_recbole:
        if cfg.targets_per_user > 1:  # RecBole's split has one test target per user
            report["sasrec_reference"] = sasrec_on_classic_split(
                data.ratings, len(data.genre_flags()) - 1, cfg, log
            )
        report["recbole"] = recbole_side_by_side(data.ratings, cfg, recbole_epochs, out_dir, log)
    return report


def sasrec_on_classic_split(ratings: pd.DataFrame, n_items: int, cfg: BenchConfig, log) -> dict:
    """Our SASRec on RecBole's own split (leave-last-out, one test target per user), seed
    cfg.seeds[0], scored like RecBole (seen items kept): the like-for-like reference when the
    blends are compared on several targets per user."""
    split = SPLITS["leave_last_out"](ratings, n_targets=1)
    log("adrec SASRec on the one-target leave-last-out split, for RecBole ...")
    t0 = time.perf_counter()
    model = long_term_trainer(cfg)(split.train, n_items, cfg, cfg.seeds[0])
    train_s = time.perf_counter() - t0
    probs = next_item_probs(model, split.test.histories)
    kept = [np.zeros(0, np.int64)] * len(split.test.targets)
    hit, ndcg = hit_ndcg(full_ranks(probs, split.test.targets, kept), cfg.k)
    return {
        "seed": cfg.seeds[0],
        "n_test_targets": len(split.test.targets),
        "train_seconds": round(train_s, 1),
        "full_hr@10_seen_kept": float(hit.mean()),
        "full_ndcg@10_seen_kept": float(ndcg.mean()),
    }


def recbole_side_by_side(
    ratings: pd.DataFrame, cfg: BenchConfig, epochs: int, out_dir: str | Path, log
) -> dict:
    """RecBole's SASRec on the identical leave-last-out split: it gets the ratings frame in
    our order (user, then time, ties in file order) and splits it the same way. RecBole trains
    on every prefix (minutes per epoch on 2 cores), so its epochs are capped apart."""
    from adrec.bench.recbole_reference import run_recbole_sasrec

    log("RecBole SASRec side by side ...")
    # A stuck install or run ends as "unavailable" instead of hanging the bench: 15 epochs
    # took 35 min on 2 busy cores, so allow 10 min per epoch.
    return run_recbole_sasrec(
        ratings,
        Path(out_dir) / "recbole",
        cfg.max_len,
        epochs,
        seed=cfg.seeds[0],
        log=log,
        timeout_s=600.0 * epochs,
    )
