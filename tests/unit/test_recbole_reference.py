"""The RecBole side-by-side without RecBole: its input reproduces adrec's split exactly, and a
failing run is reported as unavailable with the reason."""

from __future__ import annotations

import sys

import pandas as pd

from adrec.bench.recbole_reference import run_recbole_sasrec, write_atomic_inter
from adrec.data.splits import leave_last_out


def tied_ratings() -> pd.DataFrame:
    # User 1's last three ratings share one timestamp: file order decides, in adrec and RecBole.
    return pd.DataFrame(
        {
            "user_id": [1, 2, 1, 1, 2, 1, 2, 2],
            "item_id": [10, 20, 11, 12, 21, 13, 22, 23],
            "rating": 4,
            "timestamp": [5, 1, 9, 9, 2, 9, 2, 3],
        }
    )


def test_atomic_file_reproduces_leave_last_out_targets(tmp_path):
    ratings = tied_ratings()
    path = write_atomic_inter(ratings, tmp_path / "ml100k" / "ml100k.inter")
    inter = pd.read_csv(path, sep="\t")
    assert list(inter.columns) == ["user_id:token", "item_id:token", "timestamp:float"]
    # RecBole orders each user's interactions by the written timestamp ("TO"), then leaves
    # the last out for test and the one before for validation.
    ordered = inter.sort_values(["user_id:token", "timestamp:float"])
    per_user = ordered.groupby("user_id:token")["item_id:token"].apply(list)
    split = leave_last_out(ratings)
    for user, valid, test in zip(split.users, split.valid.targets, split.test.targets, strict=True):
        assert per_user[user][-1] == test and per_user[user][-2] == valid
    assert per_user[1] == [10, 11, 12, 13]
    assert inter.groupby("user_id:token")["timestamp:float"].apply(lambda t: t.is_unique).all()


def test_a_failing_run_is_reported_unavailable_with_its_reason(tmp_path):
    fail = [sys.executable, "-c", "import sys; print('no recbole here'); sys.exit(3)", "--"]
    result = run_recbole_sasrec(tied_ratings(), tmp_path, 50, 1, python=fail, log=lambda m: None)
    assert result["status"] == "unavailable"
    assert "exit 3" in result["why"] and "no recbole here" in result["why"]


def test_a_missing_interpreter_is_reported_unavailable(tmp_path):
    result = run_recbole_sasrec(tied_ratings(), tmp_path, 50, 1, python=["/no/such/python"])
    assert result["status"] == "unavailable" and "could not start" in result["why"]


def test_a_run_past_its_timeout_is_killed_and_reported(tmp_path):
    slow = [sys.executable, "-c", "import time; time.sleep(30)", "--"]
    result = run_recbole_sasrec(tied_ratings(), tmp_path, 50, 1, python=slow, timeout_s=0.5)
    assert result["status"] == "unavailable" and "timed out" in result["why"]


FAKE_RECBOLE = """
import json, pathlib, sys
args = dict(zip(sys.argv[3::2], sys.argv[4::2]))  # after -c, --, the script's path
data = pathlib.Path(args["--data-path"]) / args["--dataset"] / (args["--dataset"] + ".inter")
assert data.exists(), f"{data} not found from {pathlib.Path.cwd()}"
pathlib.Path(args["--out"]).write_text(json.dumps({"status": "ok", "ndcg@10": 0.05}))
"""


def test_a_relative_out_dir_still_finds_its_data_from_recbole_s_working_directory(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the bench's default out dir is relative: reports/recommend
    fake = [sys.executable, "-c", FAKE_RECBOLE, "--"]
    result = run_recbole_sasrec(tied_ratings(), "reports/x/recbole", 50, 1, python=fake)
    assert result["status"] == "ok", result
    assert (tmp_path / "reports/x/recbole/result.json").exists()
