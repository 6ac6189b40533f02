"""`adrec bench recommend`: the anomaly-aware blend against fixed blends and learned gates on
MovieLens (leave-last-out or a global time split, several targets per user), with RecBole's
SASRec side by side on its own one-target split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def recommend(
    data: Annotated[
        Path, typer.Option(help="A MovieLens folder (ml-100k or ml-1m layout).")
    ] = Path("../shared/data/ml-100k"),
    out_dir: Annotated[Path, typer.Option(help="Where to write the reports.")] = Path(
        "reports/recommend"
    ),
    seeds: Annotated[str, typer.Option(help="Comma list of seeds.")] = "0,1,2",
    split: Annotated[
        str, typer.Option(help="leave_last_out, or global_time (two global time cuts).")
    ] = "leave_last_out",
    targets_per_user: Annotated[
        int,
        typer.Option(
            min=1,
            help="Test (and validation) targets per user, each predicted from the history "
            "before it; RecBole's side-by-side run keeps its one-target split.",
        ),
    ] = 5,
    model: Annotated[
        str, typer.Option(help="Long-term sequential model: sasrec, or gru4rec.")
    ] = "sasrec",
    loss: Annotated[
        str,
        typer.Option(help="Its training loss: full softmax, or sampled (100 uniform negatives)."),
    ] = "full",
    epochs: Annotated[int, typer.Option(min=1, help="Long-term model epochs.")] = 20,
    detector: Annotated[
        str, typer.Option(help="Behaviour detector name, or 'auto' (chosen on validation).")
    ] = "auto",
    features: Annotated[
        str, typer.Option(help="Behaviour features: all, activity, or auto (on validation).")
    ] = "auto",
    sequence_input: Annotated[
        str, typer.Option(help="Sequence detectors read: summary, steps, or auto (validation).")
    ] = "auto",
    trainer: Annotated[
        str,
        typer.Option(help="Long-term SASRec: local (in-process) or ray (Ray Train, 2 workers)."),
    ] = "local",
    use_gpu: Annotated[bool, typer.Option(help="Ray Train workers on GPUs (with ray).")] = False,
    recbole: Annotated[bool, typer.Option(help="Run RecBole's SASRec side by side.")] = True,
    recbole_epochs: Annotated[
        int,
        typer.Option(
            min=1,
            help="Most RecBole epochs, early stopping on validation (about 2-3 minutes each on "
            "2 cores; its validation NDCG@10 peaked at epoch 12 of 15 on ml-100k).",
        ),
    ] = 15,
    threads: Annotated[int, typer.Option(min=1, help="torch threads.")] = 1,
    quick: Annotated[bool, typer.Option(help="Smoke run: 2 epochs, seed 0, no RecBole.")] = False,
) -> None:
    """Run the comparison; print the Markdown report and write Markdown + JSON."""
    from adrec.bench.recommend import BenchConfig, run_movielens
    from adrec.bench.recommend_report import markdown, write_report

    try:
        seed_list = tuple(int(s) for s in seeds.split(",") if s.strip())
    except ValueError:
        raise typer.BadParameter(f"seeds must be integers, got {seeds!r}") from None
    if not data.exists():
        raise typer.BadParameter(f"no data folder {data}")
    try:
        cfg = BenchConfig(
            epochs=2 if quick else epochs,
            seeds=(seed_list[0],) if quick else seed_list,
            detector=detector,
            features=features,
            sequence_input=sequence_input,
            split=split,
            targets_per_user=targets_per_user,
            sequence_model=model,
            loss=loss,
            trainer=trainer,
            use_gpu=use_gpu,
        )
        report = run_movielens(
            data, cfg, threads=threads, with_recbole=recbole and not quick, out_dir=out_dir,
            log=lambda m: typer.echo(m, err=True), recbole_epochs=recbole_epochs,
        )  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    md, js = write_report(report, out_dir)
    typer.echo(markdown(report))
    typer.echo(f"reports: {md} and {js}", err=True)
