"""How the tabular detectors scale with rows, beside PyOD (adrec.bench.detector_scale): fit on
n generated rows, score n, for n = 10k, 30k, 100k, 300k; seconds, peak memory, growth
exponent and the ratio to PyOD; writes detector_scale.md and detector_scale.json.

OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 uv run --group bench python benchmarks/detector_scale.py
"""

from pathlib import Path
from typing import Annotated

import typer


def main(
    out_dir: Annotated[Path, typer.Option(help="Where to write the reports.")] = Path(
        "reports/detector_scale"
    ),
    sizes: Annotated[
        str, typer.Option(help="Comma list of row counts.")
    ] = "10000,30000,100000,300000",
    detectors: Annotated[
        str | None, typer.Option(help="Comma list of tabular detectors (all).")
    ] = None,
    budget: Annotated[
        float, typer.Option(help="Seconds a run may be projected to take before it is skipped.")
    ] = 600.0,
    pyod: Annotated[bool, typer.Option(help="Run PyOD's counterparts beside adrec.")] = True,
    threads: Annotated[int, typer.Option(min=1, help="BLAS / OpenMP threads per run.")] = 1,
) -> None:
    from adrec.bench.detector_scale import ScaleConfig, render_markdown, run_scale, write_report

    cfg = ScaleConfig(
        sizes=tuple(int(s) for s in sizes.split(",")),
        detectors=tuple(d.strip() for d in detectors.split(",")) if detectors else None,
        with_pyod=pyod,
        budget_s=budget,
        threads=threads,
    )
    # The report is rewritten after each detector, so a stopped run leaves what it measured.
    result = run_scale(
        cfg, echo=lambda m: typer.echo(m, err=True), on_detector=lambda r: write_report(r, out_dir)
    )
    md, js = write_report(result, out_dir)
    typer.echo(render_markdown(result))
    typer.echo(f"reports: {md} and {js}", err=True)


if __name__ == "__main__":
    typer.run(main)
