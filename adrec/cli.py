"""The `adrec` command. Heavy imports (Ray, torch) happen inside each command, so --help is
instant."""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path
from typing import Annotated

import typer

from adrec.bench.cli import bench_app

app = typer.Typer(
    help="adrec: anomaly-aware recommendation on Ray. Detects when a user's behaviour departs "
    "from their own normal and shifts recommendations towards their new direction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(bench_app, name="bench")

Users = Annotated[int, typer.Option(min=10, help="Simulated users.")]
# Training needs a 7-day window in the fit period (first 50% of days) and another in the
# calibration period (50-68%): 39 days is the shortest log that has both.
Days = Annotated[int, typer.Option(min=39, help="Simulated days of logs (>= 39).")]
Workers = Annotated[
    int,
    typer.Option("--workers", "--num-workers", min=1, help="Ray Train workers (DDP) per model."),
]
UseGpu = Annotated[bool, typer.Option(help="Give each training worker a GPU.")]
Address = Annotated[
    str | None,
    typer.Option(help="Ray cluster to join ('auto' in a Ray job); default: start a local one."),
]
Epochs = Annotated[
    int | None, typer.Option(min=1, help="Epochs of both models (default: 10 LSTM-AE, 20 SASRec).")
]


def _train_options(workers: int, use_gpu: bool, epochs: int | None):
    from adrec.distributed.train import TrainSettings
    from adrec.distributed.workflow import TrainOptions

    opts = TrainOptions(settings=TrainSettings(num_workers=workers, use_gpu=use_gpu))
    if epochs:
        opts.detector["epochs"] = epochs
        opts.sasrec["epochs"] = epochs
    return opts


@app.command()
def demo(
    users: Users = 300,
    days: Days = 56,
    workers: Workers = 2,
    use_gpu: UseGpu = False,
    epochs: Epochs = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Where to write the run (default: runs/demo-<time>).")
    ] = None,
    port: Annotated[int, typer.Option(help="HTTP port of Ray Serve.")] = 8000,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 0,
    keep_serving: Annotated[bool, typer.Option(help="Keep the service up after the demo.")] = False,
    address: Address = None,
) -> None:
    """Run the whole path on a local Ray cluster: simulate logs with planted life events, build
    windows with Ray Data, train the LSTM-AE and SASRec with Ray Train, calibrate, serve the
    detector -> recommender graph with Ray Serve, and query it over HTTP."""
    from adrec.data.simulator import SimulationConfig
    from jobs.demo import DemoOptions, run_demo

    run_dir = run_dir or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    run_demo(
        DemoOptions(
            run_dir=run_dir,
            simulation=SimulationConfig(n_users=users, n_days=days, seed=seed),
            train=_train_options(workers, use_gpu, epochs),
            port=port,
            address=address,
            keep_serving=keep_serving,
        )
    )


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Data directory to write.")],
    users: Users = 300,
    days: Days = 56,
    items: Annotated[int, typer.Option(min=16, help="Catalogue size.")] = 400,
    event_fraction: Annotated[
        float, typer.Option(min=0, max=1, help="Share of users with a planted life event.")
    ] = 0.15,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 0,
    shards: Annotated[int, typer.Option(min=1, help="Ray tasks (shards of users).")] = 4,
    address: Address = None,
) -> None:
    """Write simulated behaviour logs (date-partitioned Parquet) with planted life events and
    their ground truth."""
    from adrec.data.simulator import SimulationConfig
    from adrec.distributed.cluster import connect
    from adrec.distributed.simulate import simulate_to_parquet

    config = SimulationConfig(
        n_users=users, n_days=days, n_items=items, event_fraction=event_fraction, seed=seed
    )
    connect(address)
    typer.echo(json.dumps(simulate_to_parquet(config, out, shards)))


@app.command()
def train(
    logs: Annotated[Path, typer.Option(help="Data directory with events/ Parquet logs.")],
    run_dir: Annotated[
        Path,
        typer.Option(
            help="Run directory to write (re-running resumes training from its checkpoints)."
        ),
    ],
    workers: Workers = 2,
    use_gpu: UseGpu = False,
    epochs: Epochs = None,
    address: Address = None,
) -> None:
    """Train the behaviour detector and the recommender from Parquet logs into a servable run
    directory (Ray Data + Ray Train)."""
    if not (logs / "events").is_dir():
        raise typer.BadParameter(f"{logs / 'events'} does not exist", param_hint="--logs")
    from adrec.distributed.cluster import connect
    from adrec.distributed.workflow import train_run

    connect(address)
    metrics = train_run(logs, run_dir, _train_options(workers, use_gpu, epochs))
    typer.echo(json.dumps(metrics["detector"], indent=2, default=str))


@app.command("train-detector")
def train_detector(
    out: Annotated[Path, typer.Option(help="Directory to save the fitted, calibrated detector.")],
    data: Annotated[
        Path | None,
        typer.Option(
            help="Normal rows: a .npy array [n, features] or [n, time, features], or Parquet "
            "with a column of fixed-length vectors (--column)."
        ),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option(
            help="Normal images instead of rows: an MVTec-layout category (its train/good/) "
            "or a folder of images; read and sharded with Ray Data."
        ),
    ] = None,
    detector: Annotated[
        str,
        typer.Option(
            help="With --data a neural detector (ae, vae, deep_svdd, ...); with --images an "
            "image detector (patchcore, padim, spade, conv_ae, conv_vae, conv_svdd, anogan, "
            "cutpaste, fastflow)."
        ),
    ] = "vae",
    params: Annotated[
        str, typer.Option(help='Detector parameters as JSON, e.g. {"latent": 4}.')
    ] = "{}",
    column: Annotated[str, typer.Option(help="Parquet column holding the rows.")] = "x",
    size: Annotated[
        int, typer.Option(min=8, help="With --images: images are resized to size x size.")
    ] = 224,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Epochs (default: the detector's).")
    ] = None,
    calib_fraction: Annotated[
        float,
        typer.Option(
            min=0.01, max=0.9, help="Held-out share of rows or images that sets the threshold."
        ),
    ] = 0.2,
    quantile: Annotated[
        float, typer.Option(min=0.5, max=0.9999, help="Threshold quantile.")
    ] = 0.99,
    workers: Workers = 2,
    use_gpu: UseGpu = False,
    storage: Annotated[
        Path | None,
        typer.Option(help="Ray Train storage (default: <out>.ray); re-running resumes."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the calibration split and of training.")] = 0,
    address: Address = None,
) -> None:
    """Train any neural detector with Ray Train (DDP over Ray Data shards), calibrate it on
    held-out normal rows and save it (weights + threshold + calibration). With --images, an
    image detector from a folder of normal images: the feature-memory ones (patchcore, padim,
    spade) from features a Ray Data map extracts, the others through Ray Train."""
    from adrec.detectors.registry import detector_class, detector_names  # no Ray, no torch

    if (data is None) == (images is None):
        raise typer.BadParameter("give --data (rows) or --images (a folder), not both")
    family = "neural" if images is None else "image"
    allowed = detector_names(family)
    if detector not in allowed:
        raise typer.BadParameter(f"{detector!r} is not one of {allowed}", param_hint="--detector")
    source = data if images is None else images
    if not source.exists():
        hint = "--data" if images is None else "--images"
        raise typer.BadParameter(f"{source} does not exist", param_hint=hint)
    try:
        extra = json.loads(params)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
    if not isinstance(extra, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--params")
    if epochs and "epochs" not in inspect.signature(detector_class(detector)).parameters:
        raise typer.BadParameter(f"{detector} is not trained in epochs", param_hint="--epochs")
    extra = {**extra, "random_state": seed, **({"epochs": epochs} if epochs else {})}

    from adrec.distributed.cluster import connect
    from adrec.distributed.train import TrainSettings

    connect(address)
    settings = TrainSettings(num_workers=workers, use_gpu=use_gpu)
    storage = storage or out.with_name(out.name + ".ray")

    def log(metrics: dict) -> None:
        typer.echo(f"report: {json.dumps(metrics, default=str)}")

    if images is not None:
        from adrec.distributed.train_detector import train_image_detector

        det, metrics = train_image_detector(
            detector, images, storage, settings, size=size, params=extra, quantile=quantile,
            calib_fraction=calib_fraction, seed=seed, log=log,
        )  # fmt: skip
    else:
        from adrec.distributed.train_detector import load_rows
        from adrec.distributed.train_detector import train_detector as train_neural

        rows, calib, info = load_rows(data, column, calib_fraction, seed)
        typer.echo(f"rows: {json.dumps(info)}")
        det, metrics = train_neural(
            detector, rows, calib, storage, settings, params=extra, quantile=quantile, log=log
        )
    det.save(out)
    summary = {"detector": detector, "out": str(out), "threshold": det.threshold_, **metrics}
    typer.echo(json.dumps(summary, default=str))


@app.command()
def serve(
    run_dir: Annotated[Path, typer.Option(help="A trained run directory.")],
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    host: Annotated[str, typer.Option(help="HTTP host.")] = "127.0.0.1",
    address: Address = None,
) -> None:
    """Serve a trained run over HTTP (POST /v1/recommend, GET /healthz, /docs) until Ctrl-C."""
    from adrec.artifacts import RunDir

    try:
        RunDir(run_dir).check()
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--run-dir") from None
    from adrec.distributed.cluster import connect
    from serve_apps.recommend_app import deploy, undeploy

    connect(address)
    deploy(run_dir, host=host, port=port)
    typer.echo(f"serving {run_dir} on http://{host}:{port} (docs: /docs); Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        undeploy()


@app.command()
def dashboard(
    run_dir: Annotated[
        Path | None, typer.Option(help="A trained run: its anomaly scores over time.")
    ] = None,
    bench: Annotated[
        Path | None,
        typer.Option(help="`adrec bench recommend`'s recommend.json: accuracy over time."),
    ] = None,
    logs: Annotated[
        Path | None, typer.Option(help="Logs with life_events.parquet (default: RUN_DIR/data).")
    ] = None,
    out: Annotated[Path, typer.Option(help="The HTML page to write.")] = Path(
        "reports/dashboard.html"
    ),
) -> None:
    """Write the dashboard: anomaly scores and recommendation accuracy over time, one static
    HTML page (no server, opens offline)."""
    from adrec.dashboard.build import write_dashboard

    if run_dir is None and bench is None:
        raise typer.BadParameter("give --run-dir, --bench, or both")
    try:
        path = write_dashboard(out, run_dir, bench, logs)
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"dashboard: {path}")


if __name__ == "__main__":
    app()
