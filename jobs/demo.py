"""Ray job entrypoint: `python -m jobs.demo --help` (the same options as `adrec demo`)."""

from jobs import run_command


def main(argv: list[str] | None = None) -> None:
    run_command("demo", argv)


if __name__ == "__main__":
    main()
