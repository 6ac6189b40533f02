"""The long-term sequential model (SASRec or GRU4Rec) through Ray Train: training sequences
as a Ray Data dataset of {"input", "target"} rows, trained by adrec.distributed.train's
next_item_loop on DDP workers; `fit_long_term_on_ray` is adrec.recommender.long_term's
`fit_long_term` (early stopping on validation NDCG@10) on a cluster."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import ray.data

from adrec.distributed.cluster import connect
from adrec.distributed.train import TrainSettings, train_next_item_early_stopping
from adrec.recommender.long_term import K, LongTermConfig, training_arrays
from adrec.recommender.next_item import NextItemModel


def sequence_dataset(
    sequences: list[np.ndarray], max_len: int, num_blocks: int = 2, stride: int | None = None
) -> ray.data.Dataset:
    """One row per training window of every sequence (adrec.recommender.long_term's
    training_windows: chunks of max_len, or windows `stride` items apart)."""
    inputs, targets = training_arrays(sequences, max_len, stride)
    rows = [{"input": i, "target": t} for i, t in zip(inputs, targets, strict=True)]
    # A few blocks, not Ray's default of many: each block is a task per epoch.
    return ray.data.from_items(rows, override_num_blocks=num_blocks)


def fit_long_term_on_ray(
    train_sequences: list[np.ndarray],
    n_items: int,
    cfg: LongTermConfig,
    seed: int,
    valid: tuple[list[np.ndarray], np.ndarray] | None = None,
    exclude_seen: bool = True,
    log: Callable[[str], None] = print,
    storage: str | Path | None = None,
    num_workers: int = 2,
    use_gpu: bool = False,
    name: str | None = None,
    cpus_per_worker: float = 1.0,
) -> tuple[NextItemModel, dict]:
    """adrec.recommender.long_term.fit_long_term on Ray Train: `num_workers` DDP workers each
    read a shard in batches of batch_size // num_workers (one step still sees batch_size rows);
    rank 0 evaluates validation NDCG@10 every `eval_every` epochs and broadcasts it, so all
    workers stop together after `patience` evaluations without improvement; rank 0
    checkpoints the best weights. Without `valid` it trains cfg.max_epochs. Returns the best
    weights (CPU, eval mode) and {"epochs_run", "best_epoch", "best_valid_ndcg@10",
    "valid_curve", "train_seconds", "resumed_from_epoch"}.

    The run is named `name` (default "<kind>_seed<seed>") under `storage`: run again with the
    same storage and name, it resumes from the last checkpoint (and says so). Without
    `storage` the checkpoints go to a temporary folder."""
    connect()
    if valid is None:
        histories, targets = [np.zeros(0, np.int64)], np.zeros(1, np.int64)
        patience = cfg.max_epochs + 1  # never stops early; the score is ignored
    else:
        histories, targets = valid
        patience = cfg.patience
    config = {
        "model": cfg.model_config(n_items),
        "kind": cfg.kind,
        "loss": cfg.loss,
        "n_negatives": cfg.n_negatives,
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "ema_decay": cfg.ema_decay,
        "batch_size": max(1, cfg.batch_size // num_workers),
        "shuffle_buffer": 1 << 20,  # a whole shard: an in-memory shuffle every epoch
        "seed": seed,
        "max_epochs": cfg.max_epochs,
        "patience": patience,
        "eval_every": cfg.eval_every if valid is not None else cfg.max_epochs,
        "valid": {
            "histories": [np.asarray(h, np.int64) for h in histories],
            "targets": np.asarray(targets, np.int64),
            "exclude_seen": exclude_seen,
        },
    }
    settings = TrainSettings(
        num_workers=num_workers, use_gpu=use_gpu, cpus_per_worker=cpus_per_worker
    )
    dataset = sequence_dataset(train_sequences, cfg.max_len, num_workers, cfg.stride)
    name = name or f"{cfg.kind}_seed{seed}"

    def progress(m: dict) -> None:
        if "valid_ndcg@10" in m and valid is not None:
            log(
                f"epoch {m['epoch']}: loss {m['loss']:.4f}, valid NDCG@{K} "
                f"{m['valid_ndcg@10']:.4f} (best {m['best_valid_ndcg@10']:.4f} at "
                f"{m['best_epoch']}), {m['train_seconds']:.1f} s"
            )

    def fit(root: Path) -> tuple[NextItemModel, dict]:
        previous = sorted((root / name).glob("checkpoint_*"))
        if previous:
            log(f"{name}: a checkpoint exists under {root / name}; resuming from it")
        model, info = train_next_item_early_stopping(
            dataset, config, root, settings, name, log=progress
        )
        if info["resumed_from_epoch"]:
            log(f"{name}: resumed from the checkpoint of epoch {info['resumed_from_epoch']}")
        if valid is None:
            info.update(best_epoch=info["epochs_run"], valid_curve=[])
            info[f"best_valid_ndcg@{K}"] = None
        return model, info

    if storage is not None:
        return fit(Path(storage))
    with tempfile.TemporaryDirectory(prefix="adrec_long_term_") as d:
        return fit(Path(d))
