"""One local Ray cluster per test session, and one run of the demo path on tiny data whose
service stays up for the HTTP tests."""

import os
import socket

import pytest

# Every Ray Train run starts a dozen processes one after the other; on 2 cores each takes
# seconds. Tests skip the one that watches for spot-instance preemption (no test preempts)
# and poll the workers more often than the 2 s default, so a run's end is seen sooner. Set
# before any cluster starts, so job drivers on the tests' own heads inherit them too.
os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.5")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster():
    import ray

    from adrec.distributed.cluster import connect

    # Logical CPUs, not cores: the demo's Serve replicas stay up (1.25 CPUs) while later tests
    # run 2 training workers (1 CPU each) and Ray Data tasks, which would wait forever with 4.
    connect(num_cpus=6)
    yield
    from ray import serve

    serve.shutdown()
    ray.shutdown()


def tiny_fit_config():
    from adrec.recommender.config import FitConfig

    cfg = FitConfig(detector="iforest", windows="interactions", window=5, min_profile=5,
                    trending_days=(7.0,), gate_epochs=50, grid_step=0.25)  # fmt: skip
    # Plain chunks (stride None): a quarter of the default's training steps.
    return cfg.with_long_term(dim=16, n_layers=1, max_len=20, max_epochs=3, batch_size=64,
                              stride=None)  # fmt: skip


@pytest.fixture(scope="session")
def demo_run(ray_cluster, tmp_path_factory):
    """The demo's whole path (simulate, Ray Data ingest, fit with Ray Train, Serve, HTTP) on
    tiny data; returns (report, run_dir, base_url)."""
    from adrec.data.simulator import SimulationConfig
    from adrec.distributed.demo import DemoOptions, run_demo

    run_dir = tmp_path_factory.mktemp("run")
    port = _free_port()
    report = run_demo(
        DemoOptions(
            run_dir=run_dir,
            simulation=SimulationConfig(n_users=80, n_days=42, n_items=120, event_fraction=0.2),
            fit=tiny_fit_config(),
            workers=2,
            port=port,
            shutdown=False,
        )
    )
    return report, run_dir, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """The run directory of a small run fitted in process (no Ray Train), once per session,
    for the modules that deploy their own Serve application from a run: the tiny settings,
    with a shorter gate and one epoch less."""
    from dataclasses import replace

    from dashboard_run import interactions_of

    from adrec.data.simulator import SimulationConfig, simulate
    from adrec.recommender.fit import fit_recommender
    from adrec.recommender.run import save_run

    events, _, _ = simulate(SimulationConfig(n_users=60, n_days=42, n_items=100))
    cfg = replace(tiny_fit_config(), gate_epochs=30).with_long_term(max_epochs=2)
    engine, report = fit_recommender(interactions_of(events), cfg, seed=0, log=lambda m: None)
    return save_run(engine, report, tmp_path_factory.mktemp("small_run"))
