"""`adrec bench detectors`: every registered detector (and PyOD's counterpart, where it has
one) on MVTec AD embeddings, scikit-learn's digits, NAB, Merlion synthetic series and adrec's
planted life events: accuracy, and fit and score seconds beside PyOD's with their ratio."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _names(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None


def detectors(
    quick: Annotated[
        bool, typer.Option(help="Smoke run: 3 MVTec categories, 1 series per category, 1 seed.")
    ] = False,
    data_root: Annotated[
        Path, typer.Option(help="Folder holding adbench/, nab/ and merlion-synthetic/.")
    ] = Path("../shared/data"),
    out_dir: Annotated[Path, typer.Option(help="Where to write the reports.")] = Path(
        "reports/detectors"
    ),
    parts: Annotated[
        str | None,
        typer.Option(help="Comma list of mvtec, digits, nab, merlion, life_events (all)."),
    ] = None,
    detectors: Annotated[
        str | None,
        typer.Option(help="Comma list for MVTec, digits and life events (all registered)."),
    ] = None,
    series_detectors: Annotated[
        str | None, typer.Option(help="Comma list for NAB and Merlion (a fast subset).")
    ] = None,
    seeds: Annotated[
        str | None, typer.Option(help="Comma list of seeds (0,1,2; --quick: 0).")
    ] = None,
    pyod: Annotated[bool, typer.Option(help="Run PyOD's counterparts beside adrec.")] = True,
    threads: Annotated[int, typer.Option(min=1, help="BLAS / OpenMP / torch threads.")] = 1,
    window: Annotated[
        int, typer.Option(min=2, help="NAB / Merlion: points per window (one window per point).")
    ] = 128,
    test_params: Annotated[
        bool, typer.Option(help="Each detector's tiny get_test_params() (smoke runs only).")
    ] = False,
) -> None:
    """Benchmark the detectors; print the Markdown report and write Markdown + JSON."""
    from adrec.bench.detectors import (
        PARTS,
        BenchConfig,
        render_markdown,
        run_benchmark,
        write_report,
    )

    overrides: dict = {
        "data_root": data_root,
        "with_pyod": pyod,
        "threads": threads,
        "window": window,
        "test_params": test_params,
        "detectors": _names(detectors),
        "series_detectors": _names(series_detectors),
    }
    if parts:
        overrides["parts"] = _names(parts)
    if seeds:
        try:
            overrides["seeds"] = tuple(int(s) for s in _names(seeds) or ())
        except ValueError:
            raise typer.BadParameter(f"seeds must be integers, got {seeds!r}") from None
    if not (data_root / "adbench").exists() and "mvtec" in overrides.get("parts", PARTS):
        raise typer.BadParameter(f"no adbench/ under --data-root {data_root}")
    try:
        cfg = BenchConfig.quick(**overrides) if quick else BenchConfig(**overrides)
        result = run_benchmark(cfg, echo=lambda m: typer.echo(m, err=True))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    md, js = write_report(result, out_dir)
    typer.echo(render_markdown(result))
    typer.echo(f"reports: {md} and {js}", err=True)
