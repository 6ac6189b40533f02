"""The `adrec` command. Heavy imports (Ray, torch) happen inside each command, so --help is
instant."""

from __future__ import annotations

import inspect
import json
import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from adrec import cli_options as o
from adrec.bench.cli import bench_app

app = typer.Typer(
    help="adrec: anomaly-aware recommendation on Ray. Detects when a user's behaviour departs "
    "from their own normal and shifts recommendations towards their new direction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(bench_app, name="bench")

Users = Annotated[int, typer.Option(min=10, help="Simulated users.")]
Days = Annotated[int, typer.Option(min=14, help="Simulated days of logs.")]
Workers = Annotated[
    int,
    typer.Option("--workers", "--num-workers", min=1, help="Ray Train workers (DDP)."),
]
UseGpu = Annotated[bool, typer.Option(help="Give each training worker a GPU.")]
Address = Annotated[
    str | None,
    typer.Option(
        help="Ray cluster to join: the head's GCS address (host:6379), or 'auto' for the one "
        "`ray start` started on this machine (a Ray job joins its own cluster: $RAY_ADDRESS). "
        "Default: start a private local cluster, even when another one runs."
    ),
]
Seed = Annotated[int, typer.Option(help="Seed of the fit (model initialisation, user samples).")]


def _connect(connect, address: str | None, num_cpus: int | None = None) -> None:
    """connect() (adrec.distributed.cluster), its errors as one message, not a traceback.
    num_cpus: the logical CPUs of a private local cluster (default: connect's)."""
    try:
        connect(address, num_cpus=num_cpus, log=typer.echo)
    except (ValueError, ConnectionError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _fit_config(**kw):
    from adrec.cli_options import fit_config

    try:
        return fit_config(**kw)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def demo(
    users: Users = 300,
    days: Days = 56,
    workers: Workers = 2,
    use_gpu: UseGpu = False,
    epochs: o.Epochs = None,
    detector: o.Detector = "auto",
    run_dir: Annotated[
        Path | None, typer.Option(help="Where to write the run (default: runs/demo-<time>).")
    ] = None,
    port: Annotated[int, typer.Option(help="HTTP port of Ray Serve.")] = 8000,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 0,
    keep_serving: Annotated[bool, typer.Option(help="Keep the service up after the demo.")] = False,
    address: Address = None,
) -> None:
    """Run the whole path on a local Ray cluster: simulate logs with planted life events, train
    (Ray Data ingest, the fit step with Ray Train), serve the Detector -> Recommender graph with
    Ray Serve, and query it over HTTP for a stable, a shifting and a never-seen user."""
    from adrec.data.simulator import SimulationConfig
    from adrec.distributed.demo import DemoOptions, run_demo
    from adrec.recommender.config import FitConfig

    cfg = FitConfig(detector=detector)
    if epochs:
        cfg = cfg.with_long_term(max_epochs=epochs)
    run_demo(
        DemoOptions(
            run_dir=run_dir or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S"),
            simulation=SimulationConfig(n_users=users, n_days=days, seed=seed),
            fit=cfg,
            workers=workers,
            use_gpu=use_gpu,
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
    """Write simulated behaviour logs (date-partitioned Parquet in the interaction schema) with
    planted life events and their ground truth."""
    from adrec.data.simulator import SimulationConfig
    from adrec.distributed.cluster import connect
    from adrec.distributed.simulate import simulate_to_parquet

    config = SimulationConfig(
        n_users=users, n_days=days, n_items=items, event_fraction=event_fraction, seed=seed
    )
    _connect(connect, address)
    typer.echo(f"simulating {users} users over {days} days in {shards} Ray tasks -> {out} ...")
    typer.echo(json.dumps(simulate_to_parquet(config, out, shards)))


@app.command()
def train(
    logs: Annotated[
        Path,
        typer.Option(
            help="The interaction log: a file or folder (Parquet, CSV, JSON lines) or "
            "a MovieLens folder."
        ),
    ],
    run_dir: Annotated[
        Path,
        typer.Option(
            help="Run directory to write (re-running resumes the sequential model's "
            "training from its checkpoint)."
        ),
    ],
    format: o.Format = "auto",
    user_col: o.UserCol = "user_id",
    item_col: o.ItemCol = "item_id",
    time_col: o.TimeCol = "timestamp",
    category_col: o.CategoryCol = "category",
    category_sep: o.CategorySep = None,
    action_col: o.ActionCol = "action",
    value_col: o.ValueCol = "value",
    time_unit: o.TimeUnit = "s",
    meta: o.Meta = None,
    model: o.Model = "sasrec",
    loss: o.Loss = "full",
    epochs: o.Epochs = None,
    sequence_stride: o.SequenceStride = None,
    sequence_batch_size: o.SequenceBatchSize = None,
    sequence_lr: o.SequenceLr = None,
    split: o.Split = "leave_last_out",
    targets_per_user: o.TargetsPerUser = 5,
    detector: o.Detector = "auto",
    windows: o.Windows = "auto",
    window: o.Window = 10,
    window_days: o.WindowDays = 7,
    min_profile: o.MinProfile = 10,
    features: o.Features = "auto",
    sequence_input: o.SequenceInput = "auto",
    served: o.Served = "rule",
    seed: Seed = 0,
    workers: Workers = 2,
    use_gpu: UseGpu = False,
    address: Address = None,
) -> None:
    """Train the anomaly-aware recommender on any interaction log into a servable run
    directory: Ray Data reads and validates the log (rejected rows counted by reason), the fit
    step trains the sequential model with Ray Train and chooses the detector, its windows and
    the blends on validation targets; test targets are held out for `adrec bench recommend`."""
    from adrec.cli_options import input_spec
    from adrec.data.readers import plan_input

    if not logs.exists():
        raise typer.BadParameter(f"{logs} does not exist", param_hint="--logs")
    try:  # format, files and columns are checked here, before Ray starts
        spec = input_spec(logs, format, user_col, item_col, time_col, category_col,
                          category_sep, action_col, value_col, time_unit, meta)  # fmt: skip
        plan_input(spec)
    except (ValueError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--logs") from None
    cfg = _fit_config(
        model=model, loss=loss, epochs=epochs, stride=sequence_stride, split=split,
        batch_size=sequence_batch_size, lr=sequence_lr, targets_per_user=targets_per_user,
        detector=detector, windows=windows, window=window, window_days=window_days,
        min_profile=min_profile, features=features, sequence_input=sequence_input, served=served,
    )  # fmt: skip
    from adrec.distributed.cluster import connect
    from adrec.distributed.resources import ResourcePlanError
    from adrec.distributed.train_run import train_run

    _connect(connect, address)
    try:
        report = train_run(spec, run_dir, cfg, seed, workers, use_gpu, log=typer.echo)
    except ResourcePlanError as exc:  # one plain line: job logs show it unwrapped
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    summary = {k: report[k] for k in ("validation_ndcg@10", "dropped", "detection") if k in report}
    typer.echo(json.dumps(summary, indent=2, default=str))


@app.command()
def prep(
    logs: Annotated[
        Path, typer.Option(help="The interaction log: a Parquet or CSV file or folder.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Output folder: log/, sequences/, windows/ (partitioned by user), rejects/, "
            "items.parquet, vocabulary.json, report.json."
        ),
    ],
    format: Annotated[str, typer.Option(help="auto (detected), parquet or csv.")] = "auto",
    user_col: o.UserCol = "user_id",
    item_col: o.ItemCol = "item_id",
    time_col: o.TimeCol = "timestamp",
    category_col: o.CategoryCol = "category",
    category_sep: o.CategorySep = None,
    action_col: o.ActionCol = "action",
    value_col: o.ValueCol = "value",
    time_unit: o.TimeUnit = "s",
    window: o.Window = 10,
    min_profile: o.MinProfile = 10,
    stride: Annotated[
        int | None, typer.Option(min=1, help="Interactions between windows (default: --window).")
    ] = None,
    steps: Annotated[bool, typer.Option(help="Also write each window's steps.")] = True,
    partitions: Annotated[
        int | None, typer.Option(min=1, help="User partitions (default: by log size).")
    ] = None,
    address: Address = None,
) -> None:
    """Validate a large interaction log and turn it into per-user behaviour windows with the
    Ray Data log pipeline (the read step of `adrec train`, and what benchmarks/pipeline.py
    measures): streamed read, every rejected row kept with its reason, rows_in = rows_out +
    rejected exactly, users hash-partitioned, windows written as Parquet. Progress is printed
    as read tasks and partitions finish."""
    from adrec.cli_options import input_spec
    from adrec.data.readers import plan_input

    if not logs.exists():
        raise typer.BadParameter(f"{logs} does not exist", param_hint="--logs")
    try:  # format, files and columns are checked here, before Ray starts
        spec = input_spec(logs, format, user_col, item_col, time_col, category_col,
                          category_sep, action_col, value_col, time_unit, None)  # fmt: skip
        fmt = plan_input(spec).format
    except (ValueError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--logs") from None
    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter(f"the pipeline reads parquet and csv logs, not {fmt}",
                                 param_hint="--format")  # fmt: skip
    from adrec.detectors.behaviour.windows import InteractionWindow
    from adrec.distributed.cluster import connect
    from adrec.distributed.pipeline import PipelineOptions, run_pipeline

    # A private cluster gets one logical CPU per core: no training workers run beside the
    # pipeline's tasks, and more tasks than cores only add worker processes to start.
    _connect(connect, address, num_cpus=os.cpu_count() or 1)
    win = InteractionWindow(window, min_profile)
    opts = PipelineOptions(columns=spec.columns, fmt=fmt, partitions=partitions, steps=steps,
                           window=win, stride=stride)  # fmt: skip
    try:
        report = run_pipeline(str(logs), str(out), opts, log=typer.echo)
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    keys = ("rows_in", "rows_out", "rows_rejected", "rejected", "users", "items", "windows")
    typer.echo(json.dumps({k: report[k] for k in keys} | {"out": str(out)}, indent=2))


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

    _connect(connect, address)
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
    port: Annotated[int, typer.Option(help="HTTP port of Serve's proxy.")] = 8000,
    host: Annotated[str, typer.Option(help="HTTP host.")] = "127.0.0.1",
    address: Address = None,
    detector_replicas: Annotated[
        int | None, typer.Option(min=1, help="Detector replicas (default 1).")
    ] = None,
    recommender_replicas: Annotated[
        int | None, typer.Option(min=1, help="Recommender replicas (default 1).")
    ] = None,
    ingress_replicas: Annotated[
        int | None, typer.Option(min=1, help="Ingress replicas (default 1).")
    ] = None,
    max_ongoing_requests: Annotated[
        int, typer.Option(min=1, help="HTTP requests an ingress replica takes at once.")
    ] = 256,
    max_batch_size: Annotated[int, typer.Option(min=1, help="Requests per batch.")] = 32,
    batch_wait_s: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="How long a batch that is not full waits for more (0: "
            "send what waits as soon as a batch may go).",
        ),
    ] = 0.0,
    max_batches_in_flight: Annotated[
        int, typer.Option(min=1, help="Batches an ingress replica has in the graph at once.")
    ] = 3,
    model_max_ongoing_requests: Annotated[
        int, typer.Option(min=1, help="Batches a Detector / Recommender replica takes at once.")
    ] = 16,
    image_detector: Annotated[
        Path | None,
        typer.Option(help="A saved image detector to serve as POST /v1/score/image."),
    ] = None,
    throughput_mode: Annotated[
        bool,
        typer.Option(
            help="When starting a local cluster, start it in Serve's throughput mode "
            "(direct ingress: the ingress replica serves HTTP on its own port, "
            "gRPC between deployments) with its replicas at nice 0 instead of Ray's 15. "
            "A joined cluster keeps its own settings."
        ),
    ] = True,
) -> None:
    """Serve a trained run over HTTP (POST /v1/recommend, GET /healthz, /docs, and with
    --image-detector POST /v1/score/image) until Ctrl-C."""
    from pydantic import ValidationError

    from adrec.recommender.run import check_run_dir
    from adrec.serving.args import AppArgs

    try:
        check_run_dir(run_dir)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--run-dir") from None
    if image_detector is not None and not (image_detector / "detector.json").exists():
        msg = f"{image_detector} holds no saved detector (detector.json)"
        raise typer.BadParameter(msg, param_hint="--image-detector")
    options = dict(
        detector_replicas=detector_replicas, recommender_replicas=recommender_replicas,
        ingress_replicas=ingress_replicas, max_ongoing_requests=max_ongoing_requests,
        max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_s,
        max_batches_in_flight=max_batches_in_flight,
        model_max_ongoing_requests=model_max_ongoing_requests,
        image_detector=None if image_detector is None else str(image_detector.resolve()),
    )  # fmt: skip
    try:
        AppArgs(run_dir=str(run_dir), **options)
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = "--" + "-".join(str(p) for p in problem["loc"]).replace("_", "-")
        hint = name if problem["loc"] else None
        raise typer.BadParameter(problem["msg"], param_hint=hint) from None
    private = not (address or os.environ.get("RAY_ADDRESS"))  # else: join a running cluster
    if throughput_mode and private:
        from adrec.serving.cluster_env import apply_serve_env

        apply_serve_env()
    from adrec.distributed.cluster import connect, disconnect
    from adrec.distributed.serve_graph import deploy, direct_urls, undeploy

    _connect(connect, address)
    base = deploy(run_dir, host=host, port=port, **options)
    direct = direct_urls(host=host)
    typer.echo(f"serving {run_dir} on {base} (docs: /docs); Ctrl-C to stop")
    if direct:
        typer.echo(f"  direct to the ingress replica{'s' * (len(direct) > 1)} (faster, no "
                   f"proxy hop): {', '.join(direct)}")  # fmt: skip
    # A process manager's stop (SIGTERM: systemd, Kubernetes, `kill`) ends it as Ctrl-C does:
    # the application is deleted and a private cluster stops, instead of Ray's crash report.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        undeploy(stop_serve=private)
        disconnect()  # a private cluster stops here, before the last line is printed
        typer.echo("stopped")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@app.command()
def score(
    run_dir: Annotated[Path, typer.Option(help="A trained run directory (its detector scores).")],
    out: Annotated[Path, typer.Option(help="Parquet file of anomaly scores to write.")],
    logs: Annotated[
        Path | None,
        typer.Option(
            help="The log to score (file or folder, as for `adrec train`); default: the run's "
            "own log. Items and actions the run does not know are left out and counted."
        ),
    ] = None,
    format: o.Format = "auto",
    user_col: o.UserCol = "user_id",
    item_col: o.ItemCol = "item_id",
    time_col: o.TimeCol = "timestamp",
    category_col: o.CategoryCol = "category",
    category_sep: o.CategorySep = None,
    action_col: o.ActionCol = "action",
    value_col: o.ValueCol = "value",
    time_unit: o.TimeUnit = "s",
    meta: o.Meta = None,
    actors: Annotated[
        int, typer.Option(min=1, help="Most Ray Data actors, each holding the run's detector.")
    ] = 2,
    stride: Annotated[
        int | None,
        typer.Option(min=1, help="A window every N interactions (default: the run's window)."),
    ] = None,
    address: Address = None,
) -> None:
    """Batch-score every user's behaviour windows over a whole log with a trained run's
    detector, on Ray (Ray Data shards of users, an actor pool holding the detector), into a
    Parquet file of anomaly scores (user_id, time, window_start, score, calibrated, flagged):
    the dashboard's input. Equal to the scores `adrec train` writes for its own log."""
    from adrec.recommender.run import check_run_dir

    try:
        check_run_dir(run_dir)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--run-dir") from None
    if not (run_dir / "detector").exists():
        raise typer.BadParameter(
            f"{run_dir} has no behaviour detector (trained with --detector none, or its log was "
            "too short for one): nothing to score",
            param_hint="--run-dir",
        )
    spec = None
    if logs is not None:
        from adrec.cli_options import input_spec
        from adrec.data.readers import plan_input

        if not logs.exists():
            raise typer.BadParameter(f"{logs} does not exist", param_hint="--logs")
        try:
            spec = input_spec(logs, format, user_col, item_col, time_col, category_col,
                              category_sep, action_col, value_col, time_unit, meta)  # fmt: skip
            plan_input(spec)
        except (ValueError, FileNotFoundError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--logs") from None
    from adrec.distributed.batch_score import batch_score
    from adrec.distributed.cluster import connect

    _connect(connect, address)
    summary = batch_score(run_dir, out, spec, actors=actors, stride=stride, log=typer.echo)
    typer.echo(json.dumps(summary, default=str))


RunDir = Annotated[Path, typer.Option(help="A trained run directory (adrec train / adrec demo).")]
Logs = Annotated[
    Path | None,
    typer.Option(help="Folder with the log's ground truth, life_events.parquet (default: "
                 "RUN_DIR/data, where the demo simulates)."),
]  # fmt: skip


def _run_data(run_dir: Path, logs: Path | None):
    from adrec.dashboard.data import RunData
    from adrec.recommender.run import check_run_dir

    try:
        check_run_dir(run_dir)
        return RunData(run_dir, logs)
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--run-dir") from None


@app.command()
def report(
    run_dir: RunDir,
    logs: Logs = None,
    out: Annotated[
        Path | None, typer.Option(help="The HTML file to write (default: RUN_DIR/report.html).")
    ] = None,
    live: Annotated[
        str | None,
        typer.Option(
            help="The URL of a running service of the run (adrec serve / adrec "
            "dashboard, e.g. http://127.0.0.1:8000): its live numbers now go into "
            "the report."
        ),
    ] = None,
) -> None:
    """Write the dashboard of a run as one self-contained HTML file that opens offline:
    anomaly scores of the population and of every user over time, recommendation accuracy
    over time on the run's held-out test targets (computed through the saved engine, then
    cached under RUN_DIR/dashboard/), and with --live the service's requests, latency and
    anomalous share as they are when the report is written."""
    from adrec.dashboard.page import report_html
    from adrec.dashboard.report import live_snapshot, report_data

    run = _run_data(run_dir, logs)
    out = out or run_dir / "report.html"
    snapshot = None
    if live:
        try:
            snapshot = live_snapshot(live)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--live") from None
    typer.echo(f"report of {run_dir}:")
    data, users = report_data(run, log=typer.echo, live=snapshot)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_html(data, users), encoding="utf-8")
    typer.echo(f"report: {out} ({out.stat().st_size / 1e6:.1f} MB)")


@app.command()
def dashboard(
    run_dir: RunDir,
    logs: Logs = None,
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    host: Annotated[str, typer.Option(help="HTTP host.")] = "127.0.0.1",
) -> None:
    """Serve a run in one process, without Ray: the recommend API (POST /v1/recommend) and
    the live dashboard at /dashboard/ (the Serve graph of `adrec serve` mounts the same
    dashboard). Ctrl-C stops it."""
    import uvicorn

    from adrec.dashboard import mount_dashboard
    from adrec.serving.plain import create_app
    from adrec.serving.service import RecommendService

    run = _run_data(run_dir, logs)
    service = RecommendService.load(run_dir)
    app = mount_dashboard(create_app(service), run_dir, logs, engine=service.engine)
    typer.echo(f"serving {run.root} on http://{host}:{port} (dashboard: /dashboard/, docs: "
               "/docs); Ctrl-C to stop")  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    app()
