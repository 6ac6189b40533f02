"""Ray job entrypoint: `python -m jobs.train --help` (the same options as `adrec train`).

ray job submit --working-dir . -- python -m jobs.train ... --address auto
"""

import sys

from adrec.cli import app


def main(argv: list[str] | None = None) -> None:
    app(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
