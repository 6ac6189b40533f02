"""`adrec serve`: its knobs, checked before any Ray import; the Serve config's args are the
typed builder's arguments."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from adrec.cli import app
from adrec.serving.args import AppArgs

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def no_ray(monkeypatch):
    for name in (
        "ray",
        "adrec.distributed",
        "adrec.distributed.cluster",
        "adrec.distributed.serve_graph",
    ):
        monkeypatch.setitem(sys.modules, name, None)


def test_serve_exposes_replicas_and_batching_knobs(no_ray):
    result = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for option in ("--detector-replicas", "--recommender-replicas", "--ingress-replicas",
                   "--max-ongoing-requests", "--max-batch-size", "--batch-wait-s",
                   "--max-batches-in-flight", "--model-max-ongoing-requests",
                   "--throughput-mode", "--image-detector"):  # fmt: skip
        assert option in result.output


def test_serve_rejects_knobs_that_cannot_work_before_starting_ray(no_ray, fitted):
    _, _, _, run_dir = fitted
    args = ["serve", "--run-dir", str(run_dir), "--max-batches-in-flight", "8",
            "--model-max-ongoing-requests", "4"]  # fmt: skip
    result = runner.invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 2, (result.output, result.exception)
    assert "model_max_ongoing_requests" in result.output


def test_the_serve_config_args_are_the_builders_arguments():
    config = yaml.safe_load((ROOT / "serve_apps" / "recommend.yaml").read_text())
    args = AppArgs.model_validate(config["applications"][0]["args"])
    assert args.max_batch_size >= 1 and args.model_max_ongoing_requests >= 2
    with pytest.raises(ValueError, match="max_batch_siz"):
        AppArgs.model_validate({**config["applications"][0]["args"], "max_batch_siz": 3})


@pytest.mark.parametrize("address", [None, "10.0.0.5:6379"])
def test_stopping_serve_removes_only_its_own_application_from_a_joined_cluster(
    monkeypatch, fitted, address
):
    """On a cluster it started, `adrec serve` stops Serve with it; on a cluster it joined
    (--address), Ctrl-C deletes its application and leaves Serve and other apps running."""
    import types

    import adrec.cli

    calls = []
    cluster = types.SimpleNamespace(
        connect=lambda address, **kw: calls.append(("connect", address)),
        disconnect=lambda: calls.append(("disconnect",)),
    )
    serving = types.SimpleNamespace(
        deploy=lambda run_dir, **kw: "http://127.0.0.1:8000",
        direct_urls=lambda **kw: [],
        undeploy=lambda **kw: calls.append(("undeploy", kw)),
    )
    monkeypatch.setitem(sys.modules, "adrec.distributed.cluster", cluster)
    monkeypatch.setitem(sys.modules, "adrec.distributed.serve_graph", serving)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)

    def interrupted(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(adrec.cli.time, "sleep", interrupted)
    monkeypatch.setattr(adrec.cli.signal, "signal", lambda *a: None)
    args = ["serve", "--run-dir", str(fitted[3]), "--no-throughput-mode"]
    result = runner.invoke(app, args + (["--address", address] if address else []))
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.output.strip().endswith("stopped")
    assert calls == [
        ("connect", address),
        ("undeploy", {"stop_serve": address is None}),
        ("disconnect",),
    ]
