"""Blend tuning on validation targets: the fast ranker agrees with the plain full ranking, and
the rule's shortcut (only points with a signal are re-ranked) agrees with ranking them all."""

from __future__ import annotations

import numpy as np
import pytest

from adrec.recommender.tuning import (
    ValidationRanker,
    mixed,
    ndcg_per_point,
    rule_weights,
    simplex_grid,
    tune_fixed,
    tune_rule,
)


def _case(seed=0, n=60, items=40, sources=3):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(items + 1), size=(sources, n))
    probs[:, :, 0] = 0.0
    probs[1, :, 5] = probs[1, :, 6]  # ties
    seen = [rng.choice(np.arange(1, items + 1), size=rng.integers(0, 6), replace=False)
            for _ in range(n)]  # fmt: skip
    targets = np.array([rng.choice(np.setdiff1d(np.arange(1, items + 1), s)) for s in seen])
    return probs, targets, seen


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_ranker_agrees_with_full_ranking(seed):
    probs, targets, seen = _case(seed)
    ranker = ValidationRanker(probs, targets, seen, 10)
    rng = np.random.default_rng(seed)
    for w in (np.array([1.0, 0, 0]), np.array([0.2, 0.5, 0.3]), rng.dirichlet(np.ones(3), 60)):
        expected = ndcg_per_point(mixed(probs, w), targets, seen, 10)
        np.testing.assert_allclose(ranker.ndcg(w), expected, atol=1e-9)


def test_tune_rule_equals_ranking_every_point():
    probs, targets, seen = _case(3)
    ranker = ValidationRanker(probs, targets, seen, 10)
    calm, _ = tune_fixed(ranker, 0.25)
    c = np.where(np.arange(60) % 3 == 0, 0.9, 0.0)
    shifted, val = tune_rule(ranker, c, calm, 0.25)
    brute = {tuple(w): ranker.ndcg(rule_weights(c, calm, w)).mean()
             for w in simplex_grid(3, 0.25)}  # fmt: skip
    assert val == pytest.approx(max(brute.values()), abs=1e-12)
    assert brute[tuple(shifted)] == pytest.approx(val, abs=1e-12)
    # no signal anywhere: the rule is the calm blend
    same, v0 = tune_rule(ranker, np.zeros(60), calm, 0.25)
    np.testing.assert_array_equal(same, calm)
    assert v0 == pytest.approx(ranker.ndcg(calm).mean())
