"""Candidate sources without a model, the blend rule and the blend itself."""

from __future__ import annotations

import numpy as np
import pytest

from adrec.recommender.blend import SOURCES, BlendRule, blend
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


@pytest.mark.parametrize(
    "calm, shifted",
    [
        ({"long_term": 1.0, "short_term": 0.0}, None),
        ({"long_term": 0.5, "short_term": 0.5, "emerging": 0.0, "other": 0.0}, None),
        ({"long_term": 0.5, "short_term": 0.6, "emerging": -0.1}, None),
        ({"long_term": 0.5, "short_term": 0.2, "emerging": 0.2}, None),
        (None, {"long_term": 0.5, "short_term": 0.5, "emerging": 0.5}),
    ],
)
def test_blend_rule_validation(calm, shifted):
    kwargs = {k: v for k, v in (("calm", calm), ("shifted", shifted)) if v is not None}
    with pytest.raises(ValueError, match="calm" if calm else "shifted"):
        BlendRule(**kwargs)


def test_blend_rule_endpoints_and_interpolation():
    rule = BlendRule()
    assert rule.weights(0.0) == pytest.approx(rule.calm)
    assert rule.weights(1.0) == pytest.approx(rule.shifted)
    assert rule.weights(-3.0) == pytest.approx(rule.calm)  # clipped
    assert rule.weights(7.0) == pytest.approx(rule.shifted)
    grid = [rule.weights(c) for c in np.linspace(0, 1, 21)]
    for w in grid:
        assert set(w) == set(SOURCES)
        assert sum(w.values()) == pytest.approx(1.0)
        assert all(v >= 0 for v in w.values())
    for s in SOURCES:
        series = np.array([w[s] for w in grid])
        step = np.diff(series)
        # Linear in c: monotone in the direction of shifted - calm.
        assert (step * np.sign(rule.shifted[s] - rule.calm[s]) >= -1e-12).all()
    assert rule.weights(0.5)["emerging"] == pytest.approx(0.25)


def test_blend_rule_accepts_custom_weights():
    rule = BlendRule(
        calm={"long_term": 1.0, "short_term": 0.0, "emerging": 0.0},
        shifted={"long_term": 0.0, "short_term": 0.0, "emerging": 1.0},
    )
    assert rule.weights(0.3) == pytest.approx(
        {"long_term": 0.7, "short_term": 0.0, "emerging": 0.3}
    )


# -------------------------------------------------------------------------- the blend


def _sources():
    #                         pad  1    2    3    4    5    6
    long_term = np.array([0.0, 0.4, 0.3, 0.1, 0.1, 0.1, 0.0])
    short_term = np.array([0.0, 0.0, 0.1, 0.6, 0.1, 0.1, 0.1])
    emerging = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8])
    return {"long_term": long_term, "short_term": short_term, "emerging": emerging}


def test_blend_returns_top_k_sorted_with_exact_scores():
    src = _sources()
    w = {"long_term": 0.5, "short_term": 0.3, "emerging": 0.2}
    total = sum(w[s] * src[s] for s in SOURCES)
    out = blend(src, w, k=3)
    assert [r["item_id"] for r in out] == list(np.argsort(-total[1:], kind="stable")[:3] + 1)
    scores = [r["score"] for r in out]
    assert scores == sorted(scores, reverse=True)
    for r in out:
        assert r["score"] == pytest.approx(total[r["item_id"]])


def test_blend_labels_each_item_with_its_main_source():
    src = _sources()
    w = {"long_term": 0.5, "short_term": 0.3, "emerging": 0.2}
    out = {r["item_id"]: r["source"] for r in blend(src, w, k=6)}
    assert out[1] == "long_term"  # 0.2 vs 0
    assert out[3] == "short_term"  # 0.18 vs 0.05
    assert out[6] == "emerging"  # 0.16 vs 0.03


def test_blend_excludes_items_and_padding():
    src = _sources()
    w = {"long_term": 0.8, "short_term": 0.2, "emerging": 0.0}
    out = blend(src, w, k=10, exclude=np.array([1, 3]))
    ids = [r["item_id"] for r in out]
    assert 0 not in ids and 1 not in ids and 3 not in ids
    assert sorted(ids) == [2, 4, 5, 6]  # k larger than the candidates: all that remain
    assert blend(src, w, k=10, exclude=np.array([], dtype=np.int64))[0]["item_id"] == 1


def test_blend_with_k_larger_than_the_catalogue():
    src = _sources()
    out = blend(src, BlendRule().weights(0.2), k=50)
    assert sorted(r["item_id"] for r in out) == [1, 2, 3, 4, 5, 6]
    assert blend(src, BlendRule().weights(0.2), k=1)[0]["item_id"] == 1


def test_blend_with_only_some_sources():
    src = _sources()
    out = blend({"short_term": src["short_term"]}, {"short_term": 1.0}, k=2)
    assert out[0]["item_id"] == 3 and out[1]["item_id"] in {2, 4, 5, 6}
    assert out[1]["score"] == pytest.approx(0.1)
    assert all(r["source"] == "short_term" for r in out)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_blend_rejects_non_finite_sources(bad):
    src = _sources()
    src["emerging"] = src["emerging"].copy()
    src["emerging"][4] = bad
    with pytest.raises(ValueError, match="emerging"):
        blend(src, BlendRule().weights(0.5), k=3)


# ---------------------------------------------------------------- sources on rating logs


def test_blend_rule_with_the_optional_trending_source():
    from adrec.recommender.blend import ALL_SOURCES

    rule = BlendRule(
        calm={"long_term": 0.7, "short_term": 0.3, "emerging": 0.0, "trending": 0.0},
        shifted={"long_term": 0.0, "short_term": 0.2, "emerging": 0.0, "trending": 0.8},
    )
    assert rule.sources == ALL_SOURCES
    assert rule.weights(0.5)["trending"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="same sources"):
        BlendRule(calm={"long_term": 1.0, "short_term": 0.0, "emerging": 0.0, "trending": 0.0})
    src = {**_sources(), "trending": np.array([0, 0, 0, 0, 1.0, 0, 0])}
    out = blend(src, rule.weights(1.0), k=1)
    assert out[0] == {"item_id": 4, "score": pytest.approx(0.82), "source": "trending"}


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
