"""Ray job entrypoint: `python -m jobs.train --help` (the same options as `adrec train`).

ray job submit --address http://<head>:8265 --working-dir . -- \\
    python -m jobs.train --logs /data/logs --run-dir /data/runs/r1
"""

from jobs import run_command


def main(argv: list[str] | None = None) -> None:
    run_command("train", argv)


if __name__ == "__main__":
    main()
