"""Candidate sources that do not need a neural model."""

from __future__ import annotations

import functools
from collections import OrderedDict

import numpy as np


def emerging_categories(recent_counts: np.ndarray, profile_shares: np.ndarray) -> np.ndarray:
    """How much more of each category the user does now than normally: max(recent - profile, 0),
    normalised to sum to 1 (all zeros when nothing grew)."""
    total = recent_counts.sum()
    if total == 0:
        return np.zeros_like(profile_shares)
    growth = np.clip(recent_counts / total - profile_shares, 0.0, None)
    s = growth.sum()
    return growth / s if s > 0 else growth


def category_popularity_scores(
    category_weights: np.ndarray, item_category: np.ndarray, item_popularity: np.ndarray
) -> np.ndarray:
    """A distribution over items: a category's weight shared among its items by popularity.

    item_category[i] is the category index of item i (-1 for padding / unknown), and
    item_popularity[i] the item's share within its category."""
    known = item_category >= 0
    scores = np.zeros(len(item_category))
    scores[known] = category_weights[item_category[known]] * item_popularity[known]
    s = scores.sum()
    return scores / s if s > 0 else scores


def within_category_popularity(item_category: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each item's share of its category's interactions (add-one smoothed)."""
    smoothed = counts.astype(np.float64) + 1.0
    smoothed[item_category < 0] = 0.0
    cat_total = np.zeros(item_category.max() + 1)
    np.add.at(cat_total, item_category[item_category >= 0], smoothed[item_category >= 0])
    out = np.zeros_like(smoothed)
    known = item_category >= 0
    out[known] = smoothed[known] / cat_total[item_category[known]]
    return out


class ItemTransitions:
    """Short-term source: which items follow which, from training sequences.

    fit counts, for every ordered pair (a, b) with b up to `reach` positions after a in some
    user's sequence, 1 / distance; rows are normalised to distributions. scores() mixes the
    rows of a user's last items with weights decaying by `decay` per step back."""

    def __init__(self, reach: int = 3, decay: float = 0.6, last: int = 5):
        self.reach = reach
        self.decay = decay
        self.last = last

    def fit(self, sequences: list[np.ndarray], n_items: int) -> ItemTransitions:
        from scipy import sparse

        if self.reach < 1 or self.last < 1 or not 0 < self.decay <= 1:
            raise ValueError("reach and last must be >= 1 and decay in (0, 1]")
        rows, cols, vals = [], [], []
        for seq in sequences:
            seq = np.asarray(seq, dtype=np.int64)
            if seq.size and (seq.min() < 1 or seq.max() > n_items):
                raise ValueError(f"sequences hold item ids outside 1..{n_items}")
            for d in range(1, self.reach + 1):
                rows.append(seq[:-d])
                cols.append(seq[d:])
                vals.append(np.full(max(len(seq) - d, 0), 1.0 / d))
        counts = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items + 1, n_items + 1),
        )
        totals = np.asarray(counts.sum(1)).ravel()
        inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        self.transitions_ = sparse.diags(inv) @ counts
        self.n_items_ = n_items
        return self

    def scores(self, histories: list[np.ndarray]) -> np.ndarray:
        """A distribution over items per history: [n_histories, n_items + 1] (zeros when the
        last items have no known successor)."""
        from scipy import sparse

        if not hasattr(self, "transitions_"):
            raise RuntimeError("ItemTransitions is not fitted; call fit() first")
        rows, cols, vals = [], [], []
        for u, items in enumerate(histories):
            last = np.asarray(items, dtype=np.int64)[-self.last :][::-1]
            rows.append(np.full(len(last), u))
            cols.append(last)
            vals.append(self.decay ** np.arange(len(last)))
        mix = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(histories), self.n_items_ + 1),
        )
        return _normalise_rows(np.asarray((mix @ self.transitions_).todense()))


def trending(
    item_ids: np.ndarray, timestamps: np.ndarray, at: np.ndarray, window_s: float, n_items: int
) -> np.ndarray:
    """Popularity over the global window [at - window_s, at) for each prediction time in `at`,
    add-one smoothed and normalised: [len(at), n_items + 1]. Only interactions strictly
    before each prediction time count, so no future reaches the source."""
    order = np.argsort(timestamps, kind="stable")
    ts, items = np.asarray(timestamps)[order], np.asarray(item_ids)[order]
    counts = functools.partial(_window_counts, items, n_items=n_items)
    return _trending_sorted(ts, at, window_s, n_items, counts)


def _trending_sorted(ts, at, window_s: float, n_items: int, counts) -> np.ndarray:
    """trending() of a log whose times `ts` are in order; `counts(a, b)` is the smoothed
    distribution of the log's slice a:b (Trending caches it)."""
    lo = np.searchsorted(ts, np.asarray(at) - window_s, side="left")
    hi = np.searchsorted(ts, np.asarray(at), side="left")
    out = np.empty((len(lo), n_items + 1))
    for r, (a, b) in enumerate(zip(lo, hi, strict=True)):
        out[r] = counts(int(a), int(b))  # copied: a cached row is never handed out
    return out


def _window_counts(items: np.ndarray, a: int, b: int, n_items: int) -> np.ndarray:
    """The add-one smoothed distribution of items[a:b] (column 0, the padding, is 0)."""
    out = np.bincount(items[a:b], minlength=n_items + 1)[: n_items + 1] + 1.0
    out[0] = 0.0
    return out / out.sum()


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    s = x.sum(1, keepdims=True)
    return np.divide(x, s, out=np.zeros_like(x), where=s > 0)


def genre_popularity_scores(
    genre_weights: np.ndarray, shares: np.ndarray, item_counts: np.ndarray
) -> np.ndarray:
    """The multi-label form of category_popularity_scores, for many users at once.

    genre_weights [n_users, n_genres]; shares [n_items + 1, n_genres] (each item's genres
    sharing one unit); item_counts [n_items + 1]. An item's popularity within a genre is its
    add-one smoothed count times its share of that genre, normalised over the genre; a user's
    scores are those popularities mixed by the user's genre weights, as a distribution over
    items (all zeros for a user with no weight)."""
    weights = np.atleast_2d(np.asarray(genre_weights, dtype=np.float64))
    shares = np.asarray(shares, dtype=np.float64)
    if weights.shape[1] != shares.shape[1] or len(item_counts) != len(shares):
        raise ValueError(
            f"genre_weights {weights.shape}, shares {shares.shape} and item_counts "
            f"{np.shape(item_counts)} disagree on genres or items"
        )
    mass = (np.asarray(item_counts, dtype=np.float64) + 1.0)[:, None] * shares
    totals = mass.sum(0)
    within = np.divide(mass, totals, out=np.zeros_like(mass), where=totals > 0)
    return _normalise_rows(weights @ within.T)


class Trending:
    """Global popularity in a window before each prediction time, from the log's timeline
    (interactions strictly before the prediction time only: no future reaches it)."""

    def __init__(self, items: np.ndarray, times: np.ndarray, n_items: int, window_days: float):
        order = np.argsort(times, kind="stable")
        self.items = np.asarray(items, np.int64)[order]
        self.times = np.asarray(times, np.int64)[order]
        self.n_items = n_items
        self.window_days = float(window_days)
        # Served requests mostly ask at the same few times (the log's end, today): each
        # slice's distribution is computed once, least recently used dropped first, at most
        # 64 of them and about 64 MiB.
        self._cache_size = max(1, min(64, (64 << 20) // (8 * (n_items + 1))))
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def scores(self, at: np.ndarray) -> np.ndarray:
        """[len(at), n_items + 1] add-one smoothed distributions (column 0 padding)."""
        return _trending_sorted(self.times, at, self.window_days * 86_400.0, self.n_items,
                                self._counts)  # fmt: skip

    def _counts(self, a: int, b: int) -> np.ndarray:
        if (a, b) in self._cache:
            self._cache.move_to_end((a, b))
        else:
            if len(self._cache) >= self._cache_size:
                self._cache.popitem(last=False)
            self._cache[(a, b)] = _window_counts(self.items, a, b, self.n_items)
        return self._cache[(a, b)]


def emerging_weights(histories, shares: np.ndarray, recent: int, min_profile: int) -> np.ndarray:
    """Each history's category growth: its last `recent` interactions against the earlier
    ones (emerging_categories), [n, n_categories]; zeros for histories shorter than
    recent + min_profile."""
    out = np.zeros((len(histories), shares.shape[1]))
    for u, h in enumerate(histories):
        items = h.items
        if len(items) >= recent + min_profile:
            counts = shares[items[-recent:]].sum(0)
            out[u] = emerging_categories(counts, shares[items[:-recent]].mean(0))
    return out
