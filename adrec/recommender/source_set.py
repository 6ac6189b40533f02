"""The candidate sources of a fitted recommender, computed for a batch of user histories:

    long_term   the sequential model (SASRec or GRU4Rec) over the whole history
    short_term  item transitions from the last items, or the model over the last items
                (chosen on validation)
    emerging    popular items of the categories the user newly moved towards (only when the
                log has two or more categories)
    trending    global popularity in a window before the prediction time (window chosen on
                validation)

Each is a probability distribution over the catalogue [n_items + 1] (column 0 padding)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from adrec.recommender.blend import ALL_SOURCES
from adrec.recommender.history import History
from adrec.recommender.long_term import LongTermConfig, next_item_probs
from adrec.recommender.next_item import NextItemModel
from adrec.recommender.sources import (
    ItemTransitions,
    Trending,
    emerging_weights,
    genre_popularity_scores,
)

SHORT_TERM_KINDS = ("transitions", "sasrec_last")


@dataclass
class SourceSet:
    model: NextItemModel
    model_config: LongTermConfig
    transitions: ItemTransitions
    trending: Trending
    short_term: str
    shares: np.ndarray  # [n_items + 1, n_categories] each item's category shares
    item_counts: np.ndarray  # [n_items + 1] interactions in the training rows
    short_term_last: int = 5
    emerging_recent: int = 10
    emerging_min_profile: int = 10

    def __post_init__(self) -> None:
        if self.short_term not in SHORT_TERM_KINDS:
            raise ValueError(f"short_term must be one of {SHORT_TERM_KINDS}, got {self.short_term}")

    @property
    def has_emerging(self) -> bool:
        return self.shares.shape[1] >= 2

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s for s in ALL_SOURCES if s != "emerging" or self.has_emerging)

    @property
    def n_items(self) -> int:
        return len(self.item_counts) - 1

    def source(self, name: str, histories: list[History]) -> np.ndarray:
        """One source for every history: [n, n_items + 1]."""
        items = [h.items for h in histories]
        if name == "long_term":
            return next_item_probs(self.model, items)
        if name == "short_term":
            if self.short_term == "transitions":
                return self.transitions.scores(items)
            return next_item_probs(self.model, items, self.short_term_last)
        if name == "emerging":
            weights = emerging_weights(
                histories, self.shares, self.emerging_recent, self.emerging_min_profile
            )
            return genre_popularity_scores(weights, self.shares, self.item_counts)
        if name == "trending":
            return self.trending.scores(np.array([h.now for h in histories]))
        raise ValueError(f"unknown source {name!r}; this model has {self.names}")

    def probs(self, histories: list[History]) -> np.ndarray:
        """[n_sources, n, n_items + 1] in the order of `names`."""
        return np.stack([self.source(name, histories) for name in self.names])

    # -- persistence (tensors loaded with weights_only=True, JSON; nothing pickled) ----------
    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), path / "model.pt")
        t = self.transitions.transitions_.tocsr()
        torch.save(
            {
                "transitions_indptr": torch.as_tensor(t.indptr, dtype=torch.int64),
                "transitions_indices": torch.as_tensor(t.indices, dtype=torch.int64),
                "transitions_data": torch.as_tensor(t.data, dtype=torch.float64),
                "item_counts": torch.as_tensor(self.item_counts, dtype=torch.float64),
            },
            path / "sources.pt",
        )
        meta = {
            "model": self.model_config.to_dict(),
            "n_items": self.n_items,
            "short_term": self.short_term,
            "short_term_last": self.short_term_last,
            "transitions": {
                "reach": self.transitions.reach,
                "decay": self.transitions.decay,
                "last": self.transitions.last,
            },
            "trending_days": self.trending.window_days,
            "emerging_recent": self.emerging_recent,
            "emerging_min_profile": self.emerging_min_profile,
        }
        (path / "sources.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, path: str | Path, shares: np.ndarray, timeline: tuple) -> SourceSet:
        """`shares`: the items' category shares; `timeline`: (items, times) of the whole log
        (the trending source's input)."""
        from scipy import sparse

        path = Path(path)
        meta = json.loads((path / "sources.json").read_text())
        cfg = LongTermConfig(**meta["model"])
        n_items = int(meta["n_items"])
        model = cfg.build(n_items)
        model.load_state_dict(torch.load(path / "model.pt", weights_only=True, map_location="cpu"))
        state = torch.load(path / "sources.pt", weights_only=True, map_location="cpu")
        transitions = ItemTransitions(**meta["transitions"])
        transitions.transitions_ = sparse.csr_matrix(
            (
                state["transitions_data"].numpy(),
                state["transitions_indices"].numpy(),
                state["transitions_indptr"].numpy(),
            ),
            shape=(n_items + 1, n_items + 1),
        )
        transitions.n_items_ = n_items
        return cls(
            model=model.eval(),
            model_config=cfg,
            transitions=transitions,
            trending=Trending(*timeline, n_items, meta["trending_days"]),
            short_term=meta["short_term"],
            shares=np.asarray(shares, np.float64),
            item_counts=state["item_counts"].numpy(),
            short_term_last=meta["short_term_last"],
            emerging_recent=meta["emerging_recent"],
            emerging_min_profile=meta["emerging_min_profile"],
        )
