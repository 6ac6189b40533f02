"""The Ray job entrypoints (`python -m jobs.<name>`) are the CLI's commands.

    ray job submit --address http://<head>:8265 --working-dir . -- python -m jobs.train ...

A job's driver runs on the head with its output in a pipe, where Python would hold print()
lines back until a buffer fills: every entrypoint switches stdout to line buffering first, so
`ray job logs --follow` shows each progress line as it happens."""

import sys


def run_command(command: str, argv: list[str] | None = None) -> None:
    """Run the `adrec` command `command` with argv (default: this process's arguments)."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    from adrec.cli import app

    app([command, *(sys.argv[1:] if argv is None else argv)])
