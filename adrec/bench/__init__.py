"""Reproducible benchmarks (`adrec bench ...`): each writes a Markdown and a JSON report.

Each command module keeps its heavy imports inside the command, so `adrec --help` stays fast."""
