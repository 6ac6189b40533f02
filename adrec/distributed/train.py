"""Ray Train loops (TorchTrainer, DDP) for the behaviour detector and the recommender.

One loop function per model, the same for 1 or N workers and for CPU or GPU. Each loop starts
from `ray.train.get_checkpoint()` so a run restarted with the same RunConfig(name,
storage_path) resumes; rank 0 alone writes checkpoints."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ray.data
import ray.train
import ray.train.torch
import torch
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from adrec.detectors.lstm_ae.torch_model import LSTMAutoencoder, reconstruction_loss
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


def lstm_ae_loop(config: dict) -> None:
    torch.set_num_threads(config["torch_threads"])
    torch.manual_seed(config["seed"])
    model = LSTMAutoencoder(config["n_features"], config["hidden"], config["latent"])
    model.mean.copy_(torch.tensor(config["mean"]))
    model.std.copy_(torch.tensor(config["std"]).clamp_min(1e-3))
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    shard = ray.train.get_dataset_shard("train")
    device = ray.train.torch.get_device()

    def batches():
        for b in shard.iter_torch_batches(
            batch_size=config["batch_size"],
            device=device,
            local_shuffle_buffer_size=4 * config["batch_size"],
        ):
            yield b["window"].float()

    _train_epochs(model, optimizer, batches, reconstruction_loss, config)


def _next_item_parts(config: dict) -> tuple[NextItemModel, Callable]:
    """The model and loss a next-item config names (default: SASRec, full softmax)."""
    model = build_sequence_model(config.get("kind", "sasrec"), **config["model"])
    return model, loss_function(config.get("loss", "full"), config.get("n_negatives", 100))


def next_item_loop(config: dict) -> None:
    """SASRec or GRU4Rec (config "kind") under the full or sampled softmax (config "loss")."""
    torch.set_num_threads(config["torch_threads"])
    torch.manual_seed(config["seed"])
    model, loss = _next_item_parts(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    shard = ray.train.get_dataset_shard("train")
    device = ray.train.torch.get_device()

    def batches():
        yield from shard.iter_torch_batches(
            batch_size=config["batch_size"],
            device=device,
            dtypes={"input": torch.long, "target": torch.long},
            local_shuffle_buffer_size=4 * config["batch_size"],
        )

    _train_epochs(model, optimizer, batches, loss, config)


def _load_model(result: ray.train.Result, model: torch.nn.Module) -> torch.nn.Module:
    if result.error is not None:
        raise RuntimeError(f"training failed: {result.error}") from result.error
    with result.checkpoint.as_directory() as d:
        state = torch.load(Path(d) / "state.pt", weights_only=True, map_location="cpu")
    model.load_state_dict(state["model"])
    return model.eval()


def train_lstm_ae(
    windows: ray.data.Dataset,
    config: dict,
    storage: Path,
    settings: TrainSettings,
    name: str = "lstm_ae",
) -> tuple[LSTMAutoencoder, dict]:
    """Train on normal windows (column "window"); returns the model and its last metrics."""
    result = _fit(
        lstm_ae_loop, config, {"train": windows.select_columns(["window"])}, name, storage, settings
    )
    model = LSTMAutoencoder(config["n_features"], config["hidden"], config["latent"])
    return _load_model(result, model), dict(result.metrics or {})


def train_next_item_model(
    examples: ray.data.Dataset,
    config: dict,
    storage: Path,
    settings: TrainSettings,
    name: str = "sasrec",
) -> tuple[NextItemModel, dict]:
    """Train on rows with "input" and "target" item sequences; config "kind" (sasrec,
    gru4rec) and "loss" (full, sampled, with "n_negatives") default to SASRec, full softmax."""
    model, _ = _next_item_parts(config)  # bad names fail here, before any worker starts
    result = _fit(
        next_item_loop,
        config,
        {"train": examples.select_columns(["input", "target"])},
        name,
        storage,
        settings,
    )
    return _load_model(result, model), dict(result.metrics or {})
