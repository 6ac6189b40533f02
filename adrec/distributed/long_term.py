"""The long-term model's trainer on Ray Train, with the in-process trainer's signature
(adrec.recommender.long_term.fit_long_term), so the fit step can use either."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from adrec.distributed.recommend_train import fit_long_term_on_ray


def ray_long_term_trainer(
    num_workers: int = 2, use_gpu: bool = False, storage: str | Path | None = None
) -> Callable:
    """fit(train_sequences, n_items, cfg, seed, valid=None, exclude_seen=True, log=print)
    on Ray Train workers (DDP; early stopping on validation; checkpoints under `storage`, so
    a rerun with the same storage resumes and says from which epoch)."""
    return functools.partial(
        fit_long_term_on_ray, storage=storage, num_workers=num_workers, use_gpu=use_gpu
    )
