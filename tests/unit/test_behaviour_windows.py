"""Behaviour windows read only the history they are given, have the widths they announce,
and carry the blocks the log supports."""

from __future__ import annotations

import numpy as np
import pytest

from adrec.detectors.behaviour import DayWindow, InteractionWindow, Signals, window_from_dict
from adrec.detectors.behaviour.windows import window_rows
from adrec.recommender.history import History

DAY = 86_400


def _signals(n_items=30, n_cat=4, actions=3, values=True, sub_day=True) -> Signals:
    flags = np.eye(n_cat)[np.arange(n_items + 1) % n_cat]
    flags[0] = 0
    return Signals.from_log(flags, actions, np.arange(5.0) if values else None,
                            np.array([1 if sub_day else 0]) * 3600)  # fmt: skip


def _history(n=40, seed=0, days=30) -> History:
    rng = np.random.default_rng(seed)
    times = np.sort(rng.integers(0, days * DAY, n))
    return History(rng.integers(1, 31, n), times, float(times[-1] + 3600),
                   rng.gamma(2.0, 10.0, n), rng.integers(0, 3, n))  # fmt: skip


WINDOWS = [
    InteractionWindow(10, 10),
    InteractionWindow(5, 3, activity_only=True),
    DayWindow(7, 10),
    DayWindow(3, 5, activity_only=True),
]


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: repr(w))
def test_windows_have_the_announced_widths_and_are_finite(window):
    sig, h = _signals(), _history()
    f, s = window.features(h, sig), window.steps(h, sig)
    assert f.shape == (window.n_features(sig),) and np.isfinite(f).all()
    assert s.shape == (window.n_steps, window.n_step_features(sig)) and np.isfinite(s).all()
    assert window_from_dict(window.to_dict()) == window


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: repr(w))
def test_a_window_never_reads_past_its_history(window):
    sig, h = _signals(), _history()
    cut = History(h.items[:30], h.times[:30], float(h.times[30]), h.values[:30], h.actions[:30])
    longer = History(h.items, h.times, h.now, h.values, h.actions)
    # the same first 30 interactions at the same time give the same window, whatever follows
    again = History(longer.items[:30], longer.times[:30], cut.now, longer.values[:30],
                    longer.actions[:30])  # fmt: skip
    np.testing.assert_array_equal(window.features(cut, sig), window.features(again, sig))


def test_blocks_follow_what_the_log_offers():
    w = InteractionWindow(10, 10)
    rich, bare = _signals(), _signals(n_cat=1, actions=0, values=False, sub_day=False)
    assert w.n_features(rich) == 4 + 3 + 1 + 4 + 4  # categories, actions, value, hours, rhythm
    assert w.n_features(bare) == 4  # rhythm only: one category carries no signal
    assert InteractionWindow(10, 10, activity_only=True).n_features(rich) == 4


def test_short_histories_have_no_window_and_are_masked():
    sig = _signals()
    short = _history(n=12)
    assert InteractionWindow(10, 10).features(short, sig) is None
    X, have = window_rows(InteractionWindow(10, 10), [short, _history()], sig, as_steps=False)
    assert have.tolist() == [False, True] and len(X) == 1


def test_a_shift_in_categories_moves_the_category_block():
    items = np.r_[np.full(20, 4), np.full(10, 1)]  # categories 0 then 1 (item % 4)
    times = np.arange(30) * 3600
    h = History(items, times, float(times[-1] + 60))
    f = InteractionWindow(10, 10, activity_only=False).features(
        h, _signals(actions=0, values=False)
    )
    assert f[1] == pytest.approx(1.0) and f[0] == pytest.approx(-1.0)


def test_day_windows_need_a_profile_before_the_window():
    sig = _signals()
    times = np.arange(30) * 3600  # everything within two days
    h = History(np.arange(1, 31), times, float(times[-1] + 60))
    assert DayWindow(7, 10).features(h, sig) is None
