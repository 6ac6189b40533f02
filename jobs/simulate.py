"""Ray job entrypoint: `python -m jobs.simulate --help` (the same options as `adrec simulate`).

ray job submit --working-dir . -- python -m jobs.simulate ... --address auto
"""

import sys

from adrec.cli import app


def main(argv: list[str] | None = None) -> None:
    app(["simulate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
