"""Full-ranking and sampled ranks, HR / NDCG, and the paired and cluster bootstraps."""

from __future__ import annotations

import numpy as np
import pytest

from adrec.metrics import cluster_bootstrap, full_ranks, hit_ndcg, paired_bootstrap, sampled_ranks


def test_full_ranks_exclude_seen_items_and_count_ties_against_the_target():
    scores = np.array([[9.0, 0.5, 0.9, 0.5, 0.1], [0.0, 0.1, 0.2, 0.3, 0.4]])
    ranks = full_ranks(scores, np.array([1, 4]), [np.array([2]), np.array([], np.int64)])
    assert ranks.tolist() == [1, 0]  # padding and seen item 2 excluded; the tie with 3 counts
    kept = full_ranks(scores, np.array([1, 4]), [np.zeros(0, np.int64)] * 2)
    assert kept.tolist() == [2, 0]  # seen item 2 now outranks the target
    assert scores[0, 2] == 0.9  # the caller's scores are not modified
    with pytest.raises(ValueError, match="one row per user"):
        full_ranks(scores, np.array([1]), [np.array([2])] * 2)


def test_hit_and_ndcg_at_k():
    hit, ndcg = hit_ndcg(np.array([0, 1, 10]), k=10)
    np.testing.assert_allclose(hit, [1, 1, 0])
    np.testing.assert_allclose(ndcg, [1, 1 / np.log2(3), 0])


def test_sampled_ranks_are_seeded_and_skip_seen_items():
    scores = np.tile(np.arange(6.0), (2, 1))
    seen = [np.array([5]), np.array([1, 2])]
    a = sampled_ranks(scores, np.array([1, 3]), seen, n_negatives=3, seed=0)
    assert a.tolist() == sampled_ranks(scores, np.array([1, 3]), seen, 3, 0).tolist()
    # user 0: negatives from {2, 3, 4}, all above item 1 -> rank 3; user 1: {4, 5} above 3
    assert a.tolist() == [3, 2]


def test_paired_bootstrap_interval_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    ci = paired_bootstrap(np.ones(50), np.zeros(50), 100, 0)
    assert ci["diff"] == 1 and ci["low"] == 1 and ci["high"] == 1 and ci["n"] == 50
    small = paired_bootstrap(rng.normal(0.1, 1, 40), np.zeros(40), 500, 0)
    big = paired_bootstrap(rng.normal(0.1, 1, 4000), np.zeros(4000), 500, 0)
    assert small["low"] <= small["diff"] <= small["high"]
    assert big["high"] - big["low"] < small["high"] - small["low"]
    assert paired_bootstrap(np.zeros(0), np.zeros(0), 10, 0)["n"] == 0


def test_cluster_bootstrap_resamples_users_not_cells():
    rng = np.random.default_rng(1)
    user_effect = rng.normal(0, 1, 60)
    d = np.stack([user_effect] * 5)  # five identical repeats add no evidence
    mask = np.ones_like(d, bool)
    pooled = cluster_bootstrap(d, mask, 500, 0)
    single = cluster_bootstrap(d[:1], mask[:1], 500, 0)
    assert pooled["n"] == 300 and pooled["diff"] == pytest.approx(user_effect.mean())
    assert pooled["n_users"] == 60 and single["n_users"] == 60
    assert pooled["high"] - pooled["low"] == pytest.approx(single["high"] - single["low"])
    masked = cluster_bootstrap(d, d > 0, 200, 0)
    assert masked["low"] > 0
    assert masked["n_users"] == int((user_effect > 0).sum())
    assert masked["diff"] == pytest.approx(user_effect[user_effect > 0].mean())
    with pytest.raises(ValueError, match="repeats, users"):
        cluster_bootstrap(d, mask[:, :3], 10, 0)


def test_cluster_bootstrap_keeps_a_users_several_targets_together():
    rng = np.random.default_rng(2)
    user_effect = rng.normal(0, 1, 40)
    users = np.repeat(np.arange(40), 4)  # four targets per user, all with the user's effect
    d, mask = user_effect[users][None], np.ones((1, 160), bool)
    by_user = cluster_bootstrap(d, mask, 500, 0, clusters=users)
    one_each = cluster_bootstrap(user_effect[None], mask[:, :40], 500, 0)
    naive = cluster_bootstrap(d, mask, 500, 0)  # as if the 160 targets were independent
    assert by_user["n"] == 160 and by_user["n_users"] == 40
    assert by_user["diff"] == pytest.approx(user_effect.mean())
    width = by_user["high"] - by_user["low"]
    assert width == pytest.approx(one_each["high"] - one_each["low"], rel=0.25)
    assert width > 1.5 * (naive["high"] - naive["low"])
    with pytest.raises(ValueError, match="one user per column"):
        cluster_bootstrap(d, mask, 10, 0, clusters=users[:5])
