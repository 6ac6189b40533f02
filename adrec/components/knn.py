"""Nearest-neighbour distances in bounded memory.

The query rows are taken in chunks and the bank in blocks, so no step holds more than about
`max_block` distances (the full [queries x bank] matrix never exists); a running top-k is
merged block by block. Candidates come from the fast matrix-product form of the squared
distance, then the kept candidates' distances are recomputed exactly in float64: the product
form rounds small distances differently from batch to batch, and a row's score must not
depend on the rows scored with it. Written for TorchScript (the exported PatchCore uses it).
"""

from __future__ import annotations

import torch
from torch import Tensor

MAX_BLOCK = 1 << 22  # 4M distances: 16 MiB of float32 per step


def knn_distances(
    query: Tensor, bank: Tensor, k: int = 1, max_block: int = MAX_BLOCK
) -> tuple[Tensor, Tensor]:
    """Euclidean distances [q, k] (ascending, float32) from each query row to its k nearest
    rows of `bank`, and their indices [q, k]. k is capped at the bank's size."""
    n_bank = bank.shape[0]
    if n_bank == 0:
        raise ValueError("the bank is empty")
    if query.shape[1] != bank.shape[1]:
        raise ValueError("query and bank rows differ in width")
    k = min(k, n_bank)
    n_cand = min(k + 4, n_bank)
    dim = bank.shape[1]
    block = min(n_bank, max_block)
    rows = max(1, max_block // max(block, n_cand * dim))
    bank_sq = bank.pow(2).sum(1)
    dists: list[Tensor] = []
    idxs: list[Tensor] = []
    for start in range(0, query.shape[0], rows):
        q = query[start : start + rows]
        q_sq = q.pow(2).sum(1, keepdim=True)
        best_d = torch.empty(q.shape[0], 0, dtype=q.dtype, device=q.device)
        best_i = torch.empty(q.shape[0], 0, dtype=torch.long, device=q.device)
        for b0 in range(0, n_bank, block):
            b = bank[b0 : b0 + block]
            d2 = (q_sq + bank_sq[b0 : b0 + block] - 2.0 * (q @ b.T)).clamp_min(0.0)
            d_blk, i_blk = d2.topk(min(n_cand, d2.shape[1]), dim=1, largest=False)
            if best_d.shape[1] == 0:
                best_d, best_i = d_blk, i_blk + b0
            else:  # merge the running candidates with this block's
                best_d = torch.cat([best_d, d_blk], 1)
                best_i = torch.cat([best_i, i_blk + b0], 1)
                best_d, pos = best_d.topk(min(n_cand, best_d.shape[1]), dim=1, largest=False)
                best_i = best_i.gather(1, pos)
        diff = q[:, None, :].double() - bank[best_i].double()
        exact = diff.pow(2).sum(-1).sqrt()
        d, order = exact.topk(k, dim=1, largest=False)
        dists.append(d.float())
        idxs.append(best_i.gather(1, order))
    return torch.cat(dists), torch.cat(idxs)
