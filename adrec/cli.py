"""The `adrec` command. Heavy imports (Ray, torch) happen inside each command, so --help is
instant."""

from __future__ import annotations

import json
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
    typer.Option(help="Ray cluster to join ('auto' in a Ray job); default: start a local one."),
]
Seed = Annotated[int, typer.Option(help="Seed of the fit (model initialisation, user samples).")]


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
    connect(address)
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
        model=model, loss=loss, epochs=epochs, split=split, targets_per_user=targets_per_user,
        detector=detector, windows=windows, window=window, window_days=window_days,
        min_profile=min_profile, features=features, sequence_input=sequence_input, served=served,
    )  # fmt: skip
    from adrec.distributed.cluster import connect
    from adrec.distributed.train_run import train_run

    connect(address)
    try:
        report = train_run(spec, run_dir, cfg, seed, workers, use_gpu, log=typer.echo)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    summary = {k: report[k] for k in ("validation_ndcg@10", "dropped", "detection") if k in report}
    typer.echo(json.dumps(summary, indent=2, default=str))


@app.command("train-detector")
def train_detector(
    data: Annotated[
        Path,
        typer.Option(
            help="Normal rows: a .npy array [n, features] or [n, time, features], or Parquet "
            "with a column of fixed-length vectors (--column)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Directory to save the fitted, calibrated detector.")],
    detector: Annotated[
        str, typer.Option(help="A neural detector: ae, vae, deep_svdd, ...")
    ] = "vae",
    params: Annotated[
        str, typer.Option(help='Detector parameters as JSON, e.g. {"latent": 4}.')
    ] = "{}",
    column: Annotated[str, typer.Option(help="Parquet column holding the rows.")] = "x",
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Epochs (default: the detector's).")
    ] = None,
    calib_fraction: Annotated[
        float,
        typer.Option(min=0.01, max=0.9, help="Held-out share of rows that sets the threshold."),
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
    held-out normal rows and save it (weights + threshold + calibration)."""
    from adrec.detectors.neural import neural_detector_names  # no Ray

    neural = neural_detector_names()
    if detector not in neural:
        raise typer.BadParameter(f"{detector!r} is not one of {neural}", param_hint="--detector")
    if not data.exists():
        raise typer.BadParameter(f"{data} does not exist", param_hint="--data")
    try:
        extra = json.loads(params)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
    if not isinstance(extra, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--params")
    extra = {**extra, "seed": seed, **({"epochs": epochs} if epochs else {})}

    from adrec.distributed.cluster import connect
    from adrec.distributed.train import TrainSettings
    from adrec.distributed.train_detector import load_rows
    from adrec.distributed.train_detector import train_detector as train_neural

    connect(address)
    rows, calib, info = load_rows(data, column, calib_fraction, seed)
    typer.echo(f"rows: {json.dumps(info)}")
    det, metrics = train_neural(
        detector,
        rows,
        calib,
        storage or out.with_name(out.name + ".ray"),
        TrainSettings(num_workers=workers, use_gpu=use_gpu),
        params=extra,
        quantile=quantile,
        log=lambda metrics: typer.echo(f"report: {json.dumps(metrics, default=str)}"),
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
    from adrec.recommender.run import check_run_dir

    try:
        check_run_dir(run_dir)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--run-dir") from None
    from adrec.distributed.cluster import connect
    from adrec.serving.app import deploy, undeploy

    connect(address)
    deploy(run_dir, host=host, port=port)
    typer.echo(f"serving {run_dir} on http://{host}:{port} (docs: /docs); Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        undeploy()


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
) -> None:
    """Write the dashboard of a run as one self-contained HTML file that opens offline:
    anomaly scores of the population and of every user over time, recommendation accuracy
    over time on the run's held-out test targets (computed through the saved engine, then
    cached under RUN_DIR/dashboard/)."""
    from adrec.dashboard.page import report_html
    from adrec.dashboard.report import report_data

    run = _run_data(run_dir, logs)
    out = out or run_dir / "report.html"
    typer.echo(f"report of {run_dir}:")
    data, users = report_data(run, log=typer.echo)
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
