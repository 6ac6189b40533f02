"""The only package of adrec that imports Ray: Ray Data pipelines, Ray Train loops and the
workflows that chain them. Everything it runs is plain code from the rest of adrec."""

import os

# Measured on a 2-core machine with Ray 2.60 (see README, "Performance notes"):
# - Ray Data's DataSource V2 Parquet reader starts FooterReader actors per read: reading 56
#   small files took 47 s instead of 0.7 s with the V1 reader.
# - When the driver runs under `uv run`, Ray starts every worker through `uv run` as well,
#   which made the first task of a fresh cluster 3x slower; the driver's venv already is
#   the workers' environment.
# Both stay overridable from the environment.
os.environ.setdefault("RAY_DATA_USE_DATASOURCE_V2", "0")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
