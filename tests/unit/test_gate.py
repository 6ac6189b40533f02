"""The learned source gate: softmax weights over sources from user features."""

from __future__ import annotations

import numpy as np
import pytest

from adrec.recommender.gate import SourceGate


def _data(n=200, seed=0):
    """Source 0 predicts the next item when x > 0, source 1 when x < 0; the second feature is
    noise."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n)])
    right = np.where(X[:, 0] > 0, 0, 1)
    P = np.full((n, 2), 0.01)
    P[np.arange(n), right] = 0.9
    return X, P


def test_gate_learns_which_source_to_trust():
    X, P = _data()
    gate = SourceGate(("a", "b"), epochs=200).fit(X, P)
    W = gate.weights(np.array([[2.0, 0.0], [-2.0, 0.0]]))
    np.testing.assert_allclose(W.sum(1), 1.0, rtol=1e-6)  # float32 weights
    assert W[0, 0] > 0.8 and W[1, 1] > 0.8


def test_gate_without_the_informative_feature_cannot_tell():
    X, P = _data()
    gate = SourceGate(("a", "b"), epochs=200).fit(X[:, 1:], P)
    W = gate.weights(np.array([[2.0], [-2.0]]))
    assert np.abs(W - 0.5).max() < 0.2


def test_gate_is_seeded_and_has_a_hidden_variant():
    X, P = _data(n=60)
    a = SourceGate(("a", "b"), hidden=4, epochs=30, seed=3).fit(X, P).weights(X)
    b = SourceGate(("a", "b"), hidden=4, epochs=30, seed=3).fit(X, P).weights(X)
    np.testing.assert_array_equal(a, b)


def test_gate_input_checks():
    X, P = _data(n=10)
    gate = SourceGate(("a", "b"), epochs=2)
    with pytest.raises(RuntimeError, match="not fitted"):
        gate.weights(X)
    with pytest.raises(ValueError, match="target_probs"):
        gate.fit(X, P[:, :1])
    with pytest.raises(ValueError, match="NaN"):
        gate.fit(np.full_like(X, np.nan), P)
    gate.fit(X, P)
    with pytest.raises(ValueError, match="expects 2"):
        gate.weights(X[:, :1])
