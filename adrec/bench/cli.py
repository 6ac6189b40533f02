"""The `adrec bench` command group; one module per benchmark registers its command."""

from __future__ import annotations

import typer

from adrec.bench.detectors_command import detectors
from adrec.bench.recommend_command import recommend

bench_app = typer.Typer(
    help="Reproducible benchmarks that print and save a Markdown + JSON report.",
    no_args_is_help=True,
)
bench_app.command("detectors")(detectors)
bench_app.command("recommend")(recommend)
