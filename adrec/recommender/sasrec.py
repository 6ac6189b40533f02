"""SASRec: self-attentive sequential recommendation (Kang & McAuley, 2018), a pure nn.Module.

Trained on every position of each sequence at once with full-softmax cross-entropy, which
carries the information of RecBole's prefix augmentation in one forward pass per sequence and
is the loss under which SASRec ranks best in full-ranking evaluation (Klenitskiy & Vasilev,
RecSys 2023). Item id 0 is padding; sequences are left-padded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adrec.recommender.next_item import NextItemModel


class SASRec(NextItemModel):
    def __init__(
        self,
        n_items: int,
        max_len: int = 50,
        dim: int = 64,
        n_layers: int = 2,
        n_heads: int = 2,
        dropout: float = 0.2,
    ):
        super().__init__()
        self.n_items = n_items
        self.n_heads = n_heads
        self.max_len = max_len
        self.item_emb = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            dim, n_heads, dim_feedforward=dim, dropout=dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        causal = torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal_mask", causal, persistent=False)
        # Small embeddings keep the tied output logits near zero at the start, so the initial
        # loss is about log(n_items) rather than dozens of nats.
        nn.init.normal_(self.item_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden state at every position of left-padded item sequences: [B, L, dim]."""
        length = seq.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.max_len}")
        pos = torch.arange(length, device=seq.device)
        h = self.item_emb(seq) * self.item_emb.embedding_dim**0.5 + self.pos_emb(pos)
        pad = seq == 0
        h = self.dropout(h) * (~pad).unsqueeze(-1)
        # Causal attention that never looks at padding; a padding position attends to itself
        # only, so no row of the mask is empty (an empty row would give NaN).
        eye = torch.eye(length, dtype=torch.bool, device=seq.device)
        blocked = self.causal_mask[:length, :length] | (pad.unsqueeze(1) & ~eye)  # [B, L, L]
        mask = blocked.repeat_interleave(self.n_heads, dim=0)
        h = self.encoder(h, mask=mask)
        return self.norm(h)


def left_pad(items: list[int] | torch.Tensor, max_len: int) -> torch.Tensor:
    """The last `max_len` items, left-padded with 0: [max_len] int64."""
    items = torch.as_tensor(items, dtype=torch.long)[-max_len:]
    return F.pad(items, (max_len - len(items), 0))
