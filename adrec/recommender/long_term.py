"""The long-term next-item model (SASRec or GRU4Rec) trained in process with early stopping on
validation NDCG@10: plain PyTorch and NumPy, no Ray (adrec.distributed.recommend_train runs the
same recipe on Ray Train).

Training sees every position of each training sequence: a sequence is cut into windows of
`max_len` inputs whose ends lie `stride` items apart, and each target is predicted in exactly
one window (the one whose last `stride` positions hold it), so each target counts once per
epoch with at least `max_len - stride` items of context (all of them where the sequence is
shorter). `stride = max_len` (None) is plain chunking; RecBole's prefix augmentation is
`stride = 1` at a forward pass per target.

Validation ranks the whole catalogue after each validation history (full ranking, the
history's items excluded or kept per `exclude_seen`) and reports NDCG@10; training stops after
`patience` evaluations without a better one and returns the best evaluation's weights.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from adrec.metrics.ranking import full_ranks, hit_ndcg
from adrec.recommender.models import SEQUENCE_MODELS, build_sequence_model
from adrec.recommender.next_item import NextItemModel, loss_function
from adrec.recommender.sasrec import left_pad
from adrec.training import train_one_epoch

K = 10


@dataclass(frozen=True)
class LongTermConfig:
    """The long-term model and its training. Sizes and switches are SASRec's (GRU4Rec reads
    kind, max_len, dim, n_layers and dropout); `ffn_dim=None` means `dim`.

    The defaults are the best validation NDCG@10 of sweeps on ml-100k's leave-one-out split
    (benchmarks/sasrec_vs_recbole.py --sweep: validation targets only, never the test ones):
    RecBole's block layout (post-LN, GELU, a 4x feed-forward, normal(0, 0.02) weights, no
    embedding scale) with dropout 0.5, stopped 5 evaluations after the best, trained on
    windows 5 items apart (every target with at least 45 items of context), 256 windows per
    step at Adam's rate 0.002: mean validation NDCG@10 0.0730 over seeds 0-2, against 0.0633
    for plain chunks of 50 at batch 128 and rate 0.001 (the earlier defaults, about a third
    of the compute)."""

    kind: str = "sasrec"  # or "gru4rec"
    loss: str = "full"  # or "sampled" softmax over `n_negatives` uniform items
    n_negatives: int = 100
    max_len: int = 50
    dim: int = 64
    n_layers: int = 2
    n_heads: int = 2
    ffn_dim: int | None = 256
    activation: str = "gelu"  # or "relu"
    norm_first: bool = False  # post-LN as RecBole's SASRec; True: pre-LayerNorm blocks
    emb_scale: bool = False  # True: item embeddings times sqrt(dim)
    dropout: float = 0.5
    attn_dropout: float | None = None  # on attention weights (None: dropout)
    init_std: float | None = 0.02  # normal(0, init_std) linear weights (None: PyTorch's)
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    stride: int | None = 5  # training windows' step (None or max_len: plain chunks)
    max_epochs: int = 80
    patience: int = 5  # evaluations without a better validation NDCG@10
    eval_every: int = 1  # epochs between evaluations
    # Exponential moving average of the weights after every step (decay per step; None: off):
    # validation scores, and the fit returns, the averaged weights.
    ema_decay: float | None = None

    def __post_init__(self):
        if self.kind not in SEQUENCE_MODELS:
            raise ValueError(f"kind must be one of {sorted(SEQUENCE_MODELS)}, got {self.kind!r}")
        loss_function(self.loss, self.n_negatives)
        for name in ("max_len", "dim", "n_layers", "n_heads", "batch_size", "max_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.patience < 1 or self.eval_every < 1:
            raise ValueError("patience and eval_every must be >= 1")
        if self.stride is not None and not 1 <= self.stride <= self.max_len:
            raise ValueError(f"stride must lie in 1..max_len, got {self.stride}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in (0, 1), got {self.ema_decay}")

    def model_config(self, n_items: int) -> dict:
        """Keyword arguments of adrec.recommender.models.build_sequence_model (without kind)."""
        cfg = dict(
            n_items=n_items, max_len=self.max_len, dim=self.dim, n_layers=self.n_layers,
            dropout=self.dropout,
        )  # fmt: skip
        if self.kind == "sasrec":
            cfg.update(
                n_heads=self.n_heads, ffn_dim=self.ffn_dim, activation=self.activation,
                norm_first=self.norm_first, emb_scale=self.emb_scale,
                attn_dropout=self.attn_dropout, init_std=self.init_std,
            )  # fmt: skip
        return cfg

    def build(self, n_items: int) -> NextItemModel:
        return build_sequence_model(self.kind, **self.model_config(n_items))

    def to_dict(self) -> dict:
        return asdict(self)


def training_windows(
    items: np.ndarray, max_len: int, stride: int | None = None
) -> dict[str, np.ndarray]:
    """Input / target windows of one sequence, left-padded with 0: {"input", "target"} each
    [n, max_len]. Window ends lie `stride` items apart from the sequence's end; a window's
    targets are its last `stride` positions (all of them in the earliest window), so every
    item after the first is the target of exactly one position."""
    items = np.asarray(items, dtype=np.int64)
    stride = max_len if stride is None else stride
    inputs, targets = [], []
    end = len(items) - 1  # index of the last target
    while end >= 1:
        start = max(0, end - max_len)  # first input
        inp = items[start:end]
        tgt = items[start + 1 : end + 1].copy()
        tgt[: max(0, len(tgt) - stride)] = 0  # predicted in a later window
        pad = max_len - len(inp)
        inputs.append(np.concatenate([np.zeros(pad, np.int64), inp]))
        targets.append(np.concatenate([np.zeros(pad, np.int64), tgt]))
        end -= stride
    if not inputs:
        empty = np.zeros((0, max_len), np.int64)
        return {"input": empty, "target": empty.copy()}
    return {"input": np.stack(inputs), "target": np.stack(targets)}


def training_arrays(
    sequences: list[np.ndarray], max_len: int, stride: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """training_windows of every sequence with at least 2 items, stacked: (inputs, targets)."""
    windows = [training_windows(s, max_len, stride) for s in sequences if len(s) >= 2]
    if not windows:
        raise ValueError("no training sequence has at least 2 items")
    return (
        np.concatenate([w["input"] for w in windows]),
        np.concatenate([w["target"] for w in windows]),
    )


@torch.no_grad()
def next_item_probs(model, histories: list[np.ndarray], last: int | None = None) -> np.ndarray:
    """Softmax over the catalogue after each history (or its last `last` items):
    [n, n_items + 1], padding column 0."""
    seqs = [np.asarray(h, np.int64)[-(last or len(h)) :] for h in histories]
    batch = torch.stack([left_pad(s.copy(), model.max_len) for s in seqs])
    out = torch.cat([torch.softmax(model.full_sort_predict(b), -1) for b in batch.split(512)])
    return out.double().numpy()


@torch.no_grad()
def ranking_metrics(
    model: NextItemModel,
    histories: list[np.ndarray],
    targets: np.ndarray,
    exclude_seen: bool = True,
    k: int = K,
) -> dict[str, float]:
    """Full-ranking HR@k and NDCG@k of `targets` after `histories` (the model in eval mode
    for the call, its mode restored after)."""
    was_training = model.training
    model.eval()
    try:
        scores = next_item_probs(model, histories)
    finally:
        model.train(was_training)
    seen = (
        [np.asarray(h, np.int64) for h in histories]
        if exclude_seen
        else [np.zeros(0, np.int64)] * len(histories)
    )
    hit, ndcg = hit_ndcg(full_ranks(scores, np.asarray(targets), seen), k)
    return {f"hr@{k}": float(hit.mean()), f"ndcg@{k}": float(ndcg.mean())}


@dataclass
class EarlyStopping:
    """Best validation score so far and the evaluations since: `update` after each
    evaluation, `should_stop` once `patience` evaluations in a row brought no better score.
    Plain data (`to_dict` / `from_dict`) so a checkpoint can carry it."""

    patience: int
    best: float = float("-inf")
    best_epoch: int = 0
    bad_evals: int = 0
    curve: list[dict] = field(default_factory=list)

    def update(self, epoch: int, score: float, **extra) -> bool:
        """Record `score` after `epoch` (1-based); True when it is the best so far."""
        self.curve.append({"epoch": epoch, "valid_ndcg@10": float(score), **extra})
        if score > self.best:
            self.best, self.best_epoch, self.bad_evals = float(score), epoch, 0
            return True
        self.bad_evals += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_evals >= self.patience

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EarlyStopping:
        return cls(**d)


class AveragingOptimizer:
    """An optimizer that also updates an exponential moving average of the model's weights
    after each step (what adrec.training.train_one_epoch needs: zero_grad and step)."""

    def __init__(self, optimizer: torch.optim.Optimizer, model: nn.Module, decay: float):
        self.optimizer = optimizer
        self.model = model
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        self.optimizer.step()
        self.averaged.update_parameters(self.model)

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)


def with_averaging(optimizer, model: nn.Module, decay: float | None):
    """(optimizer to step, model to evaluate): `model` itself without averaging."""
    if decay is None:
        return optimizer, model
    wrapped = AveragingOptimizer(optimizer, model, decay)
    return wrapped, wrapped.averaged.module


def shuffled_batches(
    inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, generator: torch.Generator
) -> list[dict[str, torch.Tensor]]:
    order = torch.randperm(len(inputs), generator=generator)
    return [
        {"input": inputs[idx], "target": targets[idx]}
        for idx in (order[i : i + batch_size] for i in range(0, len(inputs), batch_size))
    ]


def fit_long_term(
    train_sequences: list[np.ndarray],
    n_items: int,
    cfg: LongTermConfig,
    seed: int,
    valid: tuple[list[np.ndarray], np.ndarray] | None = None,
    exclude_seen: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[NextItemModel, dict]:
    """Train `cfg`'s model on every position of the training sequences. With `valid`
    (histories, targets): full-ranking NDCG@10 after every `eval_every` epochs, stop after
    `patience` evaluations without improvement, and return the best evaluation's weights;
    without it, train `max_epochs`. Returns (model on CPU in eval mode, info) with info
    {"epochs_run", "best_epoch" (1-based), "best_valid_ndcg@10", "valid_curve",
    "train_seconds", "cpu_seconds" (this process's CPU time: on a shared machine, wall time
    swings with the load)}; deterministic for a seed on one thread count."""
    start, cpu_start = time.perf_counter(), time.process_time()
    torch.manual_seed(seed)
    model = cfg.build(n_items)
    x, y = training_arrays(train_sequences, cfg.max_len, cfg.stride)
    inputs, targets = torch.as_tensor(x), torch.as_tensor(y)
    loss_fn = loss_function(cfg.loss, cfg.n_negatives)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    optimizer, evaluated = with_averaging(optimizer, model, cfg.ema_decay)
    gen = torch.Generator().manual_seed(seed)
    stopper = EarlyStopping(cfg.patience)
    best_state = None
    epoch = 0
    for epoch in range(1, cfg.max_epochs + 1):
        loss = train_one_epoch(
            model, shuffled_batches(inputs, targets, cfg.batch_size, gen), loss_fn, optimizer
        )
        if valid is None or (epoch % cfg.eval_every and epoch != cfg.max_epochs):
            continue
        score = ranking_metrics(evaluated, valid[0], valid[1], exclude_seen)[f"ndcg@{K}"]
        seconds = round(time.perf_counter() - start, 2)
        if stopper.update(epoch, score, loss=round(loss, 5), seconds=seconds):
            best_state = copy.deepcopy(evaluated.state_dict())
        log(
            f"epoch {epoch}: loss {loss:.4f}, valid NDCG@{K} {score:.4f} "
            f"(best {stopper.best:.4f} at {stopper.best_epoch}), {seconds:.1f} s"
        )
        if stopper.should_stop:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    elif evaluated is not model:  # no validation: the averaged weights of the last step
        model.load_state_dict(evaluated.state_dict())
    info = {
        "epochs_run": epoch,
        "best_epoch": stopper.best_epoch if valid is not None else epoch,
        "best_valid_ndcg@10": stopper.best if valid is not None else None,
        "valid_curve": stopper.curve,
        "train_seconds": round(time.perf_counter() - start, 2),
        "cpu_seconds": round(time.process_time() - cpu_start, 2),
    }
    return model.cpu().eval(), info
