"""The RecBole side-by-side without RecBole: its input reproduces adrec's split exactly, and a
failing run is reported as unavailable with the reason."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

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


def _recbole_script():
    """benchmarks/recbole_sasrec.py as a module (it imports RecBole only inside main)."""
    import importlib.util

    from adrec.bench.recbole_reference import SCRIPT

    spec = importlib.util.spec_from_file_location("recbole_sasrec_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_default_config_overrides_only_data_evaluation_seed_and_folders():
    script = _recbole_script()
    cfg = script.build_config_dict("default", data_path="d", checkpoint_dir="c")
    assert set(cfg) == {
        "data_path", "checkpoint_dir", "USER_ID_FIELD", "ITEM_ID_FIELD", "TIME_FIELD",
        "load_col", "train_neg_sample_args", "eval_args", "valid_metric", "seed",
    }  # fmt: skip
    assert cfg["eval_args"] == {
        "split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"
    }  # fmt: skip
    # RecBole 1.2.1 raises on CE loss with negative sampling; its own seed is 2020.
    assert cfg["train_neg_sample_args"] is None and cfg["seed"] == 2020
    assert cfg["valid_metric"] == "NDCG@10"
    assert (
        script.build_config_dict("default", data_path="d", checkpoint_dir="c", seed=1)["seed"] == 1
    )
    for option in ("max_len", "epochs", "stopping_step", "batch_size"):
        with pytest.raises(ValueError, match="default configuration takes no"):
            script.build_config_dict("default", data_path="d", checkpoint_dir="c", **{option: 5})


def test_the_matched_config_is_unchanged():
    script = _recbole_script()
    cfg = script.build_config_dict("matched", data_path="d", checkpoint_dir="c", epochs=7)
    assert cfg["epochs"] == 7 and cfg["stopping_step"] == 3 and cfg["inner_size"] == 64
    assert cfg["hidden_dropout_prob"] == 0.2 and cfg["MAX_ITEM_LIST_LENGTH"] == 50
    assert cfg["seed"] == 0 and cfg["loss_type"] == "CE"
    with pytest.raises(ValueError, match="config must be one of"):
        script.build_config_dict("tuned", data_path="d", checkpoint_dir="c")


def test_the_default_mode_is_what_the_driver_asks_the_script_to_run(tmp_path):
    from adrec.bench.recbole_reference import recbole_command

    cmd = recbole_command(tmp_path / "data", tmp_path / "r.json", config="default", python=["py"])
    args = dict(zip(cmd[2::2], cmd[3::2], strict=True))
    assert args["--config"] == "default" and "--seed" not in args
    assert not {"--max-len", "--epochs"} & set(args)
    with pytest.raises(ValueError, match="no max_len or epochs"):
        recbole_command(tmp_path, tmp_path / "r.json", config="default", epochs=3)
    matched = recbole_command(tmp_path, tmp_path / "r.json", max_len=20, epochs=3, seed=0)
    assert matched[matched.index("--epochs") + 1] == "3" and "--seed" in matched


def test_the_config_mode_reaches_the_script(tmp_path):
    fake = [sys.executable, "-c", FAKE_RECBOLE.replace('"ndcg@10": 0.05', '"argv": sys.argv'), "--"]
    result = run_recbole_sasrec(tied_ratings(), tmp_path, config="default", seed=None, python=fake)
    assert result["status"] == "ok"
    assert "--config" in result["argv"] and "default" in result["argv"]
    assert "--epochs" not in result["argv"] and "--seed" not in result["argv"]
    assert "--config default" in result["command"]
