"""Ray job entrypoint: `python -m jobs.demo --help` (the same options as `adrec demo`)."""

import sys

from adrec.cli import app


def main(argv: list[str] | None = None) -> None:
    app(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
