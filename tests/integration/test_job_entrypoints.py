"""The Ray job entrypoints (`python -m jobs.<name>`) are the CLI's commands."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("job", ["demo", "simulate", "train"])
def test_job_module_shows_its_command_help(job):
    out = subprocess.run([sys.executable, "-m", f"jobs.{job}", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Usage:" in out.stdout and f"{job} [OPTIONS]" in out.stdout


def test_train_job_rejects_missing_logs(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "jobs.train", "--logs", str(tmp_path / "none"), "--run-dir",
         str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode != 0
    assert "--logs" in out.stderr
