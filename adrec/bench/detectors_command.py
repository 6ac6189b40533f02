"""`adrec bench detectors` (being built)."""

from __future__ import annotations

import typer


def detectors() -> None:
    """Not built yet."""
    typer.echo("adrec bench detectors is not built yet", err=True)
    raise typer.Exit(2)
