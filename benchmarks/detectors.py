"""The detector benchmark as a script; the same code as `adrec bench detectors`.

OMP_NUM_THREADS=1 uv run --group bench python benchmarks/detectors.py [--quick] [--help]
"""

import typer

from adrec.bench.detectors_command import detectors

if __name__ == "__main__":
    typer.run(detectors)
