"""Starting or joining a Ray cluster."""

from __future__ import annotations

import logging
import os

import ray
import ray.data


def connect(address: str | None = None, num_cpus: int | None = None, quiet: bool = True) -> None:
    """Join the cluster at `address` (or $RAY_ADDRESS, which Ray jobs set), or start a local
    one with enough logical CPUs for data tasks and training workers to run side by side on a
    small machine (Ray Data's read tasks would otherwise wait for training workers)."""
    if ray.is_initialized():
        return
    kwargs = {"log_to_driver": not quiet, "include_dashboard": False}
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus or max(4, os.cpu_count() or 1), **kwargs)
    ray.data.DataContext.get_current().enable_progress_bars = not quiet
    if quiet:  # adrec prints its own progress; Ray's per-dataset INFO lines drown it
        for name in ("ray.data", "ray.train", "ray.serve", "ray"):
            logging.getLogger(name).setLevel(logging.WARNING)
