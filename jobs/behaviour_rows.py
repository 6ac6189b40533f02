"""Ray job entrypoint (no Ray work of its own): the normal behaviour rows of a trained run,
the input of `adrec train-detector` and of the GPU detector RayJob.

    python -m jobs.behaviour_rows --run-dir /data/runs/r1 --out /data/detector/rows.npy [--steps]
"""

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", required=True, help="a trained run directory")
    parser.add_argument("--out", required=True, help=".npy file to write")
    parser.add_argument(
        "--steps", action="store_true", help="[n, time, features] for sequence detectors"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from adrec.distributed.behaviour_rows import save_normal_rows

    print(json.dumps(save_normal_rows(args.run_dir, args.out, args.steps)), flush=True)


if __name__ == "__main__":
    main()
