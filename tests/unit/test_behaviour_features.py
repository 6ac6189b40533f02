"""Behaviour windows on rating logs: genre-share deviations from the user's own profile and
the rhythm of ratings, from the past only."""

from __future__ import annotations

import numpy as np
import pytest

from adrec.recommender.behaviour_features import BehaviourWindow, genre_shares, training_windows

HOUR, DAY = 3600.0, 86_400.0
# Items 1-2: genre 0; item 3: genres 0 and 1; item 4: genre 2.
FLAGS = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=float)
SHARES = genre_shares(FLAGS)


def test_genre_shares_split_one_unit_among_genres():
    np.testing.assert_allclose(SHARES[3], [0.5, 0.5, 0])
    np.testing.assert_allclose(SHARES[1:].sum(1), 1.0)
    assert SHARES[0].sum() == 0  # padding
    with pytest.raises(ValueError, match="2-D"):
        genre_shares(np.ones(3))


def test_features_are_deviations_from_the_users_own_profile():
    window = BehaviourWindow(size=2, min_profile=2)
    items = np.array([1, 2, 3, 4])  # profile: 1, 2 (all genre 0); window: 3, 4
    ts = np.array([0, HOUR, 2 * HOUR, 4 * HOUR])
    f = window.features(items, ts, SHARES, now=4 * HOUR + 2 * DAY)
    assert f.shape == (window.n_features(3),)
    # window shares: (0.5 + 0, 0.5 + 0, 0 + 1) / 2 = 0.25, 0.25, 0.5; profile: 1, 0, 0
    np.testing.assert_allclose(f[:3], [-0.75, 0.25, 0.5])
    assert f[3] == pytest.approx(np.log1p(2.0))  # median gap in the window: 2 hours
    assert f[4] == pytest.approx(np.log1p(1.0))  # profile's median gap: 1 hour
    assert f[5] == pytest.approx(np.log1p(2.0))  # idle at prediction time: 2 days
    assert f[6] == pytest.approx(np.log1p(48.0) - np.log1p(1.0))  # against the usual gap


def test_same_taste_and_rhythm_gives_zero_genre_deviation():
    window = BehaviourWindow(size=2, min_profile=2)
    f = window.features([1, 2, 1, 2], [0, 10, 20, 30], SHARES, now=40)
    np.testing.assert_allclose(f[:3], 0.0)


def test_short_history_has_no_window_and_future_times_are_refused():
    window = BehaviourWindow(size=2, min_profile=2)
    assert window.features([1, 2, 3], [0, 1, 2], SHARES, now=3) is None
    assert window.steps([1, 2, 3], [0, 1, 2], SHARES, now=3) is None
    with pytest.raises(ValueError, match="before the last interaction"):
        window.features([1, 2, 3, 4], [0, 1, 2, 9], SHARES, now=5)
    with pytest.raises(ValueError, match="same length"):
        window.features([1, 2, 3, 4], [0, 1, 2], SHARES, now=5)
    with pytest.raises(ValueError, match="size"):
        BehaviourWindow(size=1)


def test_steps_end_with_the_idle_time_at_prediction():
    window = BehaviourWindow(size=2, min_profile=2)
    steps = window.steps([1, 2, 3, 4], [0, HOUR, 2 * HOUR, 5 * HOUR], SHARES, now=7 * HOUR)
    assert steps.shape == (2, window.n_step_features(3))
    np.testing.assert_allclose(steps[:, -1], np.log1p([3.0, 2.0]))  # hours until next / now
    np.testing.assert_allclose(steps[0, :3], [-0.5, 0.5, 0])


def test_activity_only_leaves_out_genres():
    window = BehaviourWindow(size=2, min_profile=2, activity_only=True)
    full = BehaviourWindow(size=2, min_profile=2)
    args = ([1, 2, 3, 4], [0, 10, 20, 30], SHARES)
    np.testing.assert_allclose(window.features(*args, now=50), full.features(*args, now=50)[3:])
    assert window.steps(*args, now=50).shape == (2, 1)


def test_training_windows_see_only_their_past():
    window = BehaviourWindow(size=2, min_profile=2)
    items = np.array([1, 2, 3, 4, 1, 2, 4])
    ts = np.arange(7) * HOUR
    wins = training_windows(items, ts, SHARES, window, stride=1)
    assert wins.shape == (3, window.n_features(3))  # prediction at positions 4, 5, 6
    changed = items.copy()
    changed[-1] = 3  # the last item is never inside a window
    np.testing.assert_array_equal(training_windows(changed, ts, SHARES, window, 1), wins)
    seq = training_windows(items, ts, SHARES, window, stride=2, as_steps=True)
    assert seq.shape == (2, 2, 4)
    assert training_windows(items[:3], ts[:3], SHARES, window, 1).shape == (0, 7)


def test_new_genre_share():
    window = BehaviourWindow(size=2, min_profile=2)
    # profile 1, 2: genre 0 only; window 3, 4: genre mentions 0, 1, 2 -> two of three new
    assert window.new_genre_share([1, 2, 3, 4], FLAGS) == pytest.approx(2 / 3)
    assert window.new_genre_share([1, 2, 1, 2], FLAGS) == 0.0
    assert window.new_genre_share([1, 2], FLAGS) == 0.0
