"""Ray Train (TorchTrainer, DDP): the recommender's next-item loop with early stopping, and
what the neural detectors' loop (adrec.distributed.train_detector) shares with it: the fit,
checkpoints, resuming, progress.

One loop function per model, the same for 1 or N workers and for CPU or GPU. Each loop starts
from `ray.train.get_checkpoint()` so a run restarted with the same RunConfig(name,
storage_path) resumes; rank 0 alone writes checkpoints."""

from __future__ import annotations

import copy
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

import numpy as np
import ray
import ray.data
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer
from ray.util.queue import Queue

from adrec.recommender.long_term import EarlyStopping, K, ranking_metrics, with_averaging
from adrec.recommender.models import build_sequence_model
from adrec.recommender.next_item import NextItemModel, loss_function
from adrec.training import train_one_epoch


@dataclass(frozen=True)
class TrainSettings:
    num_workers: int = 2
    use_gpu: bool = False
    cpus_per_worker: float = 1.0
    torch_threads: int = 1
    max_failures: int = 1


def _fit(
    loop,
    config: dict,
    datasets: dict,
    name: str,
    storage: Path,
    settings: TrainSettings,
    callbacks: list | None = None,
) -> ray.train.Result:
    trainer = TorchTrainer(
        loop,
        train_loop_config={**config, "torch_threads": settings.torch_threads},
        scaling_config=ScalingConfig(
            num_workers=settings.num_workers,
            use_gpu=settings.use_gpu,
            resources_per_worker={"CPU": settings.cpus_per_worker},
        ),
        run_config=RunConfig(
            name=name,
            storage_path=str(storage.resolve()),
            failure_config=FailureConfig(max_failures=settings.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            callbacks=callbacks,
        ),
        datasets=datasets,
    )
    return trainer.fit()


def _resume(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Load the latest checkpoint if this run has one; returns the epoch to start from."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return 0
    with checkpoint.as_directory() as d:
        state = torch.load(Path(d) / "state.pt", weights_only=True, map_location="cpu")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["epoch"]) + 1


def _report(metrics: dict, model: torch.nn.Module, optimizer, epoch: int) -> None:
    ctx = ray.train.get_context()
    if ctx.get_world_rank() != 0:
        ray.train.report(metrics)
        return
    core = getattr(model, "module", model)
    with tempfile.TemporaryDirectory() as d:
        state = {"model": core.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
        torch.save(state, Path(d) / "state.pt")
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))


def _train_epochs(model, optimizer, batches_of_epoch, loss_fn, config: dict) -> None:
    """Train for config["epochs"], reporting (with a checkpoint) every
    config["report_every"] epochs and after the last one: each report is a round trip through
    the train controller, which costs more than a small epoch."""
    start = _resume(model, optimizer)
    model = ray.train.torch.prepare_model(model)
    epochs, every = config["epochs"], config.get("report_every", 5)
    for epoch in range(start, epochs):
        loss = train_one_epoch(model, batches_of_epoch(), loss_fn, optimizer)
        if (epoch + 1) % every == 0 or epoch == epochs - 1:
            # start_epoch > 0 records that this run resumed from a checkpoint.
            metrics = {"epoch": epoch, "loss": loss, "start_epoch": start}
            _report(metrics, model, optimizer, epoch)


def _next_item_parts(config: dict) -> tuple[NextItemModel, Callable]:
    """The model and loss a next-item config names (default: SASRec, full softmax)."""
    model = build_sequence_model(config.get("kind", "sasrec"), **config["model"])
    return model, loss_function(config.get("loss", "full"), config.get("n_negatives", 100))


def next_item_loop(config: dict) -> None:
    """SASRec or GRU4Rec (config "kind") under the full or sampled softmax (config "loss"),
    with early stopping on validation NDCG@10 (config "valid": {"histories", "targets",
    "exclude_seen"}, "patience", "eval_every", "max_epochs"; see _train_early_stopping)."""
    torch.set_num_threads(config["torch_threads"])
    torch.manual_seed(config["seed"])
    model, loss = _next_item_parts(config)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config["lr"], weight_decay=config.get("weight_decay", 0.0)
    )
    shard = ray.train.get_dataset_shard("train")
    device = ray.train.torch.get_device()
    epoch_counter = iter(range(1 << 30))

    def batches():
        yield from shard.iter_torch_batches(
            batch_size=config["batch_size"],
            device=device,
            dtypes={"input": torch.long, "target": torch.long},
            local_shuffle_buffer_size=config.get("shuffle_buffer", 4 * config["batch_size"]),
            # Another order every epoch, the same for a seed.
            local_shuffle_seed=config["seed"] * 100_003 + next(epoch_counter),
        )

    _train_early_stopping(model, optimizer, batches, loss, config)


def _broadcast_score(score: float) -> float:
    """Rank 0's validation score on every worker (all then stop at the same evaluation)."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return score
    t = torch.tensor([score], dtype=torch.float64)
    dist.broadcast(t, src=0)
    return float(t.item())


FAIL_AT_EPOCH = "ADREC_FAIL_AT_EPOCH"


def _injected_failure(epoch: int, resumed: bool) -> None:
    """Failure injection for tests of recovery: with $ADREC_FAIL_AT_EPOCH=N in the workers'
    environment (a job's runtime_env env_vars), rank 0 of a run that did not start from a
    checkpoint fails at the start of epoch N; Ray Train (FailureConfig) then restarts the
    workers, which resume from the last checkpoint and do not fail again."""
    at = os.environ.get(FAIL_AT_EPOCH)
    if at and not resumed and epoch == int(at) and ray.train.get_context().get_world_rank() == 0:
        raise RuntimeError(f"injected failure at the start of epoch {epoch} (${FAIL_AT_EPOCH})")


def _train_early_stopping(model, optimizer, batches_of_epoch, loss_fn, config: dict) -> None:
    """Train until `patience` evaluations (every `eval_every` epochs, at most `max_epochs`)
    bring no better validation NDCG@10. Rank 0 evaluates (full ranking of the validation
    targets) and broadcasts the score, so every worker takes the same decision. Every report
    carries the evaluation's metrics; rank 0 adds a checkpoint (current and best weights,
    optimizer, early-stopping state, seconds so far) when the score improved, every
    `checkpoint_every` evaluations, and at the end, so a run restarted with the same
    RunConfig resumes from the last one. With config "ema_decay", rank 0 keeps the moving
    average of the weights, and evaluates and keeps that (as fit_long_term does)."""
    valid = config["valid"]
    stopper = EarlyStopping(config["patience"])
    core = model
    best_state, start, seconds_before = None, 0, 0.0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            state = torch.load(Path(d) / "state.pt", weights_only=True, map_location="cpu")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        best_state = state["best_model"]
        stopper = EarlyStopping.from_dict(state["early_stopping"])
        start, seconds_before = int(state["epoch"]), float(state["train_seconds"])
    rank = ray.train.get_context().get_world_rank()
    model = ray.train.torch.prepare_model(model)
    evaluated = core
    if rank == 0:  # the other ranks take the same steps; rank 0 alone needs the average
        optimizer, evaluated = with_averaging(optimizer, core, config.get("ema_decay"))
        if evaluated is not core and checkpoint is not None and "ema_model" in state:
            optimizer.averaged.load_state_dict(state["ema_model"])
    clock = time.perf_counter()
    every, max_epochs = config["eval_every"], config["max_epochs"]
    evals_since_checkpoint = 0

    def seconds() -> float:
        return round(seconds_before + time.perf_counter() - clock, 2)

    def report(metrics: dict, with_checkpoint: bool, epoch: int) -> None:
        metrics = {**metrics, "resumed_from_epoch": start, "train_seconds": seconds()}
        if rank != 0 or not with_checkpoint:
            ray.train.report(metrics)
            return
        state = {
            "model": core.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
            "best_model": best_state if best_state is not None else core.state_dict(),
            "early_stopping": stopper.to_dict(), "train_seconds": metrics["train_seconds"],
        }  # fmt: skip
        if evaluated is not core:
            state["ema_model"] = optimizer.averaged.state_dict()
        with tempfile.TemporaryDirectory() as d:
            torch.save(state, Path(d) / "state.pt")
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))

    epoch = start
    done = stopper.should_stop or start >= max_epochs
    while not done:
        epoch += 1
        _injected_failure(epoch, resumed=checkpoint is not None)
        loss = train_one_epoch(model, batches_of_epoch(), loss_fn, optimizer)
        if epoch % every and epoch != max_epochs:
            continue
        score = float("nan")
        if rank == 0:
            score = ranking_metrics(
                evaluated, valid["histories"], np.asarray(valid["targets"]), valid["exclude_seen"]
            )[f"ndcg@{K}"]
        score = _broadcast_score(score)
        improved = stopper.update(epoch, score, loss=round(loss, 5), seconds=seconds())
        if improved and rank == 0:
            best_state = copy.deepcopy(evaluated.state_dict())
        done = stopper.should_stop or epoch >= max_epochs
        evals_since_checkpoint += 1
        keep = improved or done or evals_since_checkpoint >= config.get("checkpoint_every", 5)
        evals_since_checkpoint = 0 if keep else evals_since_checkpoint
        metrics = {"epoch": epoch, "loss": loss, f"valid_ndcg@{K}": score, "improved": improved,
                   "best_epoch": stopper.best_epoch, f"best_valid_ndcg@{K}": stopper.best,
                   "stopped": done}  # fmt: skip
        report(metrics, keep, epoch)
    if epoch == start:  # resumed a finished run: report its checkpoint again as the result
        metrics = {"epoch": epoch, "best_epoch": stopper.best_epoch,
                   f"best_valid_ndcg@{K}": stopper.best, "stopped": True}  # fmt: skip
        report(metrics, True, epoch)


def _load_model(
    result: ray.train.Result, model: torch.nn.Module, key: str = "model"
) -> torch.nn.Module:
    if result.error is not None:
        raise RuntimeError(f"training failed: {result.error}") from result.error
    with result.checkpoint.as_directory() as d:
        state = torch.load(Path(d) / "state.pt", weights_only=True, map_location="cpu")
    model.load_state_dict(state[key])
    return model.eval()


def _checkpoint_state(result: ray.train.Result) -> dict:
    with result.checkpoint.as_directory() as d:
        return torch.load(Path(d) / "state.pt", weights_only=True, map_location="cpu")


class _ForwardReports(ray.train.UserCallback):
    """Runs in the Train controller, whose output does not reach a quiet driver: hands rank
    0's metrics of every report to the driver through a queue."""

    def __init__(self, queue: Queue):
        self.queue = queue

    def after_report(self, run_context, metrics: list[dict], checkpoint) -> None:
        self.queue.put(metrics[0])


def fit_with_progress(
    loop, config, datasets, name, storage, settings, log: Callable[[dict], None]
) -> ray.train.Result:
    """`_fit`, calling `log(metrics)` on the driver with rank 0's metrics of every report."""
    queue = Queue(actor_options={"num_cpus": 0})
    finished = threading.Event()

    def forward() -> None:
        while not (finished.is_set() and queue.empty()):
            try:
                log(queue.get(timeout=0.2))
            except Empty:
                pass

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        return _fit(loop, config, datasets, name, storage, settings, [_ForwardReports(queue)])
    finally:
        finished.set()
        thread.join()
        ray.kill(queue.actor)


def train_next_item_early_stopping(
    examples: ray.data.Dataset,
    config: dict,
    storage: Path,
    settings: TrainSettings,
    name: str,
    log: Callable[[dict], None] | None = None,
) -> tuple[NextItemModel, dict]:
    """next_item_loop with early stopping (config "valid", "patience", "eval_every",
    "max_epochs"); returns the best evaluation's weights (CPU, eval mode) and
    {"epochs_run", "best_epoch", "best_valid_ndcg@10", "valid_curve", "train_seconds",
    "resumed_from_epoch"}. `log` gets rank 0's metrics of every evaluation."""
    model, _ = _next_item_parts(config)  # bad names fail here, before any worker starts
    datasets = {"train": examples.select_columns(["input", "target"])}
    if log is None:
        result = _fit(next_item_loop, config, datasets, name, storage, settings)
    else:
        result = fit_with_progress(next_item_loop, config, datasets, name, storage, settings, log)
    model = _load_model(result, model, key="best_model")
    state = _checkpoint_state(result)
    stopper = EarlyStopping.from_dict(state["early_stopping"])
    metrics = dict(result.metrics or {})
    return model, {
        "epochs_run": int(state["epoch"]),
        "best_epoch": stopper.best_epoch,
        f"best_valid_ndcg@{K}": stopper.best,
        "valid_curve": stopper.curve,
        "train_seconds": float(state["train_seconds"]),
        "resumed_from_epoch": int(metrics.get("resumed_from_epoch", 0)),
    }
