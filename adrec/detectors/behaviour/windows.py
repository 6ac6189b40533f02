"""Behaviour windows: a user's recent behaviour described against the user's OWN earlier
profile, from the history before the prediction time only.

Two kinds, chosen on validation by the recommender's fit step, whichever the data supports:
- InteractionWindow: the last `size` interactions against every earlier one. MovieLens users
  rate in sessions (the median user rates on few distinct days), so counting interactions
  gives windows where calendar days would be mostly empty.
- DayWindow: the last `days` days before the prediction time against everything earlier, for
  logs with daily activity (the simulator's, a shop's clickstream).

A window is a summary vector (`features`) or a sequence of steps (`steps`, for sequence
detectors). Feature blocks, each present only where the log carries the signal (`Signals`):
category shares (2+ categories), action shares (2+ actions), value (a rating or spend),
time-of-day shares (timestamps finer than a day) and rhythm (gaps and idle time, always).
`activity_only` keeps rhythm alone. Everything reads only the History it is given, so a caller
that passes the past cannot leak the future into a window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from adrec.recommender.history import History

_DAY = 86_400.0
_HOUR = 3_600.0
N_HOUR_BUCKETS = 4  # 6-hour buckets of the UTC day


@dataclass(frozen=True)
class Signals:
    """What a log offers a window: each item's category shares [n_items + 1, C] (rows sum to
    1, or 0 for items without a category), the number of actions, whether interactions carry
    values and whether timestamps are finer than a day."""

    shares: np.ndarray
    n_actions: int = 0
    has_values: bool = False
    sub_day: bool = False

    @property
    def n_categories(self) -> int:
        return self.shares.shape[1] if self.shares.shape[1] >= 2 else 0

    @classmethod
    def from_log(cls, item_categories: np.ndarray, n_actions: int, values, times) -> Signals:
        flags = np.asarray(item_categories, dtype=np.float64)
        total = flags.sum(1, keepdims=True)
        shares = np.divide(flags, total, out=np.zeros_like(flags), where=total > 0)
        has_values = values is not None and np.isfinite(values).any() and np.nanstd(values) > 0
        sub_day = bool((np.asarray(times) % int(_DAY) != 0).any())
        return cls(shares, int(n_actions) if n_actions >= 2 else 0, bool(has_values), sub_day)

    def meta(self) -> dict:
        return {"n_actions": self.n_actions, "has_values": self.has_values, "sub_day": self.sub_day}


def _signed_log(v: np.ndarray) -> np.ndarray:
    return np.sign(v) * np.log1p(np.abs(v))


class _Window:
    """Blocks shared by both kinds; subclasses choose which rows are recent and profile."""

    kind: str
    min_profile: int
    activity_only: bool

    def split(self, h: History) -> tuple[np.ndarray, np.ndarray] | None:
        """(recent rows, profile rows) of the history, or None when it is too short."""
        raise NotImplementedError

    def _rhythm(self, h: History, recent: np.ndarray, profile: np.ndarray) -> list[float]:
        raise NotImplementedError

    def n_rhythm(self) -> int:
        return 4

    def _blocks(self, sig: Signals) -> list[str]:
        if self.activity_only:
            return []
        out = ["categories"] if sig.n_categories else []
        out += ["actions"] if sig.n_actions else []
        out += ["value"] if sig.has_values else []
        return out + (["hours"] if sig.sub_day else [])

    def n_features(self, sig: Signals) -> int:
        widths = {
            "categories": sig.n_categories,
            "actions": sig.n_actions,
            "value": 1,
            "hours": N_HOUR_BUCKETS,
        }
        return sum(widths[b] for b in self._blocks(sig)) + self.n_rhythm()

    def features(self, h: History, sig: Signals) -> np.ndarray | None:
        """The window's summary vector, or None when the history is too short."""
        parts = self.split(h)
        if parts is None:
            return None
        recent, profile = parts
        out: list[np.ndarray] = []
        for block in self._blocks(sig):
            if block == "categories":
                out.append(_share_gap(sig.shares[h.items[recent]], sig.shares[h.items[profile]]))
            elif block == "actions":
                onehot = np.eye(sig.n_actions)[np.clip(h.actions, 0, sig.n_actions - 1)]
                out.append(_share_gap(onehot[recent], onehot[profile]))
            elif block == "value":
                out.append(np.array([_value_shift(h.values, recent, profile)]))
            else:
                hours = np.eye(N_HOUR_BUCKETS)[_hour_bucket(h.times)]
                out.append(_share_gap(hours[recent], hours[profile]))
        out.append(np.array(self._rhythm(h, recent, profile)))
        return np.concatenate(out)

    def _idle(self, h: History, profile: np.ndarray) -> list[float]:
        """log1p idle days at `now`, and that idle time against the profile's own 90th
        percentile gap (log ratio of hours)."""
        idle = max(h.now - float(h.times[-1]), 0.0) if len(h) else 0.0
        gaps = np.diff(h.times[profile])
        usual = float(np.quantile(gaps, 0.9)) if len(gaps) else 0.0
        return [np.log1p(idle / _DAY), np.log1p(idle / _HOUR) - np.log1p(usual / _HOUR)]

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


def _share_gap(recent: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Mean shares of the recent rows minus the profile's (zeros when recent is empty)."""
    if len(recent) == 0:
        return np.zeros(profile.shape[1])
    return recent.mean(0) - profile.mean(0)


def _value_shift(values: np.ndarray, recent: np.ndarray, profile: np.ndarray) -> float:
    """How far the recent mean value moved, in the profile's own spread (signed log scale,
    so spend and ratings alike); NaN values are left out."""
    r, p = _signed_log(values[recent]), _signed_log(values[profile])
    r, p = r[np.isfinite(r)], p[np.isfinite(p)]
    if len(r) == 0 or len(p) == 0:
        return 0.0
    return float(np.clip((r.mean() - p.mean()) / (p.std() + 0.1), -10.0, 10.0))


def _hour_bucket(times: np.ndarray) -> np.ndarray:
    return ((np.asarray(times) % int(_DAY)) // int(6 * _HOUR)).astype(np.int64)


@dataclass(frozen=True)
class InteractionWindow(_Window):
    """The last `size` interactions against a profile of at least `min_profile` earlier
    ones. Rhythm: log1p median gap in the window and in the profile (hours), idle time."""

    size: int = 10
    min_profile: int = 10
    activity_only: bool = False
    kind = "interactions"

    def __post_init__(self) -> None:
        if self.size < 2 or self.min_profile < 1:
            raise ValueError("size must be >= 2 and min_profile >= 1")

    @property
    def min_history(self) -> int:
        return self.size + self.min_profile

    @property
    def n_steps(self) -> int:
        return self.size

    def split(self, h: History):
        n = len(h)
        if n < self.min_history:
            return None
        return np.arange(n - self.size, n), np.arange(n - self.size)

    def _rhythm(self, h, recent, profile) -> list[float]:
        gaps = np.diff(h.times).astype(np.float64)
        recent_gaps, profile_gaps = gaps[-(self.size - 1) :], gaps[: -self.size]
        median_profile = np.median(profile_gaps) / _HOUR if len(profile_gaps) else 0.0
        return [
            np.log1p(np.median(recent_gaps) / _HOUR),
            np.log1p(median_profile),
            *self._idle(h, profile),
        ]

    def n_step_features(self, sig: Signals) -> int:
        cats = 0 if self.activity_only else sig.n_categories
        return cats + (0 if self.activity_only or not sig.has_values else 1) + 1

    def steps(self, h: History, sig: Signals) -> np.ndarray | None:
        """[size, n_step_features]: each step's category shares minus the profile's mean
        shares, its value against the profile's, and log1p hours until the next interaction
        (for the last step: until `now`)."""
        parts = self.split(h)
        if parts is None:
            return None
        recent, profile = parts
        cols = []
        if not self.activity_only and sig.n_categories:
            shares = sig.shares[h.items]
            cols.append(shares[recent] - shares[profile].mean(0))
        if not self.activity_only and sig.has_values:
            v = _signed_log(np.nan_to_num(h.values.astype(np.float64)))
            p = v[profile]
            cols.append(((v[recent] - p.mean()) / (p.std() + 0.1)).clip(-10, 10)[:, None])
        after = np.diff(np.append(h.times[recent].astype(np.float64), h.now)).clip(0)
        cols.append(np.log1p(after / _HOUR)[:, None])
        return np.column_stack(cols)


@dataclass(frozen=True)
class DayWindow(_Window):
    """The last `days` days before `now` against a profile of at least `min_profile` earlier
    interactions. Rhythm: interactions per day and share of active days against the
    profile's, idle time."""

    days: int = 7
    min_profile: int = 10
    activity_only: bool = False
    kind = "days"

    def __post_init__(self) -> None:
        if self.days < 2 or self.min_profile < 1:
            raise ValueError("days must be >= 2 and min_profile >= 1")

    @property
    def n_steps(self) -> int:
        return self.days

    def split(self, h: History):
        start = h.now - self.days * _DAY
        n_profile = int(np.searchsorted(h.times, start, side="left"))
        if n_profile < self.min_profile:
            return None
        return np.arange(n_profile, len(h)), np.arange(n_profile)

    def _rhythm(self, h, recent, profile) -> list[float]:
        t = h.times.astype(np.float64)
        span = max((h.now - self.days * _DAY - t[profile[0]]) / _DAY, 1.0)
        per_day_profile = len(profile) / span
        active_profile = len(np.unique(t[profile] // _DAY)) / np.ceil(span)
        active_recent = len(np.unique(t[recent] // _DAY)) / self.days
        return [
            np.log1p(len(recent) / self.days) - np.log1p(per_day_profile),
            active_recent - min(active_profile, 1.0),
            *self._idle(h, profile),
        ]

    def n_step_features(self, sig: Signals) -> int:
        return (0 if self.activity_only else sig.n_categories) + 1

    def steps(self, h: History, sig: Signals) -> np.ndarray | None:
        """[days, n_step_features]: each day's category shares minus the profile's (zero on
        an inactive day) and its log1p interaction count minus the profile's mean daily
        log1p count over the days it spans."""
        parts = self.split(h)
        if parts is None:
            return None
        recent, profile = parts
        day = ((h.times[recent] - (h.now - self.days * _DAY)) // _DAY).astype(np.int64)
        day = day.clip(0, self.days - 1)
        counts = np.bincount(day, minlength=self.days).astype(np.float64)
        t = h.times[profile].astype(np.float64)
        span = max(int(np.ceil((h.now - self.days * _DAY - t[0]) / _DAY)), 1)
        per_day = np.bincount(
            ((t - t[0]) // _DAY).astype(np.int64).clip(0, span - 1), minlength=span
        )
        cols = []
        if not self.activity_only and sig.n_categories:
            shares = sig.shares[h.items]
            sums = np.zeros((self.days, sig.n_categories))
            np.add.at(sums, day, shares[recent])
            active = counts > 0
            dev = np.zeros_like(sums)
            dev[active] = sums[active] / counts[active, None] - shares[profile].mean(0)
            cols.append(dev)
        cols.append((np.log1p(counts) - np.log1p(per_day).mean())[:, None])
        return np.column_stack(cols)


WINDOW_KINDS = {"interactions": InteractionWindow, "days": DayWindow}


def window_from_dict(d: dict) -> InteractionWindow | DayWindow:
    d = dict(d)
    kind = d.pop("kind")
    if kind not in WINDOW_KINDS:
        raise ValueError(f"unknown window kind {kind!r}; one of {sorted(WINDOW_KINDS)}")
    return WINDOW_KINDS[kind](**d)


def window_rows(
    window, histories: list[History], sig: Signals, as_steps: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The windows of many histories: (rows [m, ...] float32 for the m histories that have
    one, mask [n] of which do)."""
    describe = window.steps if as_steps else window.features
    rows = [describe(h, sig) for h in histories]
    have = np.array([r is not None for r in rows], dtype=bool)
    width = (window.n_steps, window.n_step_features(sig)) if as_steps else (window.n_features(sig),)
    kept = [r for r in rows if r is not None]
    X = np.stack(kept).astype(np.float32) if kept else np.zeros((0, *width), np.float32)
    return X, have
