"""Splits of a validated log: every target predicted from the history strictly before it,
short users with fewer targets, nothing of a target or later in a history or in training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adrec.data.interactions import build_interactions
from adrec.data.splits import split_global_time, split_last, split_log


def _log(lengths: list[int], seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = [
        (f"u{u}", int(rng.integers(1, 30)), int(t))
        for u, n in enumerate(lengths)
        for t in np.sort(rng.integers(0, 10_000, n))
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return build_interactions(frame.sample(frac=1, random_state=seed))


def test_split_last_gives_short_users_fewer_targets_and_keeps_training_rows():
    inter = _log([2, 3, 5, 12, 30])
    split = split_last(inter, targets_per_user=5)
    per_user = np.bincount(split.test.user, minlength=inter.n_users)
    # (n - 1) // 2 targets each, at most 5: 0, 1, 2, 5, 5
    assert per_user.tolist() == [0, 1, 2, 5, 5]
    assert np.array_equal(np.bincount(split.valid.user, minlength=5), per_user)
    assert split.counts["users_without_targets"] == 1
    assert split.counts["users_with_fewer_targets"] == 2
    n_train = split.train_end - split.train_start
    assert n_train.tolist() == [2, 1, 1, 2, 20]
    assert len(split.train_sequences(inter.item)) == 3  # users with 2+ training rows


def test_no_target_or_later_interaction_reaches_a_history():
    inter = _log([8, 15, 22, 40], seed=3)
    for split in (split_last(inter, 3), split_global_time(inter, 3)):
        for pts in (split.valid, split.test):
            for u, s, e, t, tt in zip(pts.user, pts.start, pts.end, pts.target, pts.time,
                                      strict=True):  # fmt: skip
                assert inter.user[s:e].tolist() == [u] * (e - s)
                assert inter.item[e] == t and inter.time[e] == tt
                assert (inter.time[s:e] <= tt).all()
        # training rows end before each user's first validation target
        for u, e in zip(split.valid.user, split.valid.end, strict=True):
            assert split.train_end[u] <= e


def test_validation_targets_come_before_test_targets_of_the_same_user():
    inter = _log([20, 20])
    split = split_last(inter, 5)
    for u in range(2):
        assert split.valid.end[split.valid.user == u].max() < split.test.end[
            split.test.user == u].min()  # fmt: skip


def test_split_log_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="leave_last_out or global_time"):
        split_log(_log([5]), "random")
    with pytest.raises(ValueError, match="targets_per_user"):
        split_last(_log([5]), 0)
