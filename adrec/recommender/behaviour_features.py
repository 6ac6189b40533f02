"""Behaviour windows from rating logs, for scoring a user's change at prediction time.

A window is a user's last `size` interactions before a prediction time, described against the
user's OWN earlier profile (every interaction before the window): how far each genre's share
moved, and how the rating rhythm moved. Windows count interactions, not calendar days, because
MovieLens users rate in sessions: on ml-100k the median user rates on few distinct days, so
day windows would be mostly empty (the bench prints the measured figures).

Genres are multi-label; one interaction is shared equally among its genres (rows of
`genre_shares` sum to 1). Everything here reads only the arrays it is given, so a caller that
passes history before the prediction time cannot leak the future into the features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_DAY = 86_400.0


def genre_shares(genre_flags: np.ndarray) -> np.ndarray:
    """Multi-hot genre flags [n_items + 1, n_genres] -> each row's genres sharing one unit.
    Rows without a genre (padding, unknown items) stay all zero."""
    flags = np.asarray(genre_flags, dtype=np.float64)
    if flags.ndim != 2:
        raise ValueError(f"genre_flags must be 2-D [items, genres], got shape {flags.shape}")
    n = flags.sum(1, keepdims=True)
    return np.divide(flags, n, out=np.zeros_like(flags), where=n > 0)


@dataclass(frozen=True)
class BehaviourWindow:
    """The last `size` interactions against a profile of at least `min_profile` earlier ones.

    With `activity_only` the genre block is left out (only the rhythm of ratings)."""

    size: int = 10
    min_profile: int = 10
    activity_only: bool = False

    def __post_init__(self) -> None:
        if self.size < 2 or self.min_profile < 1:
            raise ValueError("size must be >= 2 and min_profile >= 1")

    @property
    def min_history(self) -> int:
        return self.size + self.min_profile

    def n_features(self, n_genres: int) -> int:
        return 4 if self.activity_only else n_genres + 4

    def n_step_features(self, n_genres: int) -> int:
        return 1 if self.activity_only else n_genres + 1

    def features(
        self, items: np.ndarray, timestamps: np.ndarray, shares: np.ndarray, now: float
    ) -> np.ndarray | None:
        """One window at prediction time `now` from a user's history (chronological item ids
        and unix times, all before `now`): [genre share deviations..., log1p median gap in the
        window (hours), log1p the profile's median gap (hours), log1p idle time at `now`
        (days), that idle time against the user's own 90th-percentile gap (log ratio)].
        None when the history is shorter than `min_history`."""
        items, ts = self._check(items, timestamps, now)
        if len(items) < self.min_history:
            return None
        recent, profile = items[-self.size :], items[: -self.size]
        deviation = shares[recent].mean(0) - shares[profile].mean(0)
        gaps = np.diff(ts)
        recent_gaps, profile_gaps = gaps[-(self.size - 1) :], gaps[: -self.size]
        idle = now - ts[-1]
        usual = np.quantile(profile_gaps, 0.9) if len(profile_gaps) else 0.0
        activity = [
            np.log1p(np.median(recent_gaps) / 3600.0),
            np.log1p(np.median(profile_gaps) / 3600.0) if len(profile_gaps) else 0.0,
            np.log1p(idle / _DAY),
            np.log1p(idle / 3600.0) - np.log1p(usual / 3600.0),
        ]
        return np.array(activity) if self.activity_only else np.concatenate([deviation, activity])

    def steps(
        self, items: np.ndarray, timestamps: np.ndarray, shares: np.ndarray, now: float
    ) -> np.ndarray | None:
        """The same window as a sequence, for sequence detectors: [size, n_genres + 1], each
        step's genre shares minus the profile's mean shares, and log1p the time until the
        next interaction (for the last step: until `now`) in hours. None when the history is
        shorter than `min_history`."""
        items, ts = self._check(items, timestamps, now)
        if len(items) < self.min_history:
            return None
        profile = shares[items[: -self.size]].mean(0)
        after = np.log1p(np.diff(np.append(ts[-self.size :], now)) / 3600.0)
        if self.activity_only:
            return after[:, None]
        return np.column_stack([shares[items[-self.size :]] - profile, after])

    @staticmethod
    def _check(items, timestamps, now) -> tuple[np.ndarray, np.ndarray]:
        items = np.asarray(items, dtype=np.int64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if items.shape != ts.shape or items.ndim != 1:
            raise ValueError("items and timestamps must be 1-D arrays of the same length")
        if len(ts) and now < ts[-1]:
            raise ValueError(f"prediction time {now} is before the last interaction {ts[-1]}")
        return items, ts

    def new_genre_share(
        self, items: np.ndarray, flags: np.ndarray, min_profile_count: int = 1
    ) -> float:
        """Share of the window's genre mentions in genres the profile had fewer than
        `min_profile_count` of (a recency feature for the gate); 0 for short histories."""
        items = np.asarray(items, dtype=np.int64)
        if len(items) < self.min_history:
            return 0.0
        recent = flags[items[-self.size :]].sum(0)
        profile = flags[items[: -self.size]].sum(0)
        total = recent.sum()
        return float(recent[profile < min_profile_count].sum() / total) if total else 0.0


def training_windows(
    items: np.ndarray,
    timestamps: np.ndarray,
    shares: np.ndarray,
    window: BehaviourWindow,
    stride: int,
    as_steps: bool = False,
) -> np.ndarray:
    """Windows of one user's history at every `stride`-th interaction as the prediction time
    (each window sees only the interactions before it): [n, n_features], or
    [n, size, n_genres + 1] with `as_steps`; possibly empty."""
    describe = window.steps if as_steps else window.features
    ts = np.asarray(timestamps)
    rows = [
        describe(items[:end], ts[:end], shares, float(ts[end]))
        for end in range(window.min_history, len(items), stride)
    ]
    n_genres = shares.shape[1]
    empty = (
        (0, window.size, window.n_step_features(n_genres))
        if as_steps
        else (0, window.n_features(n_genres))
    )
    return np.stack(rows) if rows else np.zeros(empty)
