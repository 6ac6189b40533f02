"""Ray job entrypoint: `python -m jobs.train_detector --help` (the same options as
`adrec train-detector`).

ray job submit --working-dir . -- python -m jobs.train_detector --data /data/rows.npy \\
    --detector vae --out /data/detectors/vae --address auto
"""

import sys

from adrec.cli import app


def main(argv: list[str] | None = None) -> None:
    app(["train-detector", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
