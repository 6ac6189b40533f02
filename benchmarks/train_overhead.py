"""What Ray Train costs per epoch: the LSTM-AE and SASRec, one epoch at a time, through Ray
Train (TorchTrainer, 1 and 2 workers) against the same loop in plain PyTorch in one process,
same data, same batch size, same model, loss and optimiser (adrec.training.train_one_epoch).
Writes reports/train_overhead/train_overhead.md and .json.

    OMP_NUM_THREADS=1 nice -n 10 uv run python benchmarks/train_overhead.py

Two ways for a Ray worker to get its data each epoch:
- stream: the worker's shard through `iter_torch_batches` every epoch, as the product's loops
  (adrec.distributed.train) do;
- cached: the shard pulled once into tensors on the worker (timed as `load s`), then shuffled
  mini-batches of those tensors every epoch, as the plain loop does.
Per epoch times are measured inside the workers (the slowest worker's, for 2 workers);
"start-up s" is the rest of trainer.fit's wall time (worker group, process group, dataset
split, the one report, shutdown). The first epoch is reported apart from the steady epochs
(the median of the others). "CPU s" is the epoch's CPU time of the process that runs the
loop (the slowest worker's, for 2 workers): on a shared machine it moves less than wall time
with what else runs there. Torch runs 1 thread in every process. No GPU on this machine:
`--use-gpu` runs the Ray workers on GPUs where there are some (not measured here).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

ROOT = Path(__file__).resolve().parents[1]


# ---- the two models and their data ---------------------------------------------------------


def lstm_data(n: int, steps: int, features: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"window": rng.normal(size=(n, steps, features)).astype(np.float32)}


def sasrec_data(n: int, max_len: int, n_items: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    seq = rng.integers(1, n_items + 1, size=(n, max_len + 1))
    return {"input": seq[:, :-1].astype(np.int64), "target": seq[:, 1:].astype(np.int64)}


def build(config: dict):
    """(model, loss(model, batch), batch from a dict of tensors) of a benchmark config."""
    if config["model"] == "lstm_ae":
        from adrec.detectors.lstm_ae.torch_model import LSTMAutoencoder, reconstruction_loss

        model = LSTMAutoencoder(config["features"], config["hidden"], config["latent"])
        return model, reconstruction_loss, lambda b: b["window"].float()
    from adrec.recommender.models import build_sequence_model
    from adrec.recommender.next_item import loss_function

    model = build_sequence_model("sasrec", config["n_items"], config["max_len"], config["dim"],
                                 config["layers"], 0.2)  # fmt: skip
    to_batch = lambda b: {k: b[k].long() for k in ("input", "target")}  # noqa: E731
    return model, loss_function("full"), to_batch


def _epochs_in_memory(model, loss, to_batch, tensors: dict, config: dict, optimizer) -> list:
    import torch

    from adrec.training import train_one_epoch

    g = torch.Generator().manual_seed(config["seed"])
    n = len(next(iter(tensors.values())))
    times, cpu = [], []
    for _ in range(config["epochs"]):
        t0, c0 = time.perf_counter(), time.process_time()
        order = torch.randperm(n, generator=g)
        batches = (to_batch({k: v[order[i : i + config["batch"]]] for k, v in tensors.items()})
                   for i in range(0, n, config["batch"]))  # fmt: skip
        train_one_epoch(model, batches, loss, optimizer)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times, cpu


def plain(config: dict, data: dict[str, np.ndarray]) -> dict:
    """The loop in this process, no Ray."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(config["seed"])
    t0 = time.perf_counter()
    model, loss, to_batch = build(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tensors = {k: torch.from_numpy(v) for k, v in data.items()}
    setup = time.perf_counter() - t0
    times, cpu = _epochs_in_memory(model, loss, to_batch, tensors, config, optimizer)
    return {"setup_s": setup, "epochs_s": times, "epochs_cpu_s": cpu}


def ray_loop(config: dict) -> None:
    """The worker loop: the same model, loss and train_one_epoch; stream or cached data."""
    import ray.train
    import ray.train.torch
    import torch
    import torch.distributed as dist

    from adrec.training import train_one_epoch

    torch.set_num_threads(1)
    torch.manual_seed(config["seed"])
    model, loss, to_batch = build(config)
    model = ray.train.torch.prepare_model(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    shard = ray.train.get_dataset_shard("train")
    device = ray.train.torch.get_device()
    load = 0.0
    if config["mode"] == "cached":
        t0 = time.perf_counter()
        parts: dict[str, list] = {}
        for b in shard.iter_torch_batches(batch_size=4096, device=device):
            for k, v in b.items():
                parts.setdefault(k, []).append(v)
        tensors = {k: torch.cat(v) for k, v in parts.items()}
        load = time.perf_counter() - t0
        times, cpu = _epochs_in_memory(model, loss, to_batch, tensors, config, optimizer)
    else:
        times, cpu = [], []
        for _ in range(config["epochs"]):
            t0, c0 = time.perf_counter(), time.process_time()
            batches = (to_batch(b) for b in shard.iter_torch_batches(
                batch_size=config["batch"], device=device,
                local_shuffle_buffer_size=4 * config["batch"]))  # fmt: skip
            train_one_epoch(model, batches, loss, optimizer)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    t = torch.tensor([load, *times, *cpu], dtype=torch.float64)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.MAX)  # the slowest worker sets the pace
    k = len(times)
    metrics = {"load_s": float(t[0]), "epochs_s": [float(x) for x in t[1 : 1 + k]],
               "epochs_cpu_s": [float(x) for x in t[1 + k :]]}  # fmt: skip
    # Train V2 keeps the metrics of reports that carry a checkpoint: rank 0 sends a tiny one.
    if ray.train.get_context().get_world_rank() != 0:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory() as d:
        Path(d, "metrics.json").write_text(json.dumps(metrics))
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))


def on_ray(config: dict, data: dict[str, np.ndarray], workers: int, use_gpu: bool) -> dict:
    import ray.data
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    n = len(next(iter(data.values())))
    rows = [{k: v[i] for k, v in data.items()} for i in range(n)]
    ds = ray.data.from_items(rows, override_num_blocks=max(2, workers))
    with tempfile.TemporaryDirectory(prefix="adrec_overhead_") as d:
        trainer = TorchTrainer(
            ray_loop,
            train_loop_config=config,
            scaling_config=ScalingConfig(
                num_workers=workers, use_gpu=use_gpu, resources_per_worker={"CPU": 1}
            ),  # fmt: skip
            run_config=RunConfig(name=f"{config['model']}-{workers}", storage_path=d),
            datasets={"train": ds},
        )
        t0 = time.perf_counter()
        result = trainer.fit()
        wall = time.perf_counter() - t0
    if result.error is not None:
        raise RuntimeError(f"training failed: {result.error}")
    m = result.metrics
    return {"wall_s": wall, "load_s": m["load_s"], "epochs_s": m["epochs_s"],
            "epochs_cpu_s": m["epochs_cpu_s"],
            "startup_s": wall - m["load_s"] - sum(m["epochs_s"])}  # fmt: skip


def summarise(r: dict) -> dict:
    e, c = r["epochs_s"], r["epochs_cpu_s"]
    return {**r, "first_epoch_s": e[0], "steady_epoch_s": statistics.median(e[1:] or e),
            "steady_epoch_cpu_s": statistics.median(c[1:] or c)}  # fmt: skip


# ---- the report ----------------------------------------------------------------------------


def render(result: dict) -> str:
    lines = [
        "# Ray Train overhead per epoch",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Machine: {result['machine']}; torch {result['torch']}, 1 thread per process; "
        f"{result['epochs']} epochs per run; GPU: {result['gpu']}.",
        "",
        "| model | data | run | steady epoch s | steady epoch CPU s | first epoch s | load s | "
        "start-up s | vs plain (steady) | vs plain (CPU) | vs 1 worker (steady) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model, runs in result["runs"].items():
        base = runs["plain"]["steady_epoch_s"]
        base_cpu = runs["plain"]["steady_epoch_cpu_s"]
        for name, r in runs.items():
            one = runs.get(name.replace("2 workers", "1 worker"))
            vs_one = ""
            if "2 workers" in name and one:
                vs_one = f"{r['steady_epoch_s'] / one['steady_epoch_s']:.2f}x"
            lines.append(
                f"| {model} | {result['data'][model]} | {name} | {r['steady_epoch_s']:.3f} | "
                f"{r['steady_epoch_cpu_s']:.3f} | {r['first_epoch_s']:.3f} | "
                f"{r.get('load_s', 0):.2f} | {r.get('startup_s', r.get('setup_s', 0)):.1f} | "
                f"{r['steady_epoch_s'] / base:.2f}x | {r['steady_epoch_cpu_s'] / base_cpu:.2f}x | "
                f"{vs_one} |"
            )
    return "\n".join(lines) + "\n"


def main(
    epochs: Annotated[int, typer.Option(min=2, help="Epochs per run.")] = 5,
    lstm_windows: Annotated[int, typer.Option(help="LSTM-AE windows.")] = 6600,
    sasrec_sequences: Annotated[int, typer.Option(help="SASRec training sequences.")] = 4000,
    batch: Annotated[int, typer.Option(help="Batch size (both models).")] = 128,
    workers: Annotated[str, typer.Option(help="Comma list of Ray worker counts.")] = "1,2",
    modes: Annotated[str, typer.Option(help="Comma list: stream, cached.")] = "stream,cached",
    use_gpu: Annotated[bool, typer.Option(help="Ray workers on GPUs.")] = False,
    cpus: Annotated[
        int, typer.Option(help="Logical CPUs of the local Ray cluster (adrec's default: 4).")
    ] = 4,
    out_dir: Annotated[Path, typer.Option(help="Where the reports go.")] = Path(
        "reports/train_overhead"
    ),
) -> None:
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    import torch

    echo = lambda m: typer.echo(m, err=True)  # noqa: E731
    configs = {
        "lstm_ae": {"model": "lstm_ae", "features": 24, "hidden": 32, "latent": 8},
        "sasrec": {"model": "sasrec", "n_items": 3000, "max_len": 50, "dim": 64, "layers": 2},
    }
    data = {
        "lstm_ae": lstm_data(lstm_windows, 10, 24),
        "sasrec": sasrec_data(sasrec_sequences, 50, 3000),
    }
    result = {
        "command": "OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "(unset)")
        + " uv run python benchmarks/train_overhead.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "torch": torch.__version__, "epochs": epochs,
        "gpu": "used" if use_gpu else "not measured (no GPU on this machine)",
        "data": {"lstm_ae": f"{lstm_windows:,} windows [10 x 24], batch {batch}",
                 "sasrec": f"{sasrec_sequences:,} sequences of 50, 3,000 items, batch {batch}"},
        "runs": {},
    }  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    from adrec.distributed.cluster import connect

    connect(num_cpus=cpus, log=echo)
    result["ray_init_s"] = time.perf_counter() - t0
    try:
        for model, cfg in configs.items():
            cfg = {**cfg, "epochs": epochs, "batch": batch, "seed": 0}
            runs = result["runs"].setdefault(model, {})
            runs["plain"] = summarise(plain(cfg, data[model]))
            echo(f"{model} plain: {runs['plain']['epochs_s']}")
            for w in (int(x) for x in workers.split(",")):
                for mode in modes.split(","):
                    name = f"ray {w} worker{'s' if w > 1 else ''}, {mode}"
                    r = on_ray({**cfg, "mode": mode}, data[model], w, use_gpu)
                    runs[name] = summarise(r)
                    echo(f"{model} {name}: {r}")
                    _write(result, out_dir)
    finally:
        ray.shutdown()
    _write(result, out_dir)
    typer.echo(render(result))


def _write(result: dict, out_dir: Path) -> None:
    (out_dir / "train_overhead.json").write_text(json.dumps(result, indent=2))
    (out_dir / "train_overhead.md").write_text(render(result))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    typer.run(main)
