"""What the recommender knows of one user at one prediction time: the user's interactions
before that time. The offline evaluation builds these from a split of the log, the served
engine from the stored log plus the request's events; everything downstream (behaviour
windows, sources, blends) reads only this, so both paths compute the same answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adrec.data.interactions import Interactions


@dataclass(frozen=True)
class History:
    """items, times (unix s), values and action codes (None where the log has none) of the
    user's interactions in chronological order, all at or before `now`; `user` is the dense
    index of a user the model knows, -1 for one it has never seen."""

    items: np.ndarray
    times: np.ndarray
    now: float
    values: np.ndarray | None = None
    actions: np.ndarray | None = None
    user: int = -1

    def __len__(self) -> int:
        return len(self.items)

    def last(self, n: int) -> History:
        """The same history cut to its last n interactions (n >= 1)."""
        cut = slice(max(0, len(self.items) - n), None)
        return History(
            self.items[cut],
            self.times[cut],
            self.now,
            None if self.values is None else self.values[cut],
            None if self.actions is None else self.actions[cut],
            self.user,
        )


def history_of(inter: Interactions, user: int, start: int, end: int, now: float) -> History:
    """Rows [start, end) of the log (one user's, in time order) as a History at `now`."""
    rows = slice(start, end)
    return History(
        inter.item[rows],
        inter.time[rows],
        float(now),
        None if inter.value is None else inter.value[rows],
        None if inter.action is None else inter.action[rows],
        int(user),
    )


def histories_at(inter: Interactions, points) -> list[History]:
    """The History of every prediction point (adrec.data.splits.Points) of a log."""
    return [
        history_of(inter, u, s, e, t)
        for u, s, e, t in zip(points.user, points.start, points.end, points.time, strict=True)
    ]
