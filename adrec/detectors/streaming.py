"""Real-time behaviour scoring: one user's score updated on each new event, with bounded state.

Per user only the raw daily totals of the last `window_days` days are kept (a deque of at
most W rows: O(W) memory), and the number of users held is capped (least recently updated
users are dropped first). An event adds to its day's totals, the W deviation rows are
recomputed with adrec.data.behavior.deviations (O(W) work) and the detector scores that
one window. The window equals adrec.data.behavior.live_window over the user's events seen
so far, and the batch path's window ending on the same day once W days are known, so
streamed scores equal served and offline ones.

An event older than the user's window, or of a category the spec does not know, cannot
change the current window: it is counted and ignored (update returns None)."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from adrec.base import BaseDetector
from adrec.data.behavior import TIME_BUCKETS, WindowSpec, deviations
from adrec.errors import UnknownUserError
from adrec.scoring import window_anomaly


@dataclass
class UserWindow:
    """Raw daily totals of one user's latest days, oldest first; the last row is `last_day`.
    Fewer than W rows means the days before the first row are unknown, not inactive."""

    last_day: int
    days: deque[np.ndarray] = field(default_factory=deque)

    @property
    def first_day(self) -> int:
        return self.last_day - len(self.days) + 1


class StreamingScorer:
    def __init__(
        self,
        detector: BaseDetector,
        spec: WindowSpec,
        profiles: dict[int, np.ndarray],
        max_users: int = 100_000,
    ) -> None:
        if max_users < 1:
            raise ValueError(f"max_users must be >= 1, got {max_users}")
        self.detector = detector
        self.spec = spec
        self.profiles = profiles
        self.max_users = max_users
        self.ignored_events = 0
        self._users: OrderedDict[int, UserWindow] = OrderedDict()
        self._category = {c: i for i, c in enumerate(spec.categories)}
        self._origin = pd.Timestamp(spec.origin)

    def __len__(self) -> int:
        return len(self._users)

    def __contains__(self, user_id: int) -> bool:
        return user_id in self._users

    def update(
        self, user_id: int, timestamp: Any, category: str, value: float = 0.0
    ) -> dict | None:
        """Add one event and return the user's new score (as BehaviorScorer.score), or None
        when the event was ignored."""
        profile = self.profiles.get(user_id)
        if profile is None:
            raise UnknownUserError(user_id)
        cat = self._category.get(category)
        ts = pd.Timestamp(timestamp)
        # The same day arithmetic as WindowSpec.day_index.
        day = int((ts - self._origin).total_seconds() // 86400)
        known = self._users.get(user_id)
        if cat is None or (known is not None and day <= known.last_day - self.spec.window_days):
            self.ignored_events += 1
            return None
        state = self._advance(user_id, day)
        self._add(state.days[day - state.first_day], cat, ts.hour, value)
        return self._score(self.window(user_id))

    def held_days(self, user_id: int) -> int:
        """How many daily rows are kept for the user (at most window_days)."""
        return len(self._users[user_id].days)

    def window(self, user_id: int) -> np.ndarray:
        """The user's current deviation window [W, F] (unknown leading days at zero)."""
        state = self._users[user_id]
        w = self.spec.window_days
        totals = np.zeros((w, self.spec.n_features))
        totals[w - len(state.days) :] = np.stack(state.days)
        window = deviations(totals, self.profiles[user_id], self.spec)
        window[: w - len(state.days)] = 0.0
        return window

    def _advance(self, user_id: int, day: int) -> UserWindow:
        """The user's window, moved on to `day` if later (inactive days in between are known
        zero totals) or extended back to it if it is an unknown day inside the window. The
        caller has checked that `day` is not older than the window."""
        w, n_f = self.spec.window_days, self.spec.n_features
        state = self._users.get(user_id)
        if state is None:
            state = UserWindow(day, deque([np.zeros(n_f)], maxlen=w))
            self._users[user_id] = state
            if len(self._users) > self.max_users:
                self._users.popitem(last=False)
        self._users.move_to_end(user_id)
        for _ in range(min(day - state.last_day, w)):
            state.days.append(np.zeros(n_f))
        state.last_day = max(state.last_day, day)
        for _ in range(max(state.first_day - day, 0)):
            state.days.appendleft(np.zeros(n_f))
        return state

    def _add(self, totals: np.ndarray, cat: int, hour: int, value: float) -> None:
        # The column layout and arithmetic of adrec.data.behavior.daily_totals.
        n_cat, n_b = len(self.spec.categories), len(TIME_BUCKETS)
        totals[cat] += 1.0
        totals[n_cat + hour // 6] += 1.0
        totals[n_cat + n_b] += 1.0
        totals[n_cat + n_b + 1] += float(value)

    def _score(self, window: np.ndarray) -> dict:
        return window_anomaly(self.detector, window)
