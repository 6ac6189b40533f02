"""One epoch of gradient descent, shared by in-process fits and Ray Train workers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


def train_one_epoch(
    model: torch.nn.Module,
    batches: Iterable[Any],
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float = 5.0,
) -> float:
    """Run one pass over `batches`; returns the mean loss per batch (nan when none came)."""
    model.train()
    total, n = 0.0, 0
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        total += float(loss.detach())
        n += 1
    return total / n if n else float("nan")


def minibatches(x: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffled mini-batches of the rows of `x`."""
    order = torch.randperm(len(x), generator=generator)
    return [x[order[i : i + batch_size]] for i in range(0, len(x), batch_size)]
