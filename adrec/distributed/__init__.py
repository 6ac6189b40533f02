"""The only package of adrec that imports Ray: Ray Data pipelines, Ray Train loops, the
Ray Serve graph (serve_graph.py, serve_metrics.py) and the workflows that chain them.
Everything it runs is plain code from the rest of adrec."""

import os

# Measured on a 2-core machine with Ray 2.60 (see README, "Performance notes"): when the
# driver runs under `uv run`, Ray starts every worker through `uv run` as well, which made the
# first task of a fresh cluster 3x slower; the driver's venv already is the workers'
# environment. Overridable from the environment. (The Parquet reader choice is applied in
# pipeline.read_events.)
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
