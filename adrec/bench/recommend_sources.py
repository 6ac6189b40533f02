"""Candidate sources of `adrec bench recommend` at each user's prediction time, and the
gate's inputs: every function reads only the histories before the targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from adrec.bench.recommend_blends import mean_ndcg
from adrec.bench.recommend_config import BenchConfig
from adrec.data.splits import PredictionPoints
from adrec.recommender.behaviour_features import BehaviourWindow
from adrec.recommender.long_term import next_item_probs  # noqa: F401 (moved; re-exported)
from adrec.recommender.models import build_sequence_model
from adrec.recommender.next_item import loss_function
from adrec.recommender.sequences import training_examples
from adrec.recommender.sources import (
    ItemTransitions,
    emerging_categories,
    genre_popularity_scores,
    trending,
)
from adrec.training import train_one_epoch


def fit_long_term(train: list[np.ndarray], n_items: int, cfg: BenchConfig, seed: int):
    """cfg.sequence_model (SASRec by default) trained with cfg.loss (full-softmax
    cross-entropy by default) on every position of every training sequence, a fixed number of
    epochs."""
    loss = loss_function(cfg.loss, cfg.sampled_negatives)
    torch.manual_seed(seed)
    examples = [training_examples(s, cfg.max_len) for s in train if len(s) >= 2]
    inputs = torch.as_tensor(np.concatenate([e["input"] for e in examples]))
    targets = torch.as_tensor(np.concatenate([e["target"] for e in examples]))
    model = build_sequence_model(
        cfg.sequence_model, n_items, cfg.max_len, cfg.dim, cfg.n_layers, cfg.dropout
    )
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
        train_one_epoch(model, batches, loss, opt)
    return model.eval()


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


def choose_trending_days(
    ratings: pd.DataFrame, points: PredictionPoints, n_items: int, cfg: BenchConfig
) -> tuple[float, dict]:
    """The trending window whose popularity alone ranks the validation targets best."""
    items, times = ratings["item_id"].to_numpy(), ratings["timestamp"].to_numpy()
    ndcg = {}
    for days in cfg.trending_days:
        scores = trending(items, times, points.times, days * 86_400.0, n_items)
        ndcg[days] = mean_ndcg(scores, points, cfg.k)
    return max(ndcg, key=ndcg.get), ndcg


def choose_short_term(
    model, transitions: ItemTransitions, points: PredictionPoints, cfg: BenchConfig
) -> tuple[str, dict]:
    """Item transitions or SASRec over the last few items: the better alone on validation."""
    candidates = {
        "transitions": lambda: transitions.scores(points.histories),
        "sasrec_last": lambda: next_item_probs(model, points.histories, cfg.short_term_last),
    }
    ndcg = {name: mean_ndcg(make(), points, cfg.k) for name, make in candidates.items()}
    return max(ndcg, key=ndcg.get), ndcg
