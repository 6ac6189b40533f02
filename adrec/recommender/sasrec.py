"""SASRec: self-attentive sequential recommendation (Kang & McAuley, 2018), a pure nn.Module.

Trained on every position of each sequence at once with full-softmax cross-entropy, which
carries the information of RecBole's prefix augmentation in one forward pass per sequence and
is the loss under which SASRec ranks best in full-ranking evaluation (Klenitskiy & Vasilev,
RecSys 2023). Item id 0 is padding; sequences are left-padded.

The encoder is written out (causal multi-head attention and a feed-forward block per layer) so
each switch is explicit:
- `norm_first=False` (post-LayerNorm, as the original SASRec code and RecBole): the embedding
  sum is normalised, and each sub-block adds its output to its input, then normalises.
  `norm_first=True` (pre-LayerNorm): each sub-block normalises its input, and one LayerNorm
  follows the last layer.
- `dropout` on the embeddings and on each sub-block's output, `attn_dropout` on the attention
  weights (None: `dropout`), none inside the feed-forward block (as RecBole).
- `ffn_dim` (None: `dim`), `activation` ("relu" or "gelu"), `emb_scale` (item embeddings times
  sqrt(dim) before the position embedding is added), `init_std` (normal(0, init_std) weights
  and zero biases for every linear and embedding, as RecBole and BERT; None keeps PyTorch's
  default initialisation of the linear layers).
Dropout draws its mask with `torch.rand` (same distribution as nn.Dropout, about twice as
fast on CPU, where drawing masks was a quarter of the encoder's time).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from adrec.recommender.next_item import NextItemModel

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def fast_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout (zero with probability p, scale the rest by 1 / (1 - p))."""
    if not training or p == 0.0:
        return x
    return x * (torch.rand_like(x) >= p) * (1.0 / (1.0 - p))


class SASRecBlock(nn.Module):
    """One causal self-attention layer and one position-wise feed-forward layer."""

    def __init__(
        self,
        dim: int,
        n_heads: int,
        ffn_dim: int,
        dropout: float,
        attn_dropout: float,
        activation: str,
        norm_first: bool,
        eps: float,
    ):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim {dim} is not a multiple of n_heads {n_heads}")
        self.n_heads = n_heads
        self.dropout = dropout
        self.attn_dropout = attn_dropout
        self.act = ACTIVATIONS[activation]
        self.norm_first = norm_first
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attn_out = nn.Linear(dim, dim)
        self.ffn_in = nn.Linear(dim, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.norm2 = nn.LayerNorm(dim, eps=eps)

    def _attend(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, length, dim = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias, -1)
        weights = fast_dropout(weights, self.attn_dropout, self.training)
        out = (weights @ v).transpose(1, 2).reshape(b, length, dim)
        return fast_dropout(self.attn_out(out), self.dropout, self.training)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(self.ffn_out(self.act(self.ffn_in(x))), self.dropout, self.training)

    def forward(self, h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        if self.norm_first:
            h = h + self._attend(self.norm1(h), bias)
            return h + self._feed_forward(self.norm2(h))
        h = self.norm1(h + self._attend(h, bias))
        return self.norm2(h + self._feed_forward(h))


class SASRec(NextItemModel):
    def __init__(
        self,
        n_items: int,
        max_len: int = 50,
        dim: int = 64,
        n_layers: int = 2,
        n_heads: int = 2,
        dropout: float = 0.2,
        ffn_dim: int | None = None,
        activation: str = "relu",
        norm_first: bool = True,
        emb_scale: bool = True,
        attn_dropout: float | None = None,
        init_std: float | None = None,
        eps: float = 1e-5,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.n_items = n_items
        self.n_heads = n_heads
        self.max_len = max_len
        self.emb_scale = emb_scale
        self.emb_dropout = dropout
        self.item_emb = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList(
            SASRecBlock(
                dim,
                n_heads,
                ffn_dim or dim,
                dropout,
                dropout if attn_dropout is None else attn_dropout,
                activation,
                norm_first,
                eps,
            )  # fmt: skip
            for _ in range(n_layers)
        )
        # Pre-LN blocks leave their output unnormalised: one LayerNorm after the last. Post-LN
        # blocks end normalised, and the embedding sum is normalised before the first.
        self.norm = nn.LayerNorm(dim, eps=eps) if norm_first else nn.Identity()
        self.emb_norm = nn.Identity() if norm_first else nn.LayerNorm(dim, eps=eps)
        causal = torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal_mask", causal, persistent=False)
        if init_std is not None:
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, std=init_std)
                    nn.init.zeros_(module.bias)
        # Small embeddings keep the tied output logits near zero at the start, so the initial
        # loss is about log(n_items) rather than dozens of nats.
        nn.init.normal_(self.item_emb.weight, std=0.02 if init_std is None else init_std)
        nn.init.normal_(self.pos_emb.weight, std=0.02 if init_std is None else init_std)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden state at every position of left-padded item sequences: [B, L, dim]."""
        length = seq.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.max_len}")
        pos = torch.arange(length, device=seq.device)
        items = self.item_emb(seq)
        if self.emb_scale:
            items = items * self.item_emb.embedding_dim**0.5
        pad = seq == 0
        h = self.emb_norm(items + self.pos_emb(pos))
        h = fast_dropout(h, self.emb_dropout, self.training) * (~pad).unsqueeze(-1)
        # Causal attention that never looks at padding; a padding position attends to itself
        # only, so no row of the mask is empty (an empty row would give NaN).
        eye = torch.eye(length, dtype=torch.bool, device=seq.device)
        blocked = self.causal_mask[:length, :length] | (pad.unsqueeze(1) & ~eye)  # [B, L, L]
        bias = torch.zeros(blocked.shape, dtype=h.dtype, device=h.device)
        bias = bias.masked_fill(blocked, float("-inf")).unsqueeze(1)  # [B, 1, L, L]
        for block in self.blocks:
            h = block(h, bias)
        return self.norm(h)


def left_pad(items: list[int] | torch.Tensor, max_len: int) -> torch.Tensor:
    """The last `max_len` items, left-padded with 0: [max_len] int64."""
    items = torch.as_tensor(items, dtype=torch.long)[-max_len:]
    return F.pad(items, (max_len - len(items), 0))
