"""adrec's Ray jobs on a real standing cluster, as an operator runs them: a private head
started with `ray start --head` (2 CPUs, free ports, its own temp dir), jobs submitted with
JobSubmissionClient from this checkout (jobs/runtime_env.yaml: working_dir and excludes), each
waited for and its artifacts checked. One head for the module; tiny data.

Order matters (the module is one story): simulate -> one training job with the default worker
count, in which a worker failure is injected and recovered from the checkpoint -> batch
score (equal to the in-process scores of the training job) -> a driver joining by address
whose workers cannot fit fails fast -> the Serve config deployed with `serve deploy` and
queried."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml
from ray_head import RayHead, free_port

ROOT = Path(__file__).resolve().parents[2]
# --sequence-stride 50 (SASRec's max_len): plain chunks, a tenth of the default's windows.
TINY = ["--epochs", "3", "--detector", "iforest", "--windows", "interactions", "--window", "5",
        "--min-profile", "5", "--sequence-stride", "50"]  # fmt: skip
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


@pytest.fixture(scope="module")
def head():
    with RayHead(num_cpus=2) as h:
        yield h


@pytest.fixture(scope="module")
def client(head):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(head.dashboard_url)


def runtime_env(env_vars: dict | None = None) -> dict:
    """jobs/runtime_env.yaml (what the README's `ray job submit` uses), working_dir made
    absolute."""
    env = yaml.safe_load((ROOT / "jobs" / "runtime_env.yaml").read_text())
    env["working_dir"] = str(ROOT)
    env["env_vars"] = {**env.get("env_vars", {}), **(env_vars or {})}
    return env


def run_job(client, entrypoint: str, env_vars=None, timeout: float = 900) -> tuple[str, str, float]:
    """Submit, wait for a terminal status; (status, logs, seconds)."""
    t0 = time.monotonic()
    job = client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env(env_vars))
    while time.monotonic() - t0 < timeout:
        status = str(client.get_job_status(job).value)
        if status in TERMINAL:
            return status, client.get_job_logs(job), time.monotonic() - t0
        time.sleep(2)
    client.stop_job(job)
    pytest.fail(f"{entrypoint} did not finish in {timeout} s:\n{client.get_job_logs(job)[-4000:]}")


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    root = tmp_path_factory.mktemp("jobs")
    return {"logs": root / "logs", "run": root / "runs" / "r1", "root": root}


def test_the_upload_leaves_out_what_a_checkout_holds_beside_the_code():
    from ray._private.runtime_env.packaging import _get_excludes

    excluded = _get_excludes(ROOT, runtime_env()["excludes"])
    for path in (".venv", "runs", ".git", "data"):
        assert excluded(ROOT / path), path
    for path in ("adrec", "adrec/data", "jobs", "serve_apps", "pyproject.toml"):
        assert not excluded(ROOT / path), path


@pytest.fixture(scope="module")
def simulate_job(client, story):
    status, logs, _ = run_job(
        client, f"python -m jobs.simulate --out {story['logs']} --users 40 --days 28 "
        "--items 80 --shards 2",
    )  # fmt: skip
    return status, logs


def test_simulate_job_writes_logs_with_their_ground_truth(simulate_job, story):
    status, logs = simulate_job
    assert status == "SUCCEEDED", logs[-4000:]
    assert "joined the Ray cluster" in logs  # the job's own cluster, not a private one
    summary = json.loads(logs.strip().splitlines()[-1])
    assert summary["users"] == 40 and summary["events"] > 1000
    assert list(story["logs"].rglob("*.parquet"))
    assert (story["logs"] / "life_events.parquet").exists()


@pytest.fixture(scope="module")
def train_job(client, story, simulate_job):
    """One training job for the module (training is the slow part): the default worker
    count on the 2-CPU head, with a worker failure injected at the start of epoch 3
    ($ADREC_FAIL_AT_EPOCH: rank 0 of a run that did not resume fails, after the checkpoints
    of epochs 1 and 2); (status, logs)."""
    status, logs, _ = run_job(
        client,
        f"python -m jobs.train --logs {story['logs']} --run-dir {story['run']} " + " ".join(TINY),
        env_vars={"ADREC_FAIL_AT_EPOCH": "3"},
    )
    return status, logs


def test_train_job_with_the_default_workers_fits_a_two_cpu_head(train_job, story):
    status, logs = train_job
    assert status == "SUCCEEDED", logs[-6000:]
    # The default 2 workers at half a CPU each leave a CPU to the data task that feeds them.
    assert "training plan: 2 Ray Train worker(s) at 0.5 CPU each" in logs
    for step in ("1/4 reading", "2/4 fitting", "3/4 batch-scoring", "4/4 saved"):
        assert step in logs, step
    assert "training the sequential model from scratch" in logs
    for part in ("engine.json", "fit_report.json", "scores.parquet", "detector", "log"):
        assert (story["run"] / part).exists(), part
    report = json.loads((story["run"] / "fit_report.json").read_text())
    assert report["training"] == {"workers": 2, "use_gpu": False, "cpus_per_worker": 0.5}


def test_a_worker_failure_mid_training_resumes_from_the_checkpoint(train_job, story):
    """FailureConfig(max_failures=1) restarted the workers after the injected failure; they
    resumed from the last checkpoint, the run finished its epochs, the job says so, and the
    saved model answers."""
    status, logs = train_job
    assert status == "SUCCEEDED", logs[-6000:]
    line = next((x for x in logs.splitlines() if "after a worker failure" in x), None)
    assert line is not None, logs[-6000:]
    epoch = int(line.split("checkpoint of epoch ")[1].split()[0])
    assert 1 <= epoch <= 2  # the last checkpoint before the failure at epoch 3
    report = json.loads((story["run"] / "fit_report.json").read_text())
    assert report["long_term"]["resumed_from_epoch"] == epoch
    assert report["long_term"]["epochs_run"] == 3
    from adrec.recommender.engine import AnomalyAwareRecommender

    engine = AnomalyAwareRecommender.load(story["run"])
    ranked = engine.recommend([engine.stored_history(0)], k=5)
    assert len(ranked[0]["items"]) == 5


def test_score_job_writes_the_same_scores_as_the_training_job(client, story, train_job):
    out = story["root"] / "batch_scores.parquet"
    status, logs, _ = run_job(
        client, f"python -m jobs.score --run-dir {story['run']} --out {out} --actors 2"
    )
    assert status == "SUCCEEDED", logs[-4000:]
    assert "1/3" in logs and "3/3 wrote" in logs
    batch = pd.read_parquet(out)
    in_process = pd.read_parquet(story["run"] / "scores.parquet")  # score_log in train_run
    assert len(batch) > 100
    pd.testing.assert_frame_equal(batch, in_process)
    summary = json.loads(logs.strip().splitlines()[-1])
    assert summary["windows"] == len(batch) and summary["detection"]["auroc"] > 0.5


def test_training_that_cannot_fit_fails_fast_saying_what_to_change(head, story, simulate_job):
    """A driver that joins the head by its address (`--address host:port`, here without a
    job around it) and asks for more workers than 2 CPUs hold beside the data tasks fails
    before reading anything, naming the --workers that would fit."""
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "jobs.train", "--logs", str(story["logs"]), "--run-dir",
         str(story["root"] / "runs" / "too-big"), "--workers", "5", "--address",
         head.gcs_address],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
    )  # fmt: skip
    seconds = time.monotonic() - t0
    assert out.returncode == 2, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"joined the Ray cluster at {head.gcs_address}" in out.stdout
    assert "error: 5 training worker(s) need" in out.stderr
    assert "use --workers 4 or fewer" in out.stderr and "2 CPUs" in out.stderr
    assert "1/4 reading" not in out.stdout  # failed before any work
    assert not (story["root"] / "runs" / "too-big").exists()
    assert seconds < 120


def test_the_serve_config_deploys_on_the_head_and_answers(head, story, train_job):
    """serve_apps/recommend.yaml through cluster/serve_config.py (run_dir absolute, a free
    port), `serve deploy` against the head's dashboard, one POST /v1/recommend."""
    port = free_port()
    config = story["root"] / "serve.yaml"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    made = subprocess.run(
        [sys.executable, str(ROOT / "cluster" / "serve_config.py"), "--run-dir",
         str(story["run"]), "--port", str(port)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    config.write_text(made.stdout)
    serve = [str(Path(sys.executable).parent / "serve")]
    subprocess.run([*serve, "deploy", str(config), "--address", head.dashboard_url],
                   env=env, cwd=ROOT, check=True, capture_output=True, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                health = json.loads(urllib.request.urlopen(f"{url}/healthz", timeout=5).read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    status = subprocess.run(
                        [*serve, "status", "--address", head.dashboard_url],
                        env=env, capture_output=True, text=True,
                    )  # fmt: skip
                    pytest.fail(f"no answer on {url}/healthz:\n{status.stdout}{status.stderr}")
                time.sleep(3)
        assert health["status"] == "ok"
        row = pd.read_parquet(sorted((story["logs"] / "events").rglob("*.parquet"))[-1]).iloc[-1]
        event = {"timestamp": pd.Timestamp(row["timestamp"]).isoformat(),
                 "item_id": int(row["item_id"]), "action": str(row["action"]),
                 "value": float(row["value"])}  # fmt: skip
        body = {"user_id": int(row["user_id"]), "k": 5, "events": [event]}
        request = urllib.request.Request(
            f"{url}/v1/recommend", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
        except urllib.error.HTTPError as exc:
            pytest.fail(f"{exc}: {exc.read().decode()[:2000]}")
        assert answer["user_id"] == body["user_id"] and len(answer["items"]) == 5
    finally:
        subprocess.run([*serve, "shutdown", "-y", "--address", head.dashboard_url],
                       env=env, capture_output=True, text=True)  # fmt: skip
