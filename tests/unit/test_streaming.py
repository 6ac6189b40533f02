"""StreamingScorer: per-event updates equal the live and batch paths; state stays bounded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _adrec_helpers import make_events, normal_windows

from adrec.data.behavior import (
    DaySplit,
    WindowSpec,
    build_windows,
    daily_totals,
    profile_from_totals,
)
from adrec.detectors.streaming import StreamingScorer
from adrec.detectors.window_detector import WindowFeatureDetector
from adrec.errors import UnknownUserError
from adrec.scoring import BehaviorScorer

CATS = ("books", "toys", "home")
SPEC = WindowSpec(CATS, "2026-01-01", window_days=4)
N_DAYS = 20


def random_events(user_id: int, seed: int, n_days: int = N_DAYS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(n_days):
        for _ in range(rng.integers(0, 4)):  # some days are inactive
            ts = pd.Timestamp(SPEC.origin) + pd.Timedelta(
                days=day, hours=int(rng.integers(0, 24)), minutes=int(rng.integers(0, 60))
            )
            cat = rng.choice([*CATS, "unknown-cat"], p=[0.3, 0.3, 0.3, 0.1])
            rows.append((user_id, str(ts), 1, cat, "view", float(rng.exponential(5.0))))
    return make_events(rows).sort_values("timestamp", kind="stable", ignore_index=True)


@pytest.fixture(scope="module")
def setting():
    events = {uid: random_events(uid, seed=uid) for uid in (1, 2, 3)}
    profiles = {
        uid: profile_from_totals(daily_totals(ev, SPEC, 0, N_DAYS // 2), SPEC)
        for uid, ev in events.items()
    }
    det = WindowFeatureDetector(base="pca", base_params={"n_components": 3})
    det.fit(normal_windows(120, SPEC.window_days, SPEC.n_features, seed=0))
    return events, profiles, det


def feed(scorer: StreamingScorer, events: pd.DataFrame) -> list:
    return [
        scorer.update(int(r.user_id), r.timestamp, r.category, r.value)
        for r in events.itertuples(index=False)
    ]


def test_every_update_equals_the_live_path(setting):
    events, profiles, det = setting
    stream = StreamingScorer(det, SPEC, profiles)
    live = BehaviorScorer(det, SPEC, profiles)
    ev = events[1]
    results = feed(stream, ev)
    known = ev["category"].isin(CATS).to_numpy()
    assert stream.ignored_events == int((~known).sum()) > 0
    for k, result in enumerate(results):
        if not known[k]:
            assert result is None
            continue
        expected = live.score(1, ev.iloc[: k + 1])
        for key in ("score", "calibrated", "threshold", "is_anomalous"):
            assert result[key] == expected[key]


def test_window_equals_the_batch_window_ending_on_that_day(setting):
    events, profiles, det = setting
    ev = events[2]
    known = ev[ev["category"].isin(CATS)]
    last_day = int(SPEC.day_index(known["timestamp"]).max())
    assert last_day >= N_DAYS // 2 + SPEC.window_days  # a test-period window, W days known
    stream = StreamingScorer(det, SPEC, profiles)
    result = [r for r in feed(stream, ev) if r is not None][-1]
    batch = build_windows(ev, SPEC, DaySplit(N_DAYS // 2, N_DAYS // 2 + 2, N_DAYS))
    row = int(np.flatnonzero(batch["end_day"] == last_day)[0])
    np.testing.assert_array_equal(batch["profile"][row], profiles[2])
    np.testing.assert_array_equal(stream.window(2), batch["window"][row])
    batch_scores = det.decision_function(batch["window"])
    np.testing.assert_allclose(result["score"], batch_scores[row], rtol=1e-12)
    np.testing.assert_allclose(
        result["calibrated"], det.calibrated(batch["window"])[row], rtol=1e-12
    )


def test_events_out_of_order_inside_the_window_give_the_same_score(setting):
    events, profiles, det = setting
    ev = events[3]
    ev = ev[ev["category"].isin(CATS)]
    last = ev[SPEC.day_index(ev["timestamp"]) >= SPEC.day_index(ev["timestamp"]).max() - 2]
    assert len(last) >= 3
    in_order = StreamingScorer(det, SPEC, profiles)
    shuffled = StreamingScorer(det, SPEC, profiles)
    feed(in_order, last)
    feed(shuffled, last.iloc[::-1])
    np.testing.assert_array_equal(in_order.window(3), shuffled.window(3))


def test_state_is_bounded_per_user_and_in_users(setting):
    events, profiles, det = setting
    stream = StreamingScorer(det, SPEC, profiles, max_users=2)
    feed(stream, events[1])
    assert stream.held_days(1) == SPEC.window_days  # 20 days seen, W kept
    feed(stream, events[2])
    feed(stream, events[3])
    assert len(stream) == 2 and 1 not in stream and 2 in stream and 3 in stream
    # An evicted user starts again: the days before the new event are unknown (zero rows).
    late = events[1].iloc[-1]
    stream.update(1, late.timestamp, "books", 1.0)
    assert 2 not in stream and stream.held_days(1) == 1
    assert not stream.window(1)[:-1].any()


def test_late_and_unknown_events_are_ignored_and_counted(setting):
    _, profiles, det = setting
    stream = StreamingScorer(det, SPEC, profiles)
    assert stream.update(1, "2026-01-10 12:00", "books", 1.0) is not None
    before = stream.window(1)
    assert stream.update(1, "2026-01-02 12:00", "books", 1.0) is None  # before the window
    assert stream.update(1, "2026-01-10 13:00", "no-such-category", 1.0) is None
    assert stream.ignored_events == 2
    np.testing.assert_array_equal(stream.window(1), before)
    with pytest.raises(UnknownUserError):
        stream.update(99, "2026-01-10 12:00", "books", 1.0)
    with pytest.raises(ValueError, match="max_users"):
        StreamingScorer(det, SPEC, profiles, max_users=0)
