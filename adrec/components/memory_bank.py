"""A memory bank of normal feature vectors, kept as a buffer so it is saved (and exported)
with the module; queried through the bounded-memory kNN."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from adrec.components.knn import MAX_BLOCK, knn_distances


class MemoryBank(nn.Module):
    def __init__(self, dim: int, size: int = 0, max_block: int = MAX_BLOCK):
        super().__init__()
        self.max_block = max_block
        self.register_buffer("bank", torch.zeros(size, dim))

    def fill(self, rows: Tensor) -> MemoryBank:
        """Replace the bank's rows (a new size is fine: the buffer is replaced)."""
        if rows.ndim != 2 or rows.shape[1] != self.bank.shape[1]:
            raise ValueError(f"bank rows must be [n, {self.bank.shape[1]}], got {rows.shape}")
        self.bank = rows.detach().float().contiguous().clone()
        return self

    def forward(self, query: Tensor, k: int = 1) -> Tensor:
        """Distances [q, k] from each query row to its k nearest bank rows."""
        return knn_distances(query, self.bank, k, self.max_block)[0]
