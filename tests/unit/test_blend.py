"""Candidate sources without a model, the blend rule and the blend itself."""

from __future__ import annotations

import numpy as np
import pytest

from adrec.recommender.blend import BlendRule, rank_items
from adrec.recommender.sources import (
    category_popularity_scores,
    emerging_categories,
    within_category_popularity,
)

# ---------------------------------------------------------------------------- sources


def test_emerging_categories_is_zero_when_nothing_grew():
    profile = np.array([0.5, 0.3, 0.2])
    np.testing.assert_array_equal(emerging_categories(np.array([5.0, 3.0, 2.0]), profile), 0)
    np.testing.assert_array_equal(emerging_categories(np.zeros(3), profile), 0)


def test_emerging_categories_normalises_growth():
    profile = np.array([0.6, 0.3, 0.1, 0.0])
    out = emerging_categories(np.array([2.0, 2.0, 4.0, 2.0]), profile)
    # recent shares 0.2, 0.2, 0.4, 0.2 -> growth 0, 0, 0.3, 0.2
    np.testing.assert_allclose(out, [0, 0, 0.6, 0.4])
    assert out.sum() == pytest.approx(1.0)


def test_within_category_popularity():
    item_category = np.array([-1, 0, 0, 1, 1, 1])
    counts = np.array([7, 3, 1, 0, 0, 2])
    pop = within_category_popularity(item_category, counts)
    assert pop[0] == 0  # padding
    np.testing.assert_allclose(pop[1:3], [4 / 6, 2 / 6])  # add-one smoothing
    np.testing.assert_allclose(pop[3:], [1 / 5, 1 / 5, 3 / 5])
    for c in (0, 1):
        assert pop[item_category == c].sum() == pytest.approx(1.0)


def test_category_popularity_scores_is_a_distribution():
    item_category = np.array([-1, 0, 0, 1, 1, 2])
    popularity = within_category_popularity(item_category, np.array([0, 5, 1, 2, 2, 9]))
    weights = np.array([0.25, 0.75, 0.0])
    scores = category_popularity_scores(weights, item_category, popularity)
    assert scores.sum() == pytest.approx(1.0)
    assert scores[0] == 0 and scores[5] == 0  # padding; a category of weight 0
    assert scores[1] > scores[2]  # more popular within its category
    assert scores[3:5].sum() == pytest.approx(0.75)
    zero = category_popularity_scores(np.zeros(3), item_category, popularity)
    np.testing.assert_array_equal(zero, 0)


# -------------------------------------------------------------------------- the rule
SOURCES = ("long_term", "short_term", "emerging")


@pytest.mark.parametrize(
    "calm, shifted, what",
    [
        ({"long_term": 0.5, "other": 0.5}, {"long_term": 1.0}, "other"),
        ({"long_term": 0.5, "short_term": 0.6, "emerging": -0.1}, {"long_term": 1.0}, "calm"),
        ({"long_term": 0.5, "short_term": 0.2}, {"long_term": 1.0}, "calm"),
        ({"long_term": 1.0}, {"long_term": 0.5, "short_term": 0.5, "emerging": 0.5}, "shifted"),
    ],
)
def test_blend_rule_validation(calm, shifted, what):
    with pytest.raises(ValueError, match=what):
        BlendRule.from_named(SOURCES, calm, shifted)


def test_blend_rule_endpoints_and_interpolation():
    rule = BlendRule.from_named(
        SOURCES,
        {"long_term": 0.8, "short_term": 0.2},
        {"long_term": 0.1, "short_term": 0.4, "emerging": 0.5},
    )
    np.testing.assert_allclose(rule.weights(0.0)[0], rule.calm)
    np.testing.assert_allclose(rule.weights(1.0)[0], rule.shifted)
    np.testing.assert_allclose(rule.weights(-3.0)[0], rule.calm)  # clipped
    np.testing.assert_allclose(rule.weights(7.0)[0], rule.shifted)
    grid = rule.weights(np.linspace(0, 1, 21))
    np.testing.assert_allclose(grid.sum(1), 1.0, rtol=1e-12)
    assert (grid >= 0).all()
    # linear in c: monotone in the direction of shifted - calm
    assert (np.diff(grid, axis=0) * np.sign(rule.shifted - rule.calm) >= -1e-12).all()
    assert rule.weights(0.5)[0, 2] == pytest.approx(0.25)
    assert rule.named()["calm"] == {"long_term": 0.8, "short_term": 0.2, "emerging": 0.0}


# ---------------------------------------------------------------------- ranking the blend


def _probs():
    #                   pad  1    2    3    4    5    6
    return np.array([[[0.0, 0.4, 0.3, 0.1, 0.1, 0.1, 0.0]],
                     [[0.0, 0.0, 0.1, 0.6, 0.1, 0.1, 0.1]],
                     [[0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8]]])  # fmt: skip


W = np.array([[0.5, 0.3, 0.2]])
NONE = [np.zeros(0, np.int64)]


def test_rank_returns_top_k_sorted_with_exact_scores():
    total = np.tensordot(W[0], _probs()[:, 0], axes=1)
    top, scores, _ = rank_items(_probs(), W, NONE, 3, SOURCES)[0]
    assert top.tolist() == list(np.argsort(-total[1:], kind="stable")[:3] + 1)
    assert (np.diff(scores) <= 0).all()
    np.testing.assert_allclose(scores, total[top])


def test_rank_labels_each_item_with_its_main_source():
    top, _, src = rank_items(_probs(), W, NONE, 6, SOURCES)[0]
    by_item = dict(zip(top.tolist(), src.tolist(), strict=True))
    assert by_item[1] == 0  # long_term: 0.2 vs 0
    assert by_item[3] == 1  # short_term: 0.18 vs 0.05
    assert by_item[6] == 2  # emerging: 0.16 vs 0.03


def test_rank_excludes_seen_items_and_padding_and_caps_k():
    top, _, _ = rank_items(_probs(), W, [np.array([1, 3])], 10, SOURCES)[0]
    assert sorted(top.tolist()) == [2, 4, 5, 6]
    top, _, _ = rank_items(_probs(), W, NONE, 50, SOURCES)[0]
    assert sorted(top.tolist()) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_rank_rejects_non_finite_sources(bad):
    probs = _probs().copy()
    probs[2, 0, 4] = bad
    with pytest.raises(ValueError, match="emerging"):
        rank_items(probs, W, NONE, 3, SOURCES)


# ---------------------------------------------------------------- sources on rating logs


def test_item_transitions_follow_the_sequences():
    from adrec.recommender.sources import ItemTransitions

    model = ItemTransitions(reach=1, last=1).fit([np.array([1, 2, 3]), np.array([1, 2])], 4)
    scores = model.scores([np.array([3, 1]), np.array([4])])
    np.testing.assert_allclose(scores[0], [0, 0, 1, 0, 0])  # after 1 always came 2
    np.testing.assert_allclose(scores[1], 0)  # nothing ever followed 4
    decayed = ItemTransitions(reach=1, decay=0.5, last=2).fit([np.array([1, 2, 3])], 3)
    np.testing.assert_allclose(decayed.scores([np.array([1, 2])])[0], [0, 0, 1 / 3, 2 / 3])
    with pytest.raises(ValueError, match="outside"):
        ItemTransitions().fit([np.array([1, 9])], 4)


def test_trending_counts_only_the_window_before_each_time():
    from adrec.recommender.sources import trending

    items = np.array([1, 1, 2, 3, 3, 3])
    ts = np.array([0, 5, 6, 10, 10, 20])
    out = trending(items, ts, at=np.array([10, 100]), window_s=10, n_items=3)
    # [0, 10): items 1, 1, 2 (the three 3s at time 10 and 20 are not before 10)
    np.testing.assert_allclose(out[0], np.array([0, 3, 2, 1]) / 6)
    np.testing.assert_allclose(out[1], np.array([0, 1, 1, 1]) / 3)  # nothing in [90, 100)


def test_the_trending_source_caches_windows_without_sharing_its_rows():
    from adrec.recommender.sources import Trending, trending

    items = np.array([3, 1, 1, 2, 3, 3])
    ts = np.array([10, 0, 5, 6, 10, 20])
    source = Trending(items, ts, n_items=3, window_days=10 / 86_400)
    at = np.array([10, 100, 10, 21, 10])
    first = source.scores(at)
    np.testing.assert_array_equal(first, trending(items, ts, at, window_s=10, n_items=3))
    assert len(source._cache) == 3  # one entry per distinct slice of the log
    first[:] = -1.0  # the caller's copy, not the cache
    np.testing.assert_array_equal(source.scores(at), trending(items, ts, at, 10, 3))


def test_genre_popularity_scores_mix_genres_by_weight():
    from adrec.recommender.sources import genre_popularity_scores

    shares = np.array([[0, 0], [1, 0], [0.5, 0.5], [0, 1]])
    counts = np.array([0, 3, 1, 0])
    out = genre_popularity_scores(np.array([[1.0, 0.0], [0.0, 0.0]]), shares, counts)
    # genre 0 mass: item 1: 4 * 1, item 2: 2 * 0.5 -> 0.8, 0.2
    np.testing.assert_allclose(out[0], [0, 0.8, 0.2, 0])
    np.testing.assert_allclose(out[1], 0)
    with pytest.raises(ValueError, match="disagree"):
        genre_popularity_scores(np.ones((1, 3)), shares, counts)
