"""Batch scoring in shards of whole users (adrec.distributed.batch_score) equals score_log on
the whole log: the sharding, the shard's Interactions and the mapping of another log onto a
run's ids, without Ray (the actor's code called in process)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adrec.data.interactions import build_interactions, load_interactions
from adrec.detectors.behaviour.scoring import score_log
from adrec.distributed.batch_score import (
    ShardScorer,
    onto_run_ids,
    run_signals,
    run_stride,
    user_shards,
)


def _sharded(inter, root, n_shards: int) -> pd.DataFrame:
    scorer = ShardScorer(str(root), run_stride(root))
    parts = [scorer(frame) for frame in user_shards(inter, n_shards)]
    out = pd.concat(parts, ignore_index=True).sort_values("user_id", kind="stable")
    out["user_id"] = inter.users.raw_ids(out["user_id"].to_numpy(np.int64))
    return out.reset_index(drop=True)


@pytest.mark.parametrize("n_shards", [1, 3, 7, 1000])
def test_sharded_scores_equal_the_whole_log_scores(fitted, n_shards):
    inter, engine, _, root = fitted
    whole = score_log(inter, engine.detector, stride=5)
    assert run_stride(root) == 5  # the run's interaction window, as adrec train scores
    pd.testing.assert_frame_equal(_sharded(inter, root, n_shards), whole)


def test_shards_hold_whole_users_about_equal_in_rows(fitted):
    inter = fitted[0]
    frames = user_shards(inter, 4)
    assert sum(len(f) for f in frames) == inter.n_events
    users = [set(f["user"]) for f in frames]
    assert all(not (a & b) for i, a in enumerate(users) for b in users[i + 1 :])
    assert all((f["shard_rows"] == len(f)).all() for f in frames)
    assert max(len(f) for f in frames) < 2 * inter.n_events / 4


def test_a_shard_that_arrives_cut_fails_instead_of_scoring_partial_histories(fitted):
    inter, _, _, root = fitted
    scorer = ShardScorer(str(root), 5)
    frame = user_shards(inter, 2)[0]
    with pytest.raises(RuntimeError, match="incomplete"):
        scorer(frame.iloc[: len(frame) // 2])


def test_another_log_is_mapped_onto_the_runs_ids_unknown_items_and_actions_left_out(fitted):
    inter, engine, _, root = fitted
    run_log = load_interactions(root / "log")
    frame = pd.DataFrame(
        {
            "user_id": ["new-a"] * 3 + ["new-b"] * 2,
            "item_id": [
                run_log.items.raw[0],
                "no-such-item",
                run_log.items.raw[1],
                run_log.items.raw[2],
                run_log.items.raw[0],
            ],  # fmt: skip
            "timestamp": [10, 20, 30, 40, 50],
            "action": [
                run_log.action_names[0],
                run_log.action_names[-1],
                "teleport",
                run_log.action_names[0],
                run_log.action_names[-1],
            ],  # fmt: skip
            "value": [1.0, 2.0, 3.0, 4.0, 5.0],
            "order": np.arange(5),
        }
    )
    other = build_interactions(frame)
    mapped, dropped = onto_run_ids(other, run_log, run_signals(run_log, root))
    assert dropped == {"unknown_item": 1, "unknown_action": 1}
    assert mapped.n_events == 3 and mapped.items is run_log.items
    assert run_log.items.raw_ids(mapped.item) == [run_log.items.raw_ids([i])[0] for i in (1, 3, 1)]
    names = [mapped.action_names[a] for a in mapped.action]
    assert names == [run_log.action_names[0], run_log.action_names[0], run_log.action_names[-1]]


def test_the_runs_own_log_mapped_onto_its_ids_is_unchanged(fitted):
    inter, engine, _, root = fitted
    run_log = load_interactions(root / "log")
    mapped, dropped = onto_run_ids(inter, run_log, run_signals(run_log, root))
    assert dropped == {"unknown_item": 0, "unknown_action": 0}
    np.testing.assert_array_equal(mapped.item, inter.item)
    np.testing.assert_array_equal(mapped.action, inter.action)


def test_behaviour_rows_are_the_windows_the_runs_detector_was_fitted_on(fitted, tmp_path):
    from adrec.distributed.behaviour_rows import normal_rows, save_normal_rows

    _, engine, report, root = fitted
    window = next(w for w in report["windows"] if w["used"])
    rows, info = normal_rows(root)
    assert len(rows) == window["fit_windows"] + window["calib_windows"]
    assert rows.ndim == 2 and np.isfinite(rows).all()
    steps, _ = normal_rows(root, steps=True)
    assert steps.shape[0] == len(rows) and steps.ndim == 3
    summary = save_normal_rows(root, tmp_path / "rows.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "rows.npy"), rows)
    assert summary["shape"] == list(rows.shape) and info["form"] == "summary"
