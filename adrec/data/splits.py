"""Chronological train / validation / test splits of a ratings log, one or more targets per
user (`n_targets`): with several, each target is predicted from the user's whole sequence
before it (a rolling evaluation), so a shifting user counts on several targets.

Both splits give every target the history strictly before it in the user's sequence, so
features, detectors and models fed from `PredictionPoints.histories` (or from
`ChronoSplit.train`) never see a target or anything after it. Within a user, ratings are
ordered by timestamp with a stable sort: equal timestamps keep the frame's row order (the
loaders in adrec.data.movielens keep the source file's order).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class PredictionPoints:
    """Prediction points: per point the user, the history before it (items, times), the target
    and its time. A user has one point per target, in time order."""

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


def user_sequences(ratings: pd.DataFrame) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(user, items, timestamps) per user in ascending user order, each in time order
    (ties keep the frame's row order)."""
    for col in ("user_id", "item_id", "timestamp"):
        if col not in ratings:
            raise ValueError(f"ratings lack the column {col!r}")
    users = ratings["user_id"].to_numpy()
    ts = ratings["timestamp"].to_numpy(np.int64)
    items = ratings["item_id"].to_numpy(np.int64)
    order = np.lexsort((ts, users))  # stable
    users, ts, items = users[order], ts[order], items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], len(users)], strict=True):
        yield int(users[a]), items[a:b], ts[a:b]


def leave_last_out(
    ratings: pd.DataFrame, min_interactions: int = 3, n_targets: int = 1
) -> ChronoSplit:
    """Per-user chronological sequences; the last `n_targets` interactions are test targets,
    the `n_targets` before them validation targets, the rest training. Users with fewer than
    max(min_interactions, 2 * n_targets + 1) interactions are dropped. Leaks across users:
    one user's last item may come after another's."""
    if n_targets < 1:
        raise ValueError(f"n_targets must be >= 1, got {n_targets}")
    need = max(min_interactions, 2 * n_targets + 1)
    users, train, train_t, valid, test, dropped = [], [], [], [], [], 0
    for user, items, ts in user_sequences(ratings):
        if len(items) < need:
            dropped += 1
            continue
        n_train = len(items) - 2 * n_targets
        users.append(user)
        train.append(items[:n_train])
        train_t.append(ts[:n_train])
        for k in range(n_train, len(items)):
            point = (user, items[:k], ts[:k], items[k], ts[k])
            (valid if k < n_train + n_targets else test).append(point)
    if not users:
        raise ValueError(f"no user has at least {need} interactions")
    return ChronoSplit(
        "leave_last_out", np.array(users), train, train_t, _pack(valid), _pack(test), dropped
    )


def global_time_split(
    ratings: pd.DataFrame,
    valid_frac: float = 0.1,
    test_frac: float = 0.1,
    min_history: int = 3,
    n_targets: int = 1,
) -> ChronoSplit:
    """Two global time cuts at the (1 - valid - test) and (1 - test) quantiles of all
    timestamps. Training: everything before the first cut. Validation targets are a user's
    first `n_targets` ratings between the cuts, test targets the first `n_targets` after the
    second cut; each has the user's whole history before it. Users with fewer than
    `min_history` ratings before a cut get no target there."""
    if not (0 < valid_frac and 0 < test_frac and valid_frac + test_frac < 1):
        raise ValueError("valid_frac and test_frac must be > 0 and sum to < 1")
    if n_targets < 1:
        raise ValueError(f"n_targets must be >= 1, got {n_targets}")
    if "timestamp" not in ratings:
        raise ValueError("ratings lack the column 'timestamp'")
    t_valid, t_test = np.quantile(
        ratings["timestamp"].to_numpy(), [1 - valid_frac - test_frac, 1 - test_frac]
    )
    users, train, train_t, valid, test, dropped = [], [], [], [], [], 0
    for user, items, ts in user_sequences(ratings):
        n_train, n_before_test = int((ts < t_valid).sum()), int((ts < t_test).sum())
        if n_train >= 2:
            users.append(user)
            train.append(items[:n_train])
            train_t.append(ts[:n_train])
        if n_train >= min_history:
            for k in range(n_train, min(n_train + n_targets, n_before_test)):
                valid.append((user, items[:k], ts[:k], items[k], ts[k]))
        if n_before_test >= min_history:
            for k in range(n_before_test, min(n_before_test + n_targets, len(ts))):
                test.append((user, items[:k], ts[:k], items[k], ts[k]))
        if n_train < 2 and n_before_test < min_history:
            dropped += 1
    if not valid or not test:
        raise ValueError("the time cuts leave no validation or no test targets")
    return ChronoSplit(
        "global_time", np.array(users), train, train_t, _pack(valid), _pack(test), dropped
    )


SPLITS = {"leave_last_out": leave_last_out, "global_time": global_time_split}
