"""The sequential next-item models by name, built from one set of sizes."""

from __future__ import annotations

from adrec.recommender.gru4rec import GRU4Rec
from adrec.recommender.next_item import NextItemModel
from adrec.recommender.sasrec import SASRec

SEQUENCE_MODELS = {"sasrec": SASRec, "gru4rec": GRU4Rec}


def build_sequence_model(
    kind: str, n_items: int, max_len: int, dim: int, n_layers: int, dropout: float, n_heads: int = 2
) -> NextItemModel:
    """A fresh model of `kind` (sasrec or gru4rec); n_heads is SASRec's alone."""
    if kind == "sasrec":
        return SASRec(n_items, max_len, dim, n_layers, n_heads, dropout)
    if kind == "gru4rec":
        return GRU4Rec(n_items, max_len, dim, n_layers, dropout)
    raise ValueError(f"model must be one of {sorted(SEQUENCE_MODELS)}, got {kind!r}")
