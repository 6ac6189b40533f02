"""The core of `adrec bench recommend` on a tiny synthetic ratings log: the split, the
metrics, no future leak into a user's features, and the report."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from adrec.bench import recommend as bench
from adrec.recommender.behaviour_features import BehaviourWindow, genre_shares

N_ITEMS, N_GENRES = 20, 4
CFG = bench.BenchConfig(
    max_len=10, dim=8, n_layers=1, epochs=1, seeds=(0,), window=4, min_profile=4,
    detector="lstm_ae", features="auto", sequence_input="auto", n_negatives=5,
    n_bootstrap=50, grid_step=0.5, gate_epochs=20,
)  # fmt: skip


def _ratings(seed: int = 0, n_users: int = 16, per_user: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_users + 1):
        t = int(rng.integers(0, 10 * 86_400))
        for _ in range(per_user):
            t += int(rng.choice([60, 3600, 5 * 86_400]))
            rows.append((u, int(rng.integers(1, N_ITEMS + 1)), 4.0, t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def _flags() -> np.ndarray:
    flags = np.zeros((N_ITEMS + 1, N_GENRES))
    for i in range(1, N_ITEMS + 1):
        flags[i, i % N_GENRES] = 1
        flags[i, (i // 5) % N_GENRES] = 1
    return flags


def test_leave_last_out_keeps_the_log_order_of_ties():
    r = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 2, 2],
            "item_id": [5, 3, 4, 9, 1, 2],
            "timestamp": [1, 1, 2, 2, 5, 6],
        }
    )
    split = bench.leave_last_out(r)
    assert split.users.tolist() == [1] and split.n_dropped_users == 1
    np.testing.assert_array_equal(split.train[0], [5, 3])
    assert split.valid.targets[0] == 4 and split.test.targets[0] == 9
    np.testing.assert_array_equal(split.test.histories[0], [5, 3, 4])
    assert split.test.times[0] == 2
    with pytest.raises(ValueError, match="timestamp"):
        bench.leave_last_out(r.drop(columns="timestamp"))


def test_full_ranks_exclude_seen_items_and_count_ties_against_the_target():
    scores = np.array([[9.0, 0.5, 0.9, 0.5, 0.1], [0.0, 0.1, 0.2, 0.3, 0.4]])
    ranks = bench.full_ranks(scores, np.array([1, 4]), [np.array([2]), np.array([], np.int64)])
    assert ranks.tolist() == [1, 0]  # padding and seen item 2 excluded; the tie with 3 counts
    hit, ndcg = bench.hit_ndcg(np.array([0, 1, 10]), k=10)
    np.testing.assert_allclose(hit, [1, 1, 0])
    np.testing.assert_allclose(ndcg, [1, 1 / np.log2(3), 0])


def test_sampled_ranks_are_seeded_and_skip_seen_items():
    scores = np.tile(np.arange(6.0), (2, 1))
    seen = [np.array([5]), np.array([1, 2])]
    a = bench.sampled_ranks(scores, np.array([1, 3]), seen, n_negatives=3, seed=0)
    assert a.tolist() == bench.sampled_ranks(scores, np.array([1, 3]), seen, 3, 0).tolist()
    # user 0: negatives from {2, 3, 4}, all above item 1 -> rank 3; user 1: {4, 5} above 3
    assert a.tolist() == [3, 2]


def test_paired_bootstrap_and_simplex_grid():
    ci = bench.paired_bootstrap(np.ones(50), np.zeros(50), 100, 0)
    assert ci["diff"] == 1 and ci["low"] == 1 and ci["high"] == 1
    grid = bench.simplex_grid(3, 0.5)
    assert len(grid) == 6 and np.allclose(grid.sum(1), 1)


def test_a_users_test_item_never_reaches_their_features():
    ratings, flags = _ratings(), _flags()
    changed = ratings.copy()
    last = changed[changed.user_id == 3].index[-1]
    changed.loc[last, "item_id"] = changed.loc[last, "item_id"] % N_ITEMS + 1
    shares = genre_shares(flags)
    window = BehaviourWindow(CFG.window, CFG.min_profile)
    model = bench.fit_long_term(bench.leave_last_out(ratings).train, N_ITEMS, CFG, 0)
    out = []
    for r in (ratings, changed):
        split = bench.leave_last_out(r)
        det, _ = bench.fit_behaviour_detector(split, shares, window, "lstm_ae", 0)
        calibrated = det.calibrated_at(split.test, shares)
        feats = bench.user_features(split.test, calibrated, flags, window)
        counts = np.bincount(np.concatenate(split.train), minlength=N_ITEMS + 1).astype(float)
        transitions = bench.ItemTransitions().fit(split.train, N_ITEMS)
        probs = bench.source_probs(
            split.test, model, "transitions", transitions, r, shares, counts, CFG, 7.0
        )
        out.append((split.test.targets, calibrated, feats, probs))
    (t0, c0, f0, p0), (t1, c1, f1, p1) = out
    u = 2  # user 3
    assert t0[u] != t1[u]
    assert c0[u] == c1[u]
    np.testing.assert_array_equal(f0[u], f1[u])
    np.testing.assert_array_equal(p0[:, u], p1[:, u])


@pytest.mark.parametrize("split", ["leave_last_out", "global_time"])
def test_bench_writes_a_report(tmp_path, split):
    logs = []
    cfg = dataclasses.replace(CFG, split=split)
    report = bench.run_bench(_ratings(), _flags(), cfg, log=logs.append)
    json_path, md_path = bench.write_report(report, tmp_path)
    loaded = json.loads(json_path.read_text())
    res = loaded["seeds"]["0"]
    variants = {r["variant"] for r in res["table"]}
    assert variants == {
        "long_term only", "short_term only", "best fixed blend", "anomaly-aware rule",
        "learned gate", "learned gate, no anomaly score",
    }  # fmt: skip
    for row in res["table"]:
        assert 0 <= row["full_ndcg@10"] <= row["sampled100_ndcg@10"] + 1e-9 or row["n"] == 0
    assert {c["users"] for c in res["ci_ndcg@10"]} == {"all", "shifting", "rest"}
    assert sum(m["n"] for m in res["ndcg@10_by_month"]) == loaded["data"]["n_test_targets"]
    assert loaded["split"] == split
    assert res["detector"]["chosen"]["name"] == "lstm_ae"
    assert set(res["rule"]["calm"]) == set(bench.SOURCE_NAMES)
    assert "| anomaly-aware rule | shifting |" in md_path.read_text()
    assert {c["users"] for c in loaded["pooled_ci_ndcg@10"]} <= {"all", "shifting", "rest"}
    assert "_per_user" not in res and loaded["wall_seconds"] > 0 and logs


def test_genre_flags_from_an_items_frame():
    items = pd.DataFrame({"item_id": [1, 3], "genres": [("A", "B"), ()]})
    flags = bench.genre_flags(items, ("A", "B", "C"))
    np.testing.assert_array_equal(flags, [[0, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 0]])


def test_movielens_100k_layout_is_read_in_time_order(tmp_path):
    (tmp_path / "u.data").write_text("2\t1\t3\t50\n1\t2\t4\t20\n1\t1\t5\t10\n1\t3\t2\t10\n")
    (tmp_path / "u.genre").write_text("A|0\nB|1\n\n")
    (tmp_path / "u.item").write_text("1|X|d||u|1|0\n2|Y|d||u|1|1\n3|Z|d||u|0|0\n")
    ratings, items, genres = bench._read_ml100k(tmp_path)
    assert genres == ("A", "B")
    assert ratings["item_id"].tolist() == [1, 3, 2, 1]  # user 1 by time, the tie in file order
    assert items["genres"].tolist() == [("A",), ("A", "B"), ()]
    with pytest.raises(ValueError, match="u.data"):
        bench._read_ml100k(tmp_path / "missing")


def test_global_time_split_keeps_histories_before_each_cut():
    # timestamps 0..9 for user 1, 5..14 for user 2; cuts at the 0.8 / 0.9 quantiles of all
    r = pd.DataFrame(
        {
            "user_id": [1] * 10 + [2] * 10,
            "item_id": list(range(1, 11)) + list(range(11, 21)),
            "timestamp": list(range(10)) + list(range(5, 15)),
        }
    )
    split = bench.global_time_split(r, valid_frac=0.1, test_frac=0.1)
    t_valid, t_test = np.quantile(r["timestamp"], [0.8, 0.9])
    assert split.name == "global_time"
    for points, cut in ((split.valid, t_valid), (split.test, t_test)):
        for h_t, t in zip(points.history_times, points.times, strict=True):
            assert (h_t < cut).all() and t >= cut
    for seq_t in split.train_times:
        assert (seq_t < t_valid).all()
    assert split.test.users.tolist() == [2]  # user 1 has nothing after the second cut
    with pytest.raises(ValueError, match="sum to"):
        bench.global_time_split(r, 0.5, 0.5)
