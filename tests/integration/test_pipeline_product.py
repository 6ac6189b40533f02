"""The log pipeline as the product runs it: `adrec prep` (progress, exact counts, windows and
rejects as Parquet), the Interactions `adrec train` builds from the pipeline's output (equal
to the in-process reader's), and scores from the pipeline's windows (equal to score_log's)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from adrec.data.log_prep import log_signals, pipeline_interactions, pipeline_windows
from adrec.data.log_prep import saved_vocabulary as _vocab
from adrec.data.readers import InputSpec, read_interactions
from adrec.data.simulator import SimulationConfig, simulate
from adrec.detectors.behaviour.detector import BehaviourDetector
from adrec.detectors.behaviour.scoring import same_signals, score_log, score_windows
from adrec.detectors.behaviour.windows import InteractionWindow, Signals

BAD = """user_id,item_id,timestamp,category,action,value
u1,i1,2024-01-01T10:00:00Z,shoes,view,0
u1,i2,2024-01-01T11:00:00Z,shoes,purchase,20.5
u1,i2,2024-01-01T11:00:00Z,shoes,purchase,20.5
,i1,2024-01-01T10:00:00Z,shoes,view,0
u3,,2024-01-01T10:00:00Z,shoes,view,0
u3,i1,,shoes,view,0
u3,i1,yesterday,shoes,view,0
u3,i1,1850-01-01,shoes,view,0
u3,i1,2024-01-02,shoes,view,4 stars
u3,i1,2024-01-02,shoes,view
"""
# What BAD holds: 10 rows, 2 valid (u1's first two) and one exact repeat of a valid one.
BAD_REJECTS = {
    "duplicate": 1,
    "missing_user": 1,
    "missing_item": 1,
    "missing_timestamp": 1,
    "bad_timestamp": 1,
    "timestamp_out_of_range": 1,
    "bad_value": 1,
    "malformed_line": 1,
}


@pytest.fixture(scope="module")
def csv_log(tmp_path_factory):
    """A simulated log as 2 CSV files, and one file of bad rows."""
    root = tmp_path_factory.mktemp("csvlog")
    events, _, _ = simulate(SimulationConfig(n_users=50, n_days=28, n_items=80, n_categories=4))
    events["timestamp"] = events["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    half = len(events) // 2
    events.iloc[:half].to_csv(root / "part-0.csv", index=False)
    events.iloc[half:].to_csv(root / "part-1.csv", index=False)
    (root / "part-2.csv").write_text(BAD)
    return root, len(events)


@pytest.fixture(scope="module")
def prepped(ray_cluster, csv_log, tmp_path_factory):
    """`adrec prep` on the CSV log: (result, output folder)."""
    from adrec.cli import app

    root, _ = csv_log
    out = tmp_path_factory.mktemp("prep") / "out"
    args = ["prep", "--logs", str(root), "--out", str(out), "--window", "5", "--min-profile",
            "5", "--partitions", "3"]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result, out


def test_prep_reports_exact_counts_and_writes_windows_and_rejects(prepped, csv_log):
    result, out = prepped
    _, n_events = csv_log
    summary = json.loads(result.output[result.output.rindex("\n{") :])
    rejected = {r: n for r, n in summary["rejected"].items() if n}
    assert rejected == BAD_REJECTS
    # The simulated rows are all valid and distinct; BAD adds 10 rows, 2 of them kept.
    assert summary["rows_in"] == n_events + 10
    assert summary["rows_out"] == n_events + 2
    assert summary["rows_in"] == summary["rows_out"] + summary["rows_rejected"]
    assert summary["rows_rejected"] == sum(BAD_REJECTS.values())
    # progress while it ran: every read task and every partition, then the total
    assert "  read " in result.output and "  partition 3/3" in result.output
    assert "rows in = " in result.output
    rejects = pq.read_table(str(out / "rejects")).to_pandas()
    assert rejects["reason"].value_counts().to_dict() == BAD_REJECTS
    windows = pq.read_table(str(out / "windows"))
    assert len(windows) == summary["windows"] > 50
    assert {"user_id", "end", "time", "features", "steps"} <= set(windows.column_names)


def test_the_pipeline_interactions_equal_the_in_process_reader(prepped, csv_log):
    _, out = prepped
    root, _ = csv_log
    ours = pipeline_interactions(str(out))
    theirs = read_interactions(InputSpec(root), log=lambda m: None)
    for name in ("user", "item", "time", "action"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
    np.testing.assert_array_equal(ours.value, theirs.value)
    np.testing.assert_array_equal(ours.item_categories, theirs.item_categories)
    assert list(ours.users.raw) == list(theirs.users.raw)
    assert list(ours.items.raw) == list(theirs.items.raw)
    assert ours.categories == theirs.categories and ours.action_names == theirs.action_names
    for key in ("rows_in", "rows_used", "rejected", "n_users", "n_items", "n_categories"):
        assert ours.report[key] == theirs.report[key], key


class _Linear:
    """A stand-in fitted detector: a fixed linear score of every input value (so equal
    scores mean equal inputs), with an identity-like calibration."""

    name = "linear"
    threshold_ = 0.0

    def __init__(self, input_ndim: int):
        self.input_ndim = input_ndim
        self.calibrator_ = self

    def decision_function(self, X):
        flat = np.asarray(X, np.float64).reshape(len(X), -1)
        w = np.random.default_rng(0).normal(size=flat.shape[1])
        return flat @ w

    def transform(self, s):
        return 1.0 / (1.0 + np.exp(-s))


@pytest.mark.parametrize("as_steps", [False, True])
def test_scores_of_the_pipeline_windows_equal_score_log(prepped, as_steps):
    _, out = prepped
    inter = pipeline_interactions(str(out))
    sig = Signals.from_log(inter.item_categories, len(inter.action_names), inter.value, inter.time)
    vocab, meta = _vocab(str(out))
    assert same_signals(sig, log_signals(vocab, meta["sub_day"]))
    det = BehaviourDetector(_Linear(3 if as_steps else 2), InteractionWindow(5, 5), as_steps, sig)
    ours = score_windows(pipeline_windows(str(out)), inter, det)
    theirs = score_log(inter, det, stride=5)
    assert len(ours) > 50
    pd.testing.assert_frame_equal(ours, theirs)


@pytest.mark.parametrize("as_steps", [False, True])
@pytest.mark.parametrize("window", [InteractionWindow(5, 5), InteractionWindow(4, 3, True)])
def test_vectorised_scoring_equals_score_log(prepped, window, as_steps):
    """score_log_fast (interaction windows of every user at once) gives score_log's frame,
    for another window than the pipeline's and for activity-only windows."""
    from adrec.detectors.behaviour.scoring import score_log_fast

    _, out = prepped
    inter = pipeline_interactions(str(out))
    sig = Signals.from_log(inter.item_categories, len(inter.action_names), inter.value, inter.time)
    det = BehaviourDetector(_Linear(3 if as_steps else 2), window, as_steps, sig)
    fast = score_log_fast(inter, det, stride=3)
    assert len(fast) > 50
    pd.testing.assert_frame_equal(fast, score_log(inter, det, stride=3))
