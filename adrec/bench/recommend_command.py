"""`adrec bench recommend`: the product's recommender, fitted once per seed by the same fit
step as `adrec train` (or an existing run with --run-dir), scored on its held-out test targets
through the saved engine: the anomaly-aware rule against the best fixed blend, the recency
control and the learned gates, with user-clustered intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adrec import cli_options as o


def recommend(
    data: Annotated[
        Path, typer.Option(help="The interaction log (any format `adrec train` reads).")
    ] = Path("../shared/data/ml-100k"),
    run_dir: Annotated[
        list[Path] | None,
        typer.Option(
            help="Score an existing run directory (adrec train) instead of fitting; repeat "
            "it for runs of one log with other seeds (pooled).",
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option(help="Where to write the reports and runs.")] = Path(
        "reports/recommend"
    ),
    seeds: Annotated[str, typer.Option(help="Comma list of seeds (one run each).")] = "0,1,2",
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
    trainer: Annotated[
        str, typer.Option(help="Sequential model: local (in process) or ray (Ray Train).")
    ] = "local",
    use_gpu: Annotated[bool, typer.Option(help="Ray Train workers on GPUs (with ray).")] = False,
    threads: Annotated[int, typer.Option(min=1, help="torch threads.")] = 1,
    bootstrap: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 2000,
    quick: Annotated[bool, typer.Option(help="Smoke run: 2 epochs, seed 0.")] = False,
) -> None:
    """Run the comparison; print the Markdown report and write Markdown + JSON."""
    import torch

    from adrec.bench.recommend import evaluate_runs, run_bench
    from adrec.bench.recommend_report import markdown, write_report
    from adrec.cli_options import fit_config, input_spec

    torch.set_num_threads(threads)
    echo = lambda m: typer.echo(m, err=True)  # noqa: E731
    try:
        if run_dir:
            report = evaluate_runs(run_dir, bootstrap, log=echo)
        else:
            seed_list = tuple(int(s) for s in seeds.split(",") if s.strip())
            if not data.exists():
                raise typer.BadParameter(f"no log at {data}", param_hint="--data")
            cfg = fit_config(
                model=model, loss=loss, epochs=2 if quick else epochs, split=split,
                stride=sequence_stride,
                batch_size=sequence_batch_size, lr=sequence_lr,
                targets_per_user=targets_per_user, detector=detector, windows=windows,
                window=window, window_days=window_days, min_profile=min_profile,
                features=features, sequence_input=sequence_input, served=served,
            )  # fmt: skip
            spec = input_spec(data, format, user_col, item_col, time_col, category_col,
                              category_sep, action_col, value_col, time_unit, meta)  # fmt: skip
            from adrec.data.readers import read_interactions

            if trainer == "ray":
                from adrec.distributed.cluster import connect

                connect()
            inter = read_interactions(spec, log=echo)
            report = run_bench(inter, cfg, seed_list[:1] if quick else seed_list, out_dir,
                               trainer, use_gpu, bootstrap, log=echo)  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    md, js = write_report(report, out_dir)
    typer.echo(markdown(report))
    typer.echo(f"reports: {md} and {js}", err=True)
