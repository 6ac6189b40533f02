"""Day windows of the life-event simulator's logs (the detector benchmark's behaviour part):
daily totals, profiles, deviations, windows, splits and labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _adrec_helpers import make_events

from adrec.data.life_event_windows import (
    TIME_BUCKETS,
    DaySplit,
    WindowSpec,
    build_windows,
    daily_totals,
    deviations,
    label_windows,
    live_window,
    profile_from_totals,
    sliding_windows,
    user_windows,
)

CATS = ("books", "toys", "home")
SPEC3 = WindowSpec(CATS, "2026-01-01", window_days=3)
SPEC7 = WindowSpec(CATS, "2026-01-01", window_days=7)
# Column layout: 3 categories, 4 time buckets, count, spend.
C, B = len(CATS), len(TIME_BUCKETS)
COUNT, SPEND = C + B, C + B + 1


def _day(d: int, hour: int = 10, minute: int = 0) -> str:
    return str(pd.Timestamp("2026-01-01") + pd.Timedelta(days=d, hours=hour, minutes=minute))


def _sample_events() -> pd.DataFrame:
    return make_events(
        [
            (1, _day(0, 1), 1, "books", "view", 0.0),
            (1, _day(0, 13), 2, "toys", "purchase", 10.0),
            (1, _day(2, 23, 59), 3, "books", "view", 0.0),
            (1, _day(2, 7), 4, "zzz-unknown", "view", 0.0),  # unknown category: ignored
            (1, _day(5, 9), 5, "home", "purchase", 99.0),  # after the range: ignored
            (1, _day(-1, 23), 6, "home", "view", 0.0),  # before the range: ignored
        ]
    )


def test_spec_sizes_and_round_trip():
    assert SPEC3.n_features == 3 + 4 + 2
    d = SPEC3.to_dict()
    assert d["categories"] == list(CATS)
    assert WindowSpec.from_dict(json.loads(json.dumps(d))) == SPEC3


def test_day_index_counts_whole_days_from_origin():
    ts = pd.Series(
        pd.to_datetime(
            [
                "2026-01-01 00:00:00",
                "2026-01-01 23:59:59",
                "2026-01-03 00:00:00",
                "2025-12-31 23:00:00",
            ]
        )
    )
    assert list(SPEC3.day_index(ts)) == [0, 0, 2, -1]


def test_daily_totals_counts_by_category_bucket_and_day():
    out = daily_totals(_sample_events(), SPEC3, 0, 4)
    assert out.shape == (4, SPEC3.n_features)
    expected = np.zeros((4, 9))
    expected[0, [0, 1]] = 1  # books, toys
    expected[0, C + 0] = 1  # 01:00 -> night
    expected[0, C + 2] = 1  # 13:00 -> afternoon
    expected[0, COUNT] = 2
    expected[0, SPEND] = 10.0
    expected[2, 0] = 1  # books
    expected[2, C + 3] = 1  # 23:59 -> evening
    expected[2, COUNT] = 1
    np.testing.assert_array_equal(out, expected)


def test_daily_totals_respects_first_day():
    out = daily_totals(_sample_events(), SPEC3, 2, 2)
    assert out.shape == (2, 9)
    assert out[0, COUNT] == 1 and out[0, 0] == 1
    assert out[1].sum() == 0


def test_daily_totals_of_no_events_is_zero():
    out = daily_totals(_sample_events().iloc[:0], SPEC3, 0, 5)
    assert out.shape == (5, 9) and not out.any()


def test_profile_is_none_without_events():
    assert profile_from_totals(np.zeros((6, 9)), SPEC3) is None


def test_profile_values():
    totals = daily_totals(_sample_events(), SPEC3, 0, 4)
    profile = profile_from_totals(totals, SPEC3)
    np.testing.assert_allclose(profile[:C], [2 / 3, 1 / 3, 0])
    np.testing.assert_allclose(profile[C:COUNT], [1 / 3, 0, 1 / 3, 1 / 3])
    np.testing.assert_allclose(profile[COUNT], np.log1p([2, 0, 1, 0]).mean())
    np.testing.assert_allclose(profile[SPEND], np.log1p([10, 0, 0, 0]).mean())


def test_deviations_are_zero_on_share_columns_of_inactive_days():
    totals = daily_totals(_sample_events(), SPEC3, 0, 4)
    profile = profile_from_totals(totals, SPEC3)
    dev = deviations(totals, profile, SPEC3)
    assert dev.dtype == np.float32 and dev.shape == (4, 9)
    for inactive in (1, 3):
        np.testing.assert_array_equal(dev[inactive, :COUNT], 0.0)
        np.testing.assert_allclose(dev[inactive, COUNT], -profile[COUNT], rtol=1e-6)
        np.testing.assert_allclose(dev[inactive, SPEND], -profile[SPEND], rtol=1e-6)
    # An active day: its shares minus the profile's.
    shares0 = np.array([0.5, 0.5, 0, 0.5, 0, 0.5, 0])
    np.testing.assert_allclose(dev[0, :COUNT], shares0 - profile[:COUNT], rtol=1e-6)
    np.testing.assert_allclose(dev[0, COUNT], np.log1p(2) - profile[COUNT], rtol=1e-6)
    np.testing.assert_allclose(dev[0, SPEND], np.log1p(10) - profile[SPEND], rtol=1e-6)


def test_sliding_windows_shape_and_content():
    daily = np.arange(20, dtype=np.float32).reshape(10, 2)
    w = sliding_windows(daily, 3)
    assert w.shape == (8, 3, 2)
    for i in range(8):
        np.testing.assert_array_equal(w[i], daily[i : i + 3])
    w[0, 0, 0] = -1.0  # a copy, not a view
    assert daily[0, 0] == 0.0


def test_sliding_windows_of_a_short_log_are_empty():
    w = sliding_windows(np.ones((2, 4), np.float32), 3)
    assert w.shape == (0, 3, 4) and w.dtype == np.float32


def _daily_user(n_days: int, cat_after: str = "books", after: int = 10**6) -> pd.DataFrame:
    """One event per day; from day `after` on, category `cat_after` and a purchase."""
    rows = []
    for d in range(n_days):
        if d < after:
            rows.append((1, _day(d, 10), 1 + d % 3, ("books", "toys")[d % 2], "view", 0.0))
        else:
            rows.append((1, _day(d, 20), 7, cat_after, "purchase", 50.0))
    return make_events(rows)


def test_user_windows_split_labels_follow_the_day_split():
    split = DaySplit(fit_end=8, calib_end=14, n_days=20)
    w = user_windows(_daily_user(20), SPEC3, split)
    end, label = w["end_day"], w["split"]
    assert list(end[label == "fit"]) == list(range(2, 8))
    assert list(end[label == "calib"]) == [10, 11, 12, 13]
    assert list(end[label == "test"]) == list(range(14, 20))
    # Windows straddling fit_end and ending before calib_end belong to no split.
    assert 8 not in end and 9 not in end
    start = end - SPEC3.window_days + 1
    assert (start[label == "calib"] >= split.fit_end).all()
    assert (end[label == "fit"] < split.fit_end).all()
    assert w["window"].shape == (len(end), 3, 9)
    assert w["profile"].shape == (len(end), 9)
    assert (w["profile"] == w["profile"][0]).all()


def test_user_windows_are_deviations_of_the_fit_profile():
    split = DaySplit(fit_end=8, calib_end=14, n_days=20)
    events = _daily_user(20)
    w = user_windows(events, SPEC3, split)
    totals = daily_totals(events, SPEC3, 0, 20)
    profile = profile_from_totals(totals[:8], SPEC3)
    np.testing.assert_allclose(w["profile"][0], profile)
    dev = deviations(totals, profile, SPEC3)
    for e, win in zip(w["end_day"], w["window"], strict=True):
        np.testing.assert_array_equal(win, dev[e - 2 : e + 1])


def test_profile_comes_only_from_fit_days():
    split = DaySplit(fit_end=8, calib_end=14, n_days=20)
    calm = user_windows(_daily_user(20), SPEC3, split)
    changed = user_windows(_daily_user(20, cat_after="home", after=split.fit_end), SPEC3, split)
    np.testing.assert_array_equal(calm["profile"], changed["profile"])
    fit = calm["split"] == "fit"
    np.testing.assert_array_equal(calm["window"][fit], changed["window"][fit])
    # The later change is visible in the later windows.
    assert not np.array_equal(calm["window"][~fit], changed["window"][~fit])


def test_user_without_events_in_the_fit_period_has_no_windows():
    split = DaySplit(fit_end=8, calib_end=14, n_days=20)
    late = _daily_user(20).iloc[10:]
    w = user_windows(late, SPEC3, split)
    assert len(w["end_day"]) == 0
    assert w["window"].shape == (0, 3, 9) and w["profile"].shape == (0, 9)


def test_day_split_from_fractions():
    s = DaySplit.from_fractions(56)
    assert (s.fit_end, s.calib_end, s.n_days) == (28, 38, 56)


def test_live_window_zero_pads_days_before_the_first_event():
    profile = np.array([0.4, 0.4, 0.2, 0.1, 0.5, 0.2, 0.2, 1.5, 0.7])
    events = make_events(
        [
            (1, _day(10, 9), 1, "books", "view", 0.0),
            (1, _day(12, 21), 2, "home", "purchase", 20.0),
            (1, _day(12, 22), 3, "home", "view", 0.0),
        ]
    )
    win = live_window(events, profile, SPEC7)
    assert win.shape == (7, 9)
    # Days 6..9 precede the first event: unknown, so zero deviation (not "inactive").
    np.testing.assert_array_equal(win[:4], 0.0)
    expected = deviations(daily_totals(events, SPEC7, 10, 3), profile, SPEC7)
    np.testing.assert_allclose(win[4:], expected)
    # Day 11 is a known, inactive day: its count deviation records the silence.
    assert win[5, COUNT] == pytest.approx(-1.5)
    # The last row is the day of the latest event.
    assert win[6, COUNT] == pytest.approx(np.log1p(2) - 1.5)


def test_live_window_of_a_long_request_uses_the_last_w_days():
    profile = np.array([0.4, 0.4, 0.2, 0.1, 0.5, 0.2, 0.2, 1.5, 0.7])
    events = _daily_user(13)
    win = live_window(events, profile, SPEC7)
    expected = deviations(daily_totals(events, SPEC7, 6, 7), profile, SPEC7)
    np.testing.assert_allclose(win, expected)
    assert (win[:, COUNT] != 0).all()


def test_live_window_equals_the_offline_window(tiny_sim, tiny_spec, tiny_split):
    """A served window equals the training pipeline's window when the request holds the
    window's days and the user was active on its first day."""
    events = tiny_sim[0]
    w_days = tiny_spec.window_days
    checked = 0
    for _, group in events.groupby("user_id"):
        w = user_windows(group, tiny_spec, tiny_split)
        days = set(tiny_spec.day_index(group["timestamp"]).tolist())
        for e, win, prof in zip(w["end_day"], w["window"], w["profile"], strict=True):
            if e in days and (e - w_days + 1) in days:
                d = tiny_spec.day_index(group["timestamp"])
                req = group[(d >= e - w_days + 1) & (d <= e)]
                np.testing.assert_allclose(live_window(req, prof, tiny_spec), win, atol=1e-6)
                checked += 1
                break
        if checked >= 5:
            break
    assert checked >= 5


def test_label_windows():
    truth = pd.DataFrame({"user_id": [1], "event_day": [10]})
    users = np.array([1, 1, 1, 1, 1, 1, 2, 2])
    ends = np.array([9, 10, 12, 13, 16, 30, 13, 30])
    labels = label_windows(users, ends, 7, truth)
    # end 9: no day after the event; 10: 1 of 7; 12: 3 of 7 (split); 13: 4 of 7 (most);
    # 16 and 30: all 7. User 2 has no event.
    assert list(labels) == [0, -1, -1, 1, 1, 1, 0, 0]


def test_label_windows_without_any_event():
    truth = pd.DataFrame(
        {"user_id": pd.Series([], dtype="int64"), "event_day": pd.Series([], dtype="int64")}
    )
    labels = label_windows(np.array([1, 2]), np.array([5, 50]), 7, truth)
    assert list(labels) == [0, 0]


def test_build_windows_stacks_users(tiny_sim, tiny_spec, tiny_split):
    events = tiny_sim[0]
    out = build_windows(events, tiny_spec, tiny_split)
    n = len(out["user_id"])
    assert n > 0
    assert out["window"].shape == (n, tiny_spec.window_days, tiny_spec.n_features)
    assert set(out["split"]) == {"fit", "calib", "test"}
    uid = int(out["user_id"][0])
    alone = user_windows(events[events["user_id"] == uid], tiny_spec, tiny_split)
    mine = out["user_id"] == uid
    np.testing.assert_array_equal(out["window"][mine], alone["window"])
    np.testing.assert_array_equal(out["end_day"][mine], alone["end_day"])
    empty = build_windows(events.iloc[:0], tiny_spec, tiny_split)
    assert len(empty["user_id"]) == 0 and empty["window"].shape[1:] == (7, tiny_spec.n_features)
