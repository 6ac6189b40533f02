"""Chronological splits: one target per user, and nothing at or after a target in the
history, the training sequences or (for the global split) before the wrong cut."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adrec.data.splits import global_time_split, leave_last_out


def _random_ratings(seed: int = 0, n_users: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (u, int(rng.integers(1, 50)), int(t))
        for u in range(1, n_users + 1)
        for t in rng.integers(0, 1_000, size=int(rng.integers(1, 15)))
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).sample(
        frac=1, random_state=seed
    )


def test_leave_last_out_keeps_the_log_order_of_ties():
    r = pd.DataFrame(
        {"user_id": [1, 1, 1, 1, 2, 2], "item_id": [5, 3, 4, 9, 1, 2],
         "timestamp": [1, 1, 2, 2, 5, 6]}
    )  # fmt: skip
    split = leave_last_out(r)
    assert split.users.tolist() == [1] and split.n_dropped_users == 1
    np.testing.assert_array_equal(split.train[0], [5, 3])
    assert split.valid.targets[0] == 4 and split.test.targets[0] == 9
    np.testing.assert_array_equal(split.test.histories[0], [5, 3, 4])
    assert split.test.times[0] == 2
    with pytest.raises(ValueError, match="timestamp"):
        leave_last_out(r.drop(columns="timestamp"))


def test_leave_last_out_never_puts_a_target_or_later_item_in_a_history():
    r = _random_ratings()
    split = leave_last_out(r)
    for u, train, train_t in zip(split.users, split.train, split.train_times, strict=True):
        own = r[r.user_id == u]
        assert len(train) == len(own) - 2
        v = split.valid.users.tolist().index(u)
        t = split.test.users.tolist().index(u)
        # training history ends no later than the validation target, which precedes the test
        assert (train_t <= split.valid.times[v]).all()
        assert split.valid.times[v] <= split.test.times[t]
        np.testing.assert_array_equal(split.valid.histories[v], train)
        np.testing.assert_array_equal(split.test.histories[t][:-1], train)
        assert split.test.histories[t][-1] == split.valid.targets[v]


def test_global_time_split_keeps_histories_before_each_cut():
    # timestamps 0..9 for user 1, 5..14 for user 2; cuts at the 0.8 / 0.9 quantiles of all
    r = pd.DataFrame(
        {
            "user_id": [1] * 10 + [2] * 10,
            "item_id": list(range(1, 11)) + list(range(11, 21)),
            "timestamp": list(range(10)) + list(range(5, 15)),
        }
    )
    split = global_time_split(r, valid_frac=0.1, test_frac=0.1)
    t_valid, t_test = np.quantile(r["timestamp"], [0.8, 0.9])
    assert split.name == "global_time"
    for points, cut in ((split.valid, t_valid), (split.test, t_test)):
        for h_t, t in zip(points.history_times, points.times, strict=True):
            assert (h_t < cut).all() and t >= cut
    for seq_t in split.train_times:
        assert (seq_t < t_valid).all()
    assert split.test.users.tolist() == [2]  # user 1 has nothing after the second cut
    with pytest.raises(ValueError, match="sum to"):
        global_time_split(r, 0.5, 0.5)


def test_global_time_split_training_ends_before_every_validation_target():
    r = _random_ratings(1, n_users=30)
    split = global_time_split(r, 0.2, 0.2, min_history=1)
    first_valid = split.valid.times.min()
    assert all((t < first_valid).all() for t in split.train_times)
    for h, ht, t in zip(split.test.histories, split.test.history_times, split.test.times,
                        strict=True):  # fmt: skip
        assert len(h) == len(ht) and (ht <= t).all()


@pytest.mark.parametrize("n_targets", [2, 4])
def test_leave_last_out_with_several_targets_rolls_forward_without_leaks(n_targets):
    r = _random_ratings(2, n_users=20)
    split = leave_last_out(r, n_targets=n_targets)
    kept = r.groupby("user_id").size()
    assert split.n_dropped_users == int((kept < 2 * n_targets + 1).sum())
    for points in (split.valid, split.test):
        assert len(points.targets) == n_targets * len(split.users)
    for u, train, train_t in zip(split.users, split.train, split.train_times, strict=True):
        seq = train
        assert len(train) == kept[u] - 2 * n_targets
        own_valid = np.flatnonzero(split.valid.users == u)
        own_test = np.flatnonzero(split.test.users == u)
        # each target's history is the training sequence plus every earlier target, no more
        for j, i in enumerate(own_valid):
            np.testing.assert_array_equal(split.valid.histories[i][: len(seq)], seq)
            assert len(split.valid.histories[i]) == len(train) + j
            assert (split.valid.history_times[i] <= split.valid.times[i]).all()
        last_valid = own_valid[-1]
        full = np.append(split.valid.histories[last_valid], split.valid.targets[last_valid])
        np.testing.assert_array_equal(split.test.histories[own_test[0]], full)
        for a, b in zip(own_test[:-1], own_test[1:], strict=True):
            np.testing.assert_array_equal(
                split.test.histories[b], np.append(split.test.histories[a], split.test.targets[a])
            )
        assert (train_t <= split.valid.times[own_valid[0]]).all()
    with pytest.raises(ValueError, match="n_targets"):
        leave_last_out(r, n_targets=0)


def test_leave_last_out_with_one_target_is_the_classic_split():
    r = _random_ratings(3)
    one, default = leave_last_out(r, n_targets=1), leave_last_out(r)
    np.testing.assert_array_equal(one.test.targets, default.test.targets)
    assert len(one.test.targets) == len(one.users)


def test_global_time_split_takes_up_to_n_targets_after_each_cut():
    r = _random_ratings(4, n_users=30)
    split = global_time_split(r, 0.2, 0.2, min_history=1, n_targets=3)
    t_valid, t_test = np.quantile(r["timestamp"], [0.6, 0.8])
    counts = np.bincount(split.test.users)
    assert counts.max() <= 3 and (counts > 1).any()
    for h_t, t in zip(split.valid.history_times, split.valid.times, strict=True):
        assert t_valid <= t < t_test and (h_t <= t).all()
    for h_t, t in zip(split.test.history_times, split.test.times, strict=True):
        assert t >= t_test and (h_t <= t).all()
    single = global_time_split(r, 0.2, 0.2, min_history=1)
    first = [np.flatnonzero(split.test.users == u)[0] for u in single.test.users]
    np.testing.assert_array_equal(split.test.targets[first], single.test.targets)
