"""Shared tiny fixtures of the unit tests. Nothing here imports Ray."""

from __future__ import annotations

import pytest
import torch

from adrec.data.life_event_windows import DaySplit, WindowSpec
from adrec.data.simulator import SimulationConfig, simulate

# Unit tests run on a small shared machine: one thread keeps torch from oversubscribing.
torch.set_num_threads(1)

TINY_CONFIG = SimulationConfig(n_users=30, n_days=35, n_items=60, n_categories=6)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def tiny_config() -> SimulationConfig:
    return TINY_CONFIG


@pytest.fixture(scope="session")
def tiny_sim(tiny_config):
    """(events, truth, catalog) of the tiny configuration, simulated once per session.
    Tests must not modify these frames in place (copy first)."""
    return simulate(tiny_config)


@pytest.fixture(scope="session")
def tiny_spec(tiny_config) -> WindowSpec:
    return WindowSpec(tiny_config.categories, tiny_config.start_date, window_days=7)


@pytest.fixture(scope="session")
def tiny_split(tiny_config) -> DaySplit:
    # 35 days with the default fractions leave a calibration period shorter than a window;
    # this split has 8 fit, 4 calibration and 11 test windows per active user.
    return DaySplit(fit_end=14, calib_end=24, n_days=tiny_config.n_days)


@pytest.fixture(scope="session")
def fitted(tiny_sim, tmp_path_factory):
    """(log, engine, fit report, run directory) of the fit step on the tiny simulated log."""
    from _adrec_helpers import interactions_from_events, tiny_fit_config

    from adrec.recommender.fit import fit_recommender
    from adrec.recommender.run import save_run

    events, _, _ = tiny_sim
    inter = interactions_from_events(events)
    engine, report = fit_recommender(inter, tiny_fit_config(), seed=0, log=lambda m: None)
    root = save_run(engine, report, tmp_path_factory.mktemp("run"))
    return inter, engine, report, root
