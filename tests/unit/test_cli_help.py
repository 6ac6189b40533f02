"""The `adrec` command line: help, and argument checks that fail before any Ray work.

Ray must never be imported here: the modules that import it are replaced in sys.modules by
stubs (which record calls) or by None (which makes importing them fail)."""

from __future__ import annotations

import sys
import time
import types

import pytest
import typer
from typer.testing import CliRunner

from adrec.cli import app

RAY_MODULES = (
    "ray",
    "adrec.distributed",
    "adrec.distributed.cluster",
    "adrec.distributed.train_run",
    "adrec.distributed.demo",
    "adrec.distributed.ingest",
    "adrec.distributed.long_term",
    "adrec.distributed.train",
    "adrec.distributed.simulate",
    "adrec.distributed.train_detector",
    "adrec.distributed.batch_score",
    "adrec.distributed.pipeline",
    "adrec.distributed.serve_graph",
    "serve_apps",
    "serve_apps.recommend_app",
    "jobs",
    "jobs.demo",
)
COMMANDS = (
    "demo", "simulate", "train", "prep", "score", "serve", "bench", "train-detector", "dashboard",
    "report",
)  # fmt: skip

runner = CliRunner()


@pytest.fixture
def no_ray(monkeypatch):
    """Importing Ray or any module that imports it fails during the test."""
    for name in RAY_MODULES:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def stub_ray(monkeypatch):
    """Stub modules whose entry points record calls instead of starting Ray."""
    calls: list[str] = []

    def record(name):
        def fn(*args, **kwargs):
            calls.append(name)
            raise RuntimeError(f"{name} must not be reached")

        return fn

    modules = {name: types.ModuleType(name) for name in RAY_MODULES}
    modules["adrec.distributed.cluster"].connect = record("connect")
    modules["adrec.distributed.resources"] = types.ModuleType("adrec.distributed.resources")
    modules["adrec.distributed.resources"].ResourcePlanError = type("E", (ValueError,), {})
    modules["adrec.distributed.train_run"].train_run = record("train_run")
    modules["adrec.distributed.train"].TrainSettings = record("TrainSettings")
    modules["adrec.distributed.simulate"].simulate_to_parquet = record("simulate_to_parquet")
    modules["adrec.distributed.train_detector"].load_rows = record("load_rows")
    modules["adrec.distributed.train_detector"].train_detector = record("train_detector")
    modules["adrec.distributed.batch_score"].batch_score = record("batch_score")
    modules["adrec.distributed.pipeline"].run_pipeline = record("run_pipeline")
    modules["adrec.distributed.pipeline"].PipelineOptions = record("PipelineOptions")
    modules["adrec.distributed.serve_graph"].deploy = record("deploy")
    modules["adrec.distributed.serve_graph"].undeploy = record("undeploy")
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def _invoke(args: list[str]):
    t0 = time.perf_counter()
    result = runner.invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    return result, time.perf_counter() - t0


def test_app_has_the_documented_commands():
    command = typer.main.get_command(app)
    assert set(command.commands) == set(COMMANDS)


def test_app_help(no_ray):
    result, elapsed = _invoke(["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.output
    assert elapsed < 3


@pytest.mark.parametrize(
    "command, options",
    [
        ("demo", ["--users", "--days", "--workers", "--run-dir", "--port"]),
        ("simulate", ["--out", "--users", "--days", "--items", "--event-fraction", "--shards"]),
        (
            "train",
            [
                "--logs",
                "--run-dir",
                "--format",
                "--user-col",
                "--item-col",
                "--time-col",
                "--category-col",
                "--workers",
                "--epochs",
                "--detector",
                "--windows",
                "--window",
                "--targets-per-user",
                "--served",
            ],
        ),
        (
            "prep",
            [
                "--logs",
                "--out",
                "--format",
                "--user-col",
                "--window",
                "--stride",
                "--partitions",
                "--address",
            ],
        ),  # fmt: skip
        ("serve", ["--run-dir", "--port", "--host"]),
        ("score", ["--run-dir", "--out", "--logs", "--format", "--actors", "--address"]),
        ("train-detector", ["--data", "--out", "--detector", "--params", "--use-gpu"]),
    ],
)
def test_command_help(no_ray, command, options):
    result, elapsed = _invoke([command, "--help"])
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output
    assert elapsed < 3


def test_train_rejects_missing_logs_before_connecting(stub_ray, tmp_path):
    result, elapsed = _invoke(
        ["train", "--logs", str(tmp_path / "nowhere"), "--run-dir", str(tmp_path / "x")]
    )
    assert result.exit_code == 2, result.output
    assert "--logs" in result.output
    assert "does not exist" in result.output
    assert stub_ray == []  # neither connect() nor train_run() was reached
    assert not (tmp_path / "x").exists()
    assert elapsed < 3


def test_train_rejects_a_log_without_files_before_importing_ray(no_ray, tmp_path):
    """A wrong --logs is reported at once: the check does not wait for Ray and the training
    workflow to be imported (tens of seconds on a small machine)."""
    logs = tmp_path / "logs"
    logs.mkdir()  # exists, but holds no log file
    result, elapsed = _invoke(["train", "--logs", str(logs), "--run-dir", str(tmp_path / "x")])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--logs" in result.output
    assert elapsed < 3


def test_train_rejects_bad_fit_settings_before_connecting(stub_ray, tmp_path):
    (tmp_path / "log.csv").write_text("user_id,item_id,timestamp\n1,2,3\n")
    result, _ = _invoke(["train", "--logs", str(tmp_path / "log.csv"), "--run-dir",
                         str(tmp_path / "x"), "--windows", "weeks"])  # fmt: skip
    assert result.exit_code == 2 and "windows" in result.output
    assert stub_ray == []


def test_the_sequence_stride_reaches_the_fit_config_and_is_checked(stub_ray, tmp_path):
    from adrec.cli_options import fit_config

    common = dict(model="sasrec", loss="full", epochs=None, split="leave_last_out",
                  targets_per_user=5, detector="auto", windows="auto", window=10,
                  window_days=7, min_profile=10, features="auto", sequence_input="auto",
                  served="rule")  # fmt: skip
    assert fit_config(stride=7, **common).long_term.stride == 7
    tuned = fit_config(stride=5, batch_size=256, lr=0.002, **common).long_term
    assert (tuned.stride, tuned.batch_size, tuned.lr) == (5, 256, 0.002)
    assert fit_config(stride=None, **common).long_term.stride == fit_config(
        stride=None, **common).long_term.__class__().stride  # fmt: skip
    (tmp_path / "log.csv").write_text("user_id,item_id,timestamp\n1,2,3\n")
    args = ["train", "--logs", str(tmp_path / "log.csv"), "--run-dir", str(tmp_path / "x")]
    result, _ = _invoke([*args, "--sequence-stride", "0"])
    assert result.exit_code == 2 and "sequence-stride" in result.output
    for flag, bad in (("--sequence-batch-size", "0"), ("--sequence-lr", "-1")):
        result, _ = _invoke([*args, flag, bad])
        assert result.exit_code == 2 and flag.lstrip("-") in result.output
    assert stub_ray == []


def test_serve_rejects_an_empty_run_dir(no_ray, tmp_path):
    result, elapsed = _invoke(["serve", "--run-dir", str(tmp_path)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--run-dir" in result.output
    assert "engine.json" in result.output  # names what is missing
    assert elapsed < 3


def test_serve_checks_before_connecting(stub_ray, tmp_path):
    result, _ = _invoke(["serve", "--run-dir", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "--run-dir" in result.output
    assert stub_ray == []


def test_score_checks_the_run_and_the_log_before_connecting(stub_ray, tmp_path):
    result, _ = _invoke(["score", "--run-dir", str(tmp_path), "--out", str(tmp_path / "s.pq")])
    assert result.exit_code == 2 and "--run-dir" in result.output
    for part in ("engine.json", "log", "sources", "blend"):
        (tmp_path / part).mkdir()
    result, _ = _invoke(["score", "--run-dir", str(tmp_path), "--out", str(tmp_path / "s.pq")])
    assert result.exit_code == 2 and "no behaviour detector" in result.output
    (tmp_path / "detector").mkdir()
    result, _ = _invoke(["score", "--run-dir", str(tmp_path), "--out", str(tmp_path / "s.pq"),
                         "--logs", str(tmp_path / "nowhere")])  # fmt: skip
    assert result.exit_code == 2 and "--logs" in result.output
    assert stub_ray == []


def test_simulate_validates_options_before_connecting(stub_ray, tmp_path):
    result, _ = _invoke(["simulate", "--out", str(tmp_path), "--users", "3"])
    assert result.exit_code == 2
    assert "--users" in result.output
    result, _ = _invoke(["simulate", "--out", str(tmp_path), "--event-fraction", "1.5"])
    assert result.exit_code == 2
    assert "--event-fraction" in result.output
    assert stub_ray == []


@pytest.mark.parametrize(
    "args, option, message",
    [
        (["--detector", "iforest"], "--detector", "not one of"),
        (["--data", "{missing}"], "--data", "does not exist"),
        (["--params", "{{bad"], "--params", "not JSON"),
        (["--params", "[1]"], "--params", "JSON object"),
    ],
)
def test_train_detector_checks_arguments_before_connecting(
    stub_ray, tmp_path, args, option, message
):
    rows = tmp_path / "rows.npy"
    rows.write_bytes(b"")
    base = {"--data": str(rows), "--out": str(tmp_path / "det"), "--detector": "vae"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    merged = {**base, **{k: v.format(missing=tmp_path / "missing") for k, v in given.items()}}
    result, elapsed = _invoke(["train-detector", *[x for kv in merged.items() for x in kv]])
    assert result.exit_code == 2, (result.output, result.exception)
    assert option in result.output and message in result.output
    assert stub_ray == []
    assert elapsed < 3


def test_prep_checks_the_log_before_connecting(stub_ray, tmp_path):
    result, _ = _invoke(["prep", "--logs", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--logs" in result.output, result.output
    (tmp_path / "log.csv").write_text("user,item_id,timestamp\n1,2,3\n")
    result, _ = _invoke(["prep", "--logs", str(tmp_path / "log.csv"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "user_id" in result.output, result.output
    assert stub_ray == []
