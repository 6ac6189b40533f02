"""`adrec bench recommend` (being built)."""

from __future__ import annotations

import typer


def recommend() -> None:
    """Not built yet."""
    typer.echo("adrec bench recommend is not built yet", err=True)
    raise typer.Exit(2)
