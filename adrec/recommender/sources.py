"""Candidate sources that do not need a neural model."""

from __future__ import annotations

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
