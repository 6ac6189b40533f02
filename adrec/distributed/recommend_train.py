"""The bench's long-term sequential model (SASRec or GRU4Rec) through Ray Train: training
sequences as a Ray Data dataset of {"input", "target"} rows, trained by
adrec.distributed.train.train_next_item_model (DDP workers)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import ray.data

from adrec.distributed.cluster import connect
from adrec.distributed.train import TrainSettings, train_next_item_model
from adrec.recommender.next_item import NextItemModel
from adrec.recommender.sequences import training_examples


def sequence_dataset(
    sequences: list[np.ndarray], max_len: int, num_blocks: int = 2
) -> ray.data.Dataset:
    """One row per max_len chunk of every sequence (chunks as training_examples cuts them)."""
    examples = [training_examples(s, max_len) for s in sequences if len(s) >= 2]
    if not examples:
        raise ValueError("no training sequence has at least 2 items")
    rows = [
        {"input": i, "target": t}
        for e in examples
        for i, t in zip(e["input"], e["target"], strict=True)
    ]
    # A few blocks, not Ray's default of many: each block is a task per epoch.
    return ray.data.from_items(rows, override_num_blocks=num_blocks)


def fit_next_item_on_ray(
    sequences: list[np.ndarray],
    n_items: int,
    *,
    max_len: int = 50,
    dim: int = 64,
    n_layers: int = 2,
    n_heads: int = 2,
    dropout: float = 0.2,
    epochs: int = 20,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    num_workers: int = 2,
    use_gpu: bool = False,
    storage: str | Path | None = None,
    kind: str = "sasrec",
    loss: str = "full",
    n_negatives: int = 100,
) -> tuple[NextItemModel, dict]:
    """Train a `kind` model (sasrec, gru4rec) under the `loss` (full, sampled) on the
    connected Ray cluster (a local one is started when none is); returns the model on CPU in
    eval mode and the last reported metrics. Each worker reads its
    shard in batches of batch_size // num_workers, so one step still sees batch_size rows.
    Without `storage` the checkpoints go to a temporary folder: a named run in a kept folder
    would resume from its last checkpoint on the next call."""
    connect()
    model_cfg = dict(
        n_items=n_items, max_len=max_len, dim=dim, n_layers=n_layers, n_heads=n_heads,
        dropout=dropout,
    )  # fmt: skip
    config = {
        "model": model_cfg,
        "kind": kind,
        "loss": loss,
        "n_negatives": n_negatives,
        "epochs": epochs,
        "lr": lr,
        "batch_size": max(1, batch_size // num_workers),
        "seed": seed,
        "report_every": max(1, epochs),  # one controller round trip, after the last epoch
    }
    settings = TrainSettings(num_workers=num_workers, use_gpu=use_gpu)
    dataset = sequence_dataset(sequences, max_len, num_blocks=num_workers)
    if storage is not None:
        return train_next_item_model(
            dataset, config, Path(storage), settings, name=f"{kind}_seed{seed}"
        )
    with tempfile.TemporaryDirectory(prefix="adrec_sasrec_") as d:
        return train_next_item_model(dataset, config, Path(d), settings, name=f"{kind}_seed{seed}")
