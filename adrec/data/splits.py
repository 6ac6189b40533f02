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


# -- splits of a validated log (adrec.data.interactions.Interactions) ------------------------
@dataclass
class Points:
    """Prediction points of a log: per point the user (dense index), the history as the row
    range [start, end) of the log (the user's interactions before the target), the target
    item (row `end` of the log) and the prediction time (the target's timestamp)."""

    user: np.ndarray
    start: np.ndarray
    end: np.ndarray
    target: np.ndarray
    time: np.ndarray

    def __len__(self) -> int:
        return len(self.user)

    def subset(self, keep: np.ndarray) -> Points:
        return Points(*(a[keep] for a in (self.user, self.start, self.end, self.target, self.time)))

    @classmethod
    def empty(cls) -> Points:
        return cls(*(np.zeros(0, np.int64) for _ in range(5)))


@dataclass
class LogSplit:
    """Training rows of each user ([train_start, train_end) of the log, possibly empty) and
    validation / test prediction points, every one predicted from the history before it."""

    name: str
    train_start: np.ndarray  # [n_users]
    train_end: np.ndarray
    valid: Points
    test: Points
    targets_per_user: int
    counts: dict

    def train_sequences(self, items: np.ndarray, min_length: int = 2) -> list[np.ndarray]:
        """Each user's training items (users with fewer than min_length left out)."""
        return [
            items[a:b]
            for a, b in zip(self.train_start, self.train_end, strict=True)
            if b - a >= min_length
        ]


def _points(rows: list[tuple[int, int, int]], item: np.ndarray, time: np.ndarray) -> Points:
    if not rows:
        return Points.empty()
    u, s, e = (np.array(c, np.int64) for c in zip(*rows, strict=True))
    return Points(u, s, e, item[e], time[e])


def split_log(inter, kind: str = "leave_last_out", targets_per_user: int = 5, **kw) -> LogSplit:
    """`kind`: leave_last_out (each user's last targets are test, the ones before them
    validation) or global_time (targets after two global time cuts); see split_last /
    split_global_time."""
    if kind not in ("leave_last_out", "global_time"):
        raise ValueError(f"split must be leave_last_out or global_time, got {kind!r}")
    fn = split_last if kind == "leave_last_out" else split_global_time
    return fn(inter, targets_per_user, **kw)


def split_last(inter, targets_per_user: int = 5) -> LogSplit:
    """Chronological leave-last-out with up to `targets_per_user` test targets (each user's
    last interactions) and as many validation targets before them. A user with L
    interactions gets t = min(targets_per_user, (L - 1) // 2) of each, so at least one
    interaction stays for training; users with fewer than 3 interactions get no target and
    train on their whole sequence. Leaks across users: one user's test item may come after
    another user's (global_time avoids that)."""
    if targets_per_user < 1:
        raise ValueError(f"targets_per_user must be >= 1, got {targets_per_user}")
    bounds = inter.user_bounds()
    starts, ends = bounds[:-1], bounds[1:]
    n = ends - starts
    t = np.minimum(targets_per_user, (n - 1) // 2).clip(0)
    train_end = ends - 2 * t
    valid, test = [], []
    for u in np.flatnonzero(t > 0):
        a, b, k = int(starts[u]), int(train_end[u]), int(t[u])
        valid += [(u, a, e) for e in range(b, b + k)]
        test += [(u, a, e) for e in range(b + k, b + 2 * k)]
    counts = {
        "users": int(len(n)),
        "users_with_targets": int((t > 0).sum()),
        "users_with_fewer_targets": int(((t > 0) & (t < targets_per_user)).sum()),
        "users_without_targets": int((t == 0).sum()),
    }
    return LogSplit(
        "leave_last_out",
        starts.astype(np.int64),
        train_end.astype(np.int64),
        _points(valid, inter.item, inter.time),
        _points(test, inter.item, inter.time),
        targets_per_user,
        counts,
    )


def split_global_time(
    inter,
    targets_per_user: int = 5,
    valid_frac: float = 0.1,
    test_frac: float = 0.1,
    min_history: int = 3,
) -> LogSplit:
    """Two global cuts at the (1 - valid - test) and (1 - test) quantiles of all timestamps:
    training rows are those before the first cut; validation targets a user's first
    `targets_per_user` interactions between the cuts, test targets the first after the
    second cut, each with the user's whole history before it; users with fewer than
    `min_history` interactions before a cut get no target there."""
    if not (0 < valid_frac and 0 < test_frac and valid_frac + test_frac < 1):
        raise ValueError("valid_frac and test_frac must be > 0 and sum to < 1")
    t_valid, t_test = np.quantile(inter.time, [1 - valid_frac - test_frac, 1 - test_frac])
    bounds = inter.user_bounds()
    valid, test, train_end = [], [], []
    for u in range(len(bounds) - 1):
        a, b = int(bounds[u]), int(bounds[u + 1])
        ts = inter.time[a:b]
        cut1 = a + int((ts < t_valid).sum())
        cut2 = a + int((ts < t_test).sum())
        train_end.append(cut1)
        if cut1 - a >= min_history:
            valid += [(u, a, e) for e in range(cut1, min(cut1 + targets_per_user, cut2))]
        if cut2 - a >= min_history:
            test += [(u, a, e) for e in range(cut2, min(cut2 + targets_per_user, b))]
    counts = {
        "users": len(bounds) - 1,
        "valid_cut": float(t_valid),
        "test_cut": float(t_test),
        "users_with_valid_targets": len({r[0] for r in valid}),
        "users_with_test_targets": len({r[0] for r in test}),
    }
    return LogSplit(
        "global_time",
        bounds[:-1].astype(np.int64),
        np.array(train_end, np.int64),
        _points(valid, inter.item, inter.time),
        _points(test, inter.item, inter.time),
        targets_per_user,
        counts,
    )
