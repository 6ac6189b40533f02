"""What every sequential next-item model shares: tied item-embedding logits, full-catalogue
prediction, and the two training losses (full softmax, or sampled softmax over uniform
negatives for catalogues too large to score at every position).

A model is an nn.Module whose forward maps left-padded item sequences [B, L] (0 = padding) to
hidden states [B, L, dim] and that holds its item embeddings as `item_emb`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


class NextItemModel(nn.Module):
    """Base of SASRec and GRU4Rec: subclasses set `item_emb`, `max_len` and forward."""

    item_emb: nn.Embedding
    max_len: int

    def item_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every item for hidden states [..., dim] -> [..., n_items + 1]."""
        return hidden @ self.item_emb.weight.T

    def full_sort_predict(self, seq: torch.Tensor) -> torch.Tensor:
        """Next-item scores over the whole catalogue after each sequence: [B, n_items + 1]
        (column 0, padding, is -inf)."""
        logits = self.item_logits(self(seq)[:, -1])
        logits[:, 0] = float("-inf")
        return logits


def _hidden_and_targets(model: nn.Module, batch: dict[str, torch.Tensor]):
    core = getattr(model, "module", model)  # DistributedDataParallel wraps the model
    hidden = model(batch["input"])
    keep = batch["target"] > 0
    return core, hidden[keep], batch["target"][keep]


def next_item_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Full-softmax cross-entropy of the next item at every non-padding position."""
    core, hidden, target = _hidden_and_targets(model, batch)
    return F.cross_entropy(core.item_logits(hidden), target)


def sampled_next_item_loss(
    model: nn.Module, batch: dict[str, torch.Tensor], n_negatives: int = 100
) -> torch.Tensor:
    """Sampled-softmax cross-entropy: each position's target against `n_negatives` uniform
    items shared by the batch (one matrix product instead of one over the catalogue). A
    negative that is the position's own target is masked, so the loss never exceeds the
    full-softmax one; uniform sampling needs no log-q correction (it shifts every logit
    equally)."""
    core, hidden, target = _hidden_and_targets(model, batch)
    n_items = core.item_emb.num_embeddings - 1
    negatives = torch.randint(1, n_items + 1, (n_negatives,), device=hidden.device)
    pos = (hidden * core.item_emb(target)).sum(-1, keepdim=True)
    neg = hidden @ core.item_emb(negatives).T
    neg = neg.masked_fill(negatives[None, :] == target[:, None], float("-inf"))
    logits = torch.cat([pos, neg], 1)
    return F.cross_entropy(logits, torch.zeros(len(target), dtype=torch.long, device=logits.device))


LOSSES = ("full", "sampled")


def loss_function(name: str, n_negatives: int = 100) -> Callable:
    """loss(model, batch) for a loss name: "full" or "sampled" (softmax)."""
    if name == "full":
        return next_item_loss
    if name == "sampled":
        if n_negatives < 1:
            raise ValueError(f"n_negatives must be >= 1, got {n_negatives}")
        return lambda model, batch: sampled_next_item_loss(model, batch, n_negatives)
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
