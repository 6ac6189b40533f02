"""The anomaly-aware recommender: candidate sources blended by the user's anomaly score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from adrec.data.schema import category_codes
from adrec.errors import UnknownUserError
from adrec.recommender.blend import BlendRule, blend
from adrec.recommender.sasrec import SASRec, left_pad
from adrec.recommender.sources import (
    category_popularity_scores,
    emerging_categories,
    within_category_popularity,
)


class AnomalyAwareRecommender:
    """Sources: long_term (SASRec over the stored history plus the recent events), short_term
    (SASRec over the recent events alone) and emerging (popular items of the categories the
    user has newly moved towards)."""

    def __init__(
        self,
        model: SASRec,
        categories: tuple[str, ...],
        item_category: np.ndarray,
        item_counts: np.ndarray,
        histories: dict[int, np.ndarray],
        profiles: dict[int, np.ndarray],
        rule: BlendRule | None = None,
        exclude_seen: bool = True,
    ):
        self.model = model.eval()
        self.categories = categories
        self.item_category = item_category  # index = item id; -1 for padding
        self.item_popularity = within_category_popularity(item_category, item_counts)
        self.uncatalogued = np.flatnonzero(item_category < 0)
        self.histories = histories
        self.profiles = profiles
        self.rule = rule or BlendRule()
        self.exclude_seen = exclude_seen

    @torch.no_grad()
    def _next_item_probs(self, items: np.ndarray) -> np.ndarray:
        seq = left_pad(items, self.model.max_len)[None]
        return torch.softmax(self.model.full_sort_predict(seq), dim=-1)[0].numpy()

    def recommend(self, user_id: int, events: pd.DataFrame, calibrated: float, k: int) -> dict:
        if user_id not in self.histories:
            raise UnknownUserError(user_id)
        events = events.sort_values("timestamp", kind="stable")
        items = events["item_id"].to_numpy(np.int64)
        known_item = (items >= 1) & (items < len(self.item_category))
        recent = items[known_item]
        history = np.concatenate([self.histories[user_id], recent])
        cat_idx = category_codes(events["category"], self.categories)
        recent_cat = np.bincount(cat_idx[cat_idx >= 0], minlength=len(self.categories))
        profile_shares = self.profiles[user_id][: len(self.categories)]
        emerging = emerging_categories(recent_cat.astype(float), profile_shares)
        sources = {
            "long_term": self._next_item_probs(history),
            "short_term": (
                self._next_item_probs(recent) if len(recent) else np.zeros(len(self.item_category))
            ),
            "emerging": category_popularity_scores(
                emerging, self.item_category, self.item_popularity
            ),
        }
        weights = self.rule.weights(calibrated)
        # Items outside the catalogue (no known category) are never recommended.
        exclude = self.uncatalogued
        if self.exclude_seen:
            exclude = np.union1d(exclude, history)
        items = blend(sources, weights, k, exclude)
        for item in items:
            item["category"] = self.categories[self.item_category[item["item_id"]]]
        return {
            "weights": weights,
            "emerging_categories": {
                self.categories[i]: round(float(v), 4) for i, v in enumerate(emerging) if v > 0
            },
            "items": items,
            "unknown_item_events": int((~known_item).sum()),
        }
