"""The long-term model's trainer on Ray Train, with the in-process trainer's signature
(adrec.recommender.long_term.fit_long_term), so the fit step can use either."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from adrec.distributed.recommend_train import fit_next_item_on_ray


def ray_long_term_trainer(
    num_workers: int = 2, use_gpu: bool = False, storage: str | Path | None = None
) -> Callable:
    """fit(train_sequences, n_items, cfg, seed, valid=None, exclude_seen=True, log=print)
    on Ray Train workers (DDP; checkpoints under `storage`, so a rerun resumes)."""

    def fit(train_sequences, n_items, cfg, seed, valid=None, exclude_seen=True, log=print):
        model, metrics = fit_next_item_on_ray(
            train_sequences, n_items, max_len=cfg.max_len, dim=cfg.dim, n_layers=cfg.n_layers,
            n_heads=cfg.n_heads, dropout=cfg.dropout, epochs=cfg.max_epochs,
            batch_size=cfg.batch_size, lr=cfg.lr, seed=seed, num_workers=num_workers,
            use_gpu=use_gpu, storage=storage, kind=cfg.kind, loss=cfg.loss,
            n_negatives=cfg.n_negatives,
        )  # fmt: skip
        start = int(metrics.get("start_epoch", 0))
        if start:
            log(f"  resumed the {cfg.kind} training from its checkpoint at epoch {start}")
        return model, {
            "epochs_run": cfg.max_epochs,
            "best_epoch": cfg.max_epochs - 1,
            "best_valid_ndcg@10": None,
            "valid_curve": [],
            "resumed_from_epoch": start,
            "workers": num_workers,
            **{k: v for k, v in metrics.items() if k in ("loss",)},
        }

    return fit
