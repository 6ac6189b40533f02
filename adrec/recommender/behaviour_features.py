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
    """The last `size` interactions against a profile of at least `min_profile` earlier ones."""

    size: int = 10
    min_profile: int = 10

    def __post_init__(self) -> None:
        if self.size < 2 or self.min_profile < 1:
            raise ValueError("size must be >= 2 and min_profile >= 1")

    @property
    def min_history(self) -> int:
        return self.size + self.min_profile

    def n_features(self, n_genres: int) -> int:
        return n_genres + 3

    def features(
        self, items: np.ndarray, timestamps: np.ndarray, shares: np.ndarray
    ) -> np.ndarray | None:
        """One window from a user's history (chronological item ids and unix times, strictly
        before the prediction time): [genre share deviations..., log1p median gap in the
        window (hours), log1p gap into the window (days), log1p the profile's median gap
        (hours)]. None when the history is shorter than `min_history`."""
        items = np.asarray(items, dtype=np.int64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if items.shape != ts.shape or items.ndim != 1:
            raise ValueError("items and timestamps must be 1-D arrays of the same length")
        if len(items) < self.min_history:
            return None
        recent, profile = items[-self.size :], items[: -self.size]
        deviation = shares[recent].mean(0) - shares[profile].mean(0)
        gaps = np.diff(ts)
        recent_gaps, profile_gaps = gaps[-(self.size - 1) :], gaps[: -self.size]
        activity = [
            np.log1p(np.median(recent_gaps) / 3600.0),
            np.log1p(max(ts[-self.size] - ts[-self.size - 1], 0.0) / _DAY),
            np.log1p(np.median(profile_gaps) / 3600.0) if len(profile_gaps) else 0.0,
        ]
        return np.concatenate([deviation, activity])

    def steps(
        self, items: np.ndarray, timestamps: np.ndarray, shares: np.ndarray
    ) -> np.ndarray | None:
        """The same window as a sequence, for sequence detectors: [size, n_genres + 1], each
        step's genre shares minus the profile's mean shares, and log1p the gap before it
        (hours). None when the history is shorter than `min_history`."""
        items = np.asarray(items, dtype=np.int64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if len(items) < self.min_history:
            return None
        profile = shares[items[: -self.size]].mean(0)
        gaps = np.diff(ts)[-self.size :] / 3600.0
        return np.column_stack([shares[items[-self.size :]] - profile, np.log1p(gaps)])

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
    stop: int,
    stride: int,
    as_steps: bool = False,
) -> np.ndarray:
    """Windows ending at every `stride`-th position of one user's history up to `stop`
    (later items never read): [n, n_features], or [n, size, n_genres + 1] with `as_steps`;
    possibly empty."""
    describe = window.steps if as_steps else window.features
    rows = [
        describe(items[:end], timestamps[:end], shares)
        for end in range(window.min_history, min(stop, len(items)) + 1, stride)
    ]
    rows = [r for r in rows if r is not None]
    n_genres = shares.shape[1]
    empty = (0, window.size, n_genres + 1) if as_steps else (0, window.n_features(n_genres))
    return np.stack(rows) if rows else np.zeros(empty)
