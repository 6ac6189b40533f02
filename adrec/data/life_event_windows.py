"""Per-user behaviour windows: daily vectors measured against the user's own normal.

A user's profile is their behaviour over a reference period (category shares, time-of-day
shares, mean log activity and spend). Each day becomes the deviation of that day from the
profile, so a detector trained on many users learns what ordinary day-to-day noise looks like
and flags a user who departs from *their own* habits, not from the crowd's.

The same functions build training windows in the Ray Data pipeline and the live window of a
served request, so served scores equal offline scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from adrec.data.schema import category_codes

TIME_BUCKETS = ("night", "morning", "afternoon", "evening")  # 6-hour buckets from midnight


@dataclass(frozen=True)
class WindowSpec:
    categories: tuple[str, ...]
    origin: str  # the date of day 0, YYYY-MM-DD
    window_days: int = 7

    @property
    def n_features(self) -> int:
        return len(self.categories) + len(TIME_BUCKETS) + 2

    def day_index(self, timestamps: pd.Series) -> np.ndarray:
        delta = pd.to_datetime(timestamps) - pd.Timestamp(self.origin)
        return (delta.dt.total_seconds() // 86400).to_numpy(dtype=np.int64)

    def to_dict(self) -> dict:
        return {**asdict(self), "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, d: dict) -> WindowSpec:
        return cls(tuple(d["categories"]), d["origin"], int(d["window_days"]))


def daily_totals(events: pd.DataFrame, spec: WindowSpec, first_day: int, n_days: int) -> np.ndarray:
    """Raw daily totals of one user's events: [n_days, C + B + 2] with
    per-category counts, per-time-bucket counts, event count and spend.

    Events outside [first_day, first_day + n_days) and of unknown categories are ignored
    (their count is the caller's to report)."""
    n_cat, n_b = len(spec.categories), len(TIME_BUCKETS)
    out = np.zeros((n_days, n_cat + n_b + 2), dtype=np.float64)
    if len(events) == 0:
        return out
    day = spec.day_index(events["timestamp"]) - first_day
    cat = category_codes(events["category"], spec.categories)
    keep = (day >= 0) & (day < n_days) & (cat >= 0)
    day, cat = day[keep], cat[keep]
    hour = pd.to_datetime(events["timestamp"]).dt.hour.to_numpy()[keep]
    value = events["value"].to_numpy(dtype=np.float64)[keep]
    np.add.at(out, (day, cat), 1.0)
    np.add.at(out, (day, n_cat + hour // 6), 1.0)
    np.add.at(out, (day, n_cat + n_b), 1.0)
    np.add.at(out, (day, n_cat + n_b + 1), value)
    return out


def profile_from_totals(totals: np.ndarray, spec: WindowSpec) -> np.ndarray | None:
    """The user's normal: shares over all their events and mean daily log activity / spend.
    None when the period holds no event (no normal to compare with)."""
    n_cat, n_b = len(spec.categories), len(TIME_BUCKETS)
    n_events = totals[:, n_cat + n_b].sum()
    if n_events == 0:
        return None
    cat_share = totals[:, :n_cat].sum(0) / n_events
    bucket_share = totals[:, n_cat : n_cat + n_b].sum(0) / n_events
    log_count = np.log1p(totals[:, n_cat + n_b]).mean()
    log_spend = np.log1p(totals[:, n_cat + n_b + 1]).mean()
    return np.concatenate([cat_share, bucket_share, [log_count, log_spend]])


def deviations(totals: np.ndarray, profile: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """Daily deviation vectors [n_days, n_features] (float32) of totals from a profile.

    On a day without events, shares carry no information and their deviation is 0; the
    count and spend deviations still record the inactivity."""
    n_cat, n_b = len(spec.categories), len(TIME_BUCKETS)
    n = totals[:, n_cat + n_b]
    active = n > 0
    safe_n = np.where(active, n, 1.0)[:, None]
    shares = totals[:, : n_cat + n_b] / safe_n
    share_dev = np.where(active[:, None], shares - profile[: n_cat + n_b], 0.0)
    count_dev = np.log1p(n) - profile[n_cat + n_b]
    spend_dev = np.log1p(totals[:, n_cat + n_b + 1]) - profile[n_cat + n_b + 1]
    return np.column_stack([share_dev, count_dev, spend_dev]).astype(np.float32)


def sliding_windows(daily: np.ndarray, window_days: int) -> np.ndarray:
    """All windows of `window_days` consecutive rows: [n_days - W + 1, W, F] (a copy)."""
    if len(daily) < window_days:
        return np.zeros((0, window_days, daily.shape[1]), dtype=daily.dtype)
    view = np.lib.stride_tricks.sliding_window_view(daily, window_days, axis=0)
    return np.ascontiguousarray(view.transpose(0, 2, 1))


@dataclass(frozen=True)
class DaySplit:
    """Day ranges of a log: the profile and detector fit on [0, fit_end), calibration on
    windows inside [fit_end, calib_end), evaluation and serving after calib_end."""

    fit_end: int
    calib_end: int
    n_days: int

    @classmethod
    def from_fractions(cls, n_days: int, fit: float = 0.5, calib: float = 0.68) -> DaySplit:
        return cls(int(fit * n_days), int(calib * n_days), n_days)


def user_windows(events: pd.DataFrame, spec: WindowSpec, split: DaySplit) -> dict[str, np.ndarray]:
    """Every window of one user with its split label ("fit", "calib", "test"), end day and
    the user's profile (repeated per window, so one pass over the log yields both).

    The profile comes from the fit period only, so calibration and test windows never see
    their own future. A user without events in the fit period has no windows."""
    totals = daily_totals(events, spec, 0, split.n_days)
    profile = profile_from_totals(totals[: split.fit_end], spec)
    w, f = spec.window_days, spec.n_features
    if profile is None:
        return {
            "end_day": np.zeros(0, np.int64),
            "split": np.zeros(0, dtype=object),
            "window": np.zeros((0, w, f), np.float32),
            "profile": np.zeros((0, f), np.float64),
        }
    windows = sliding_windows(deviations(totals, profile, spec), w)
    end_day = np.arange(w - 1, split.n_days, dtype=np.int64)
    start_day = end_day - w + 1
    is_calib = (start_day >= split.fit_end) & (end_day < split.calib_end)
    periods = [end_day < split.fit_end, is_calib, end_day >= split.calib_end]
    label = np.select(periods, ["fit", "calib", "test"], "")
    keep = label != ""
    return {
        "end_day": end_day[keep],
        "split": label[keep].astype(object),
        "window": windows[keep],
        "profile": np.repeat(profile[None], int(keep.sum()), axis=0),
    }


def live_window(events: pd.DataFrame, profile: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """The window ending on the day of the latest event: [W, F].

    Days before the first event given are unknown, not inactive: they are filled with zero
    deviation (normal) so a short request does not read as a silent user."""
    w = spec.window_days
    days = spec.day_index(events["timestamp"])
    last = int(days.max())
    first_known = max(int(days.min()), last - w + 1)
    totals = daily_totals(events, spec, last - w + 1, w)
    window = deviations(totals, profile, spec)
    window[: first_known - (last - w + 1)] = 0.0
    return window


def label_windows(
    user_id: np.ndarray, end_day: np.ndarray, window_days: int, truth: pd.DataFrame
) -> np.ndarray:
    """Ground-truth labels of test windows: 1 when most days of the window follow the user's
    life event, 0 when none does, -1 (left out of metrics) when the event splits it."""
    event_day = dict(zip(truth["user_id"], truth["event_day"], strict=True))
    ev = np.array([event_day.get(int(u), np.iinfo(np.int64).max) for u in user_id])
    post = np.clip(end_day - ev + 1, 0, window_days)
    return np.where(post == 0, 0, np.where(post > window_days // 2, 1, -1))


def build_windows(events: pd.DataFrame, spec: WindowSpec, split: DaySplit) -> dict[str, np.ndarray]:
    """`user_windows` for every user of an in-memory log (the Ray pipeline shards this)."""
    parts = []
    for uid, group in events.groupby("user_id", sort=True):
        w = user_windows(group, spec, split)
        parts.append({"user_id": np.full(len(w["end_day"]), uid, np.int64), **w})
    if not parts:
        return {"user_id": np.zeros(0, np.int64), **user_windows(events.iloc[:0], spec, split)}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
