"""The anomaly-aware recommender benchmark; the same as `adrec bench recommend`.

OMP_NUM_THREADS=1 uv run python benchmarks/recommend.py [--quick] [--no-recbole] ...
    [--trainer ray [--use-gpu]]   the long-term SASRec through Ray Train (2 workers)
"""

import typer

from adrec.bench.recommend_command import recommend

if __name__ == "__main__":
    typer.run(recommend)
