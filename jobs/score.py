"""Ray job entrypoint: `python -m jobs.score --help` (the same options as `adrec score`).

ray job submit --address http://<head>:8265 --working-dir . -- \\
    python -m jobs.score --run-dir /data/runs/r1 --out /data/runs/r1/scores-batch.parquet
"""

from jobs import run_command


def main(argv: list[str] | None = None) -> None:
    run_command("score", argv)


if __name__ == "__main__":
    main()
