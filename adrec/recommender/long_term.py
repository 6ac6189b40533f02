"""The long-term source's sequential model (SASRec or GRU4Rec), trained in process.

Interim version: fixed epochs with the best validation epoch kept; the helper branch
`longterm` replaces it with early stopping tuned against RecBole's defaults."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from adrec.metrics.ranking import full_ranks, hit_ndcg
from adrec.recommender.models import build_sequence_model
from adrec.recommender.next_item import NextItemModel, loss_function
from adrec.recommender.sasrec import left_pad
from adrec.recommender.sequences import training_examples
from adrec.training import train_one_epoch


@dataclass(frozen=True)
class LongTermConfig:
    kind: str = "sasrec"
    loss: str = "full"
    n_negatives: int = 100
    max_len: int = 50
    dim: int = 64
    n_layers: int = 2
    n_heads: int = 2
    dropout: float = 0.2
    lr: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 20
    patience: int = 5
    eval_every: int = 1


def build_model(n_items: int, cfg: LongTermConfig) -> NextItemModel:
    return build_sequence_model(
        cfg.kind, n_items, cfg.max_len, cfg.dim, cfg.n_layers, cfg.dropout, cfg.n_heads
    )


@torch.no_grad()
def next_item_probs(model, histories: list[np.ndarray], last: int | None = None) -> np.ndarray:
    """Softmax over the catalogue after each history (or its last `last` items):
    [n, n_items + 1] float64, padding column 0."""
    model.eval()
    if not histories:
        return np.zeros((0, model.item_emb.num_embeddings))
    seqs = [np.asarray(h, np.int64)[-(last or len(h)) :] for h in histories]
    batch = torch.stack([left_pad(s.copy(), model.max_len) for s in seqs])
    out = torch.cat([torch.softmax(model.full_sort_predict(b), -1) for b in batch.split(512)])
    return out.double().numpy()


def valid_ndcg(model, valid, exclude_seen: bool, k: int = 10) -> float:
    histories, targets = valid
    probs = next_item_probs(model, histories)
    seen = histories if exclude_seen else [np.zeros(0, np.int64)] * len(targets)
    return float(hit_ndcg(full_ranks(probs, np.asarray(targets), seen), k)[1].mean())


def fit_long_term(
    train_sequences: list[np.ndarray],
    n_items: int,
    cfg: LongTermConfig,
    seed: int,
    valid: tuple[list[np.ndarray], np.ndarray] | None = None,
    exclude_seen: bool = True,
    log=print,
) -> tuple[NextItemModel, dict]:
    """Train on every position of each sequence; with `valid` (histories, targets), keep
    the epoch with the best validation NDCG@10 and stop after `patience` evaluations
    without improvement."""
    t0 = time.perf_counter()
    loss = loss_function(cfg.loss, cfg.n_negatives)
    torch.manual_seed(seed)
    examples = [training_examples(s, cfg.max_len) for s in train_sequences if len(s) >= 2]
    if not examples:
        raise ValueError("no training sequence has at least 2 interactions")
    inputs = torch.as_tensor(np.concatenate([e["input"] for e in examples]))
    targets = torch.as_tensor(np.concatenate([e["target"] for e in examples]))
    model = build_model(n_items, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    best, best_state, best_epoch, curve, waited = -1.0, None, -1, [], 0
    epoch = -1
    for epoch in range(cfg.max_epochs):
        order = torch.randperm(len(inputs), generator=gen)
        batches = (
            {"input": inputs[order[i : i + cfg.batch_size]],
             "target": targets[order[i : i + cfg.batch_size]]}
            for i in range(0, len(inputs), cfg.batch_size)
        )  # fmt: skip
        train_loss = train_one_epoch(model, batches, loss, opt)
        if valid is None or (epoch + 1) % cfg.eval_every:
            continue
        score = valid_ndcg(model, valid, exclude_seen)
        curve.append({"epoch": epoch, "loss": train_loss, "valid_ndcg@10": score})
        log(f"  epoch {epoch}: loss {train_loss:.4f}, validation NDCG@10 {score:.4f}")
        if score > best:
            best, best_epoch, waited = score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    info = {
        "epochs_run": epoch + 1,
        "best_epoch": best_epoch if valid is not None else epoch,
        "best_valid_ndcg@10": best if valid is not None else None,
        "valid_curve": curve,
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    return model.eval(), info
