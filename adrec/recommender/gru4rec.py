"""GRU4Rec: a recurrent next-item model (Hidasi et al., 2016), a pure nn.Module.

The same contract as SASRec (left-padded sequences in, hidden states at every position out,
tied item-embedding logits), so it trains with the same losses and loops. Padding inputs are
zero vectors, and the GRU's state is reset to zero until the first real item, so leading
padding leaves no trace in the hidden states of real positions.
"""

from __future__ import annotations

import torch
from torch import nn

from adrec.recommender.next_item import NextItemModel


class GRU4Rec(NextItemModel):
    def __init__(
        self,
        n_items: int,
        max_len: int = 50,
        dim: int = 64,
        n_layers: int = 1,
        dropout: float = 0.2,
    ):
        super().__init__()
        self.n_items = n_items
        self.max_len = max_len
        self.item_emb = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(dim, dim, n_layers, batch_first=True)
        self.out = nn.Linear(dim, dim)
        # Unit-norm item vectors on average: the GRU does not rescale its inputs the way
        # SASRec multiplies by sqrt(dim), and tiny ones (std 0.02) make it learn slowly.
        nn.init.normal_(self.item_emb.weight, std=dim**-0.5)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden state at every position of left-padded item sequences: [B, L, dim]."""
        if seq.shape[1] > self.max_len:
            raise ValueError(f"sequence length {seq.shape[1]} exceeds max_len {self.max_len}")
        # Left padding sits before the first item: packing the sequences by length makes the
        # GRU start from a zero state at each one's first real item.
        lengths = (seq > 0).sum(1).clamp_min(1)
        right = _left_to_right(seq, lengths)
        h = self.dropout(self.item_emb(right))
        packed = nn.utils.rnn.pack_padded_sequence(
            h, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=seq.shape[1])
        return self.out(_right_to_left(out, lengths))


def _shift_index(lengths: torch.Tensor, length: int, to_right: bool) -> torch.Tensor:
    """Gather indices that move the last `lengths` positions to the front (or back)."""
    pos = torch.arange(length, device=lengths.device)[None, :]
    shift = (length - lengths)[:, None]
    return (pos + shift) % length if to_right else (pos - shift) % length


def _left_to_right(seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return seq.gather(1, _shift_index(lengths, seq.shape[1], True))


def _right_to_left(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    idx = _shift_index(lengths, h.shape[1], False)
    return h.gather(1, idx[..., None].expand(-1, -1, h.shape[2]))
