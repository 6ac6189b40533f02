"""The sequential next-item models by name, built from one set of sizes."""

from __future__ import annotations

from adrec.recommender.gru4rec import GRU4Rec
from adrec.recommender.next_item import NextItemModel
from adrec.recommender.sasrec import SASRec

SEQUENCE_MODELS = {"sasrec": SASRec, "gru4rec": GRU4Rec}
# SASRec's encoder switches (see SASRec.__init__); GRU4Rec has none of them.
SASREC_OPTIONS = (
    "ffn_dim", "activation", "norm_first", "emb_scale", "attn_dropout", "init_std", "eps",
)  # fmt: skip


def build_sequence_model(
    kind: str,
    n_items: int,
    max_len: int,
    dim: int,
    n_layers: int,
    dropout: float,
    n_heads: int = 2,
    **sasrec_options,
) -> NextItemModel:
    """A fresh model of `kind` (sasrec or gru4rec); n_heads and `sasrec_options`
    (SASREC_OPTIONS) are SASRec's alone: GRU4Rec ignores them."""
    unknown = set(sasrec_options) - set(SASREC_OPTIONS)
    if unknown:
        raise ValueError(f"unknown model options {sorted(unknown)}; known: {SASREC_OPTIONS}")
    if kind == "sasrec":
        return SASRec(n_items, max_len, dim, n_layers, n_heads, dropout, **sasrec_options)
    if kind == "gru4rec":
        return GRU4Rec(n_items, max_len, dim, n_layers, dropout)
    raise ValueError(f"model must be one of {sorted(SEQUENCE_MODELS)}, got {kind!r}")
