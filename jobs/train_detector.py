"""Ray job entrypoint: `python -m jobs.train_detector --help` (the same options as
`adrec train-detector`).

ray job submit --address http://<head>:8265 --working-dir . -- python -m jobs.train_detector \\
    --data /data/rows.npy --detector vae --out /data/detectors/vae
"""

from jobs import run_command


def main(argv: list[str] | None = None) -> None:
    run_command("train-detector", argv)


if __name__ == "__main__":
    main()
