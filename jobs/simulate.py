"""Ray job entrypoint: `python -m jobs.simulate --help` (the same options as `adrec simulate`).

ray job submit --address http://<head>:8265 --working-dir . -- \\
    python -m jobs.simulate --out /data/logs --users 2000 --days 60
"""

from jobs import run_command


def main(argv: list[str] | None = None) -> None:
    run_command("simulate", argv)


if __name__ == "__main__":
    main()
