"""The core of `adrec bench recommend` on a tiny synthetic ratings log: blends, the choices
made on validation, no future leak into a user's features, and the report. The split and the
metrics have their own tests (test_splits.py, test_ranking_metrics.py)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from adrec.bench import recommend as bench
from adrec.bench.recommend_blends import mixed, simplex_grid
from adrec.bench.recommend_detector import detector_candidates, fit_behaviour_detector
from adrec.bench.recommend_report import write_report
from adrec.bench.recommend_sources import fit_long_term, source_probs, user_features
from adrec.data.splits import leave_last_out
from adrec.recommender.behaviour_features import BehaviourWindow, genre_shares
from adrec.recommender.sources import ItemTransitions

N_ITEMS, N_GENRES = 20, 4
CFG = bench.BenchConfig(
    max_len=10, dim=8, n_layers=1, epochs=1, seeds=(0,), window=4, min_profile=4,
    detector="lstm_ae", features="auto", sequence_input="auto", n_negatives=5,
    n_bootstrap=50, grid_step=0.5, gate_epochs=20, targets_per_user=1,
)  # fmt: skip


def _ratings(seed: int = 0, n_users: int = 16, per_user: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_users + 1):
        t = int(rng.integers(0, 10 * 86_400))
        for _ in range(per_user):
            t += int(rng.choice([60, 3600, 5 * 86_400]))
            rows.append((u, int(rng.integers(1, N_ITEMS + 1)), 4.0, t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def _flags() -> np.ndarray:
    flags = np.zeros((N_ITEMS + 1, N_GENRES))
    for i in range(1, N_ITEMS + 1):
        flags[i, i % N_GENRES] = 1
        flags[i, (i // 5) % N_GENRES] = 1
    return flags


def test_simplex_grid_and_blend_shapes():
    grid = simplex_grid(3, 0.5)
    assert len(grid) == 6 and np.allclose(grid.sum(1), 1)
    probs = np.random.default_rng(0).random((3, 4, 6))
    np.testing.assert_allclose(mixed(probs, grid[0]), np.tensordot(grid[0], probs, 1))
    per_user = np.tile(grid[1], (4, 1))
    np.testing.assert_allclose(mixed(probs, per_user), mixed(probs, grid[1]))


def test_defaults_choose_detector_features_and_input_on_validation():
    cfg = bench.BenchConfig()
    assert (cfg.detector, cfg.features, cfg.sequence_input) == ("auto", "auto", "auto")
    candidates = detector_candidates(cfg.detector, cfg.features, cfg.sequence_input)
    assert {c[1] for c in candidates} == {True, False}  # both feature blocks
    assert ("lstm_ae", False, True) in candidates and ("lstm_ae", False, False) in candidates
    with pytest.raises(ValueError, match="features"):
        detector_candidates("auto", "genres", "auto")
    with pytest.raises(ValueError, match="trainer"):
        bench.long_term_trainer(dataclasses.replace(cfg, trainer="spark"))


def test_a_users_test_item_never_reaches_their_features():
    ratings, flags = _ratings(), _flags()
    changed = ratings.copy()
    last = changed[changed.user_id == 3].index[-1]
    changed.loc[last, "item_id"] = changed.loc[last, "item_id"] % N_ITEMS + 1
    shares = genre_shares(flags)
    window = BehaviourWindow(CFG.window, CFG.min_profile)
    model = fit_long_term(leave_last_out(ratings).train, N_ITEMS, CFG, 0)
    out = []
    for r in (ratings, changed):
        split = leave_last_out(r)
        det, _ = fit_behaviour_detector(split, shares, window, "lstm_ae", 0)
        calibrated = det.calibrated_at(split.test, shares)
        feats = user_features(split.test, calibrated, flags, window)
        counts = np.bincount(np.concatenate(split.train), minlength=N_ITEMS + 1).astype(float)
        transitions = ItemTransitions().fit(split.train, N_ITEMS)
        probs = source_probs(
            split.test, model, "transitions", transitions, r, shares, counts, CFG, 7.0
        )
        out.append((split.test.targets, calibrated, feats, probs))
    (t0, c0, f0, p0), (t1, c1, f1, p1) = out
    u = 2  # user 3
    assert t0[u] != t1[u]
    assert c0[u] == c1[u]
    np.testing.assert_array_equal(f0[u], f1[u])
    np.testing.assert_array_equal(p0[:, u], p1[:, u])


@pytest.mark.parametrize(
    ("split", "targets"), [("leave_last_out", 1), ("leave_last_out", 3), ("global_time", 2)]
)
def test_bench_writes_a_report(tmp_path, split, targets):
    logs = []
    cfg = dataclasses.replace(CFG, split=split, targets_per_user=targets)
    ratings = _ratings(per_user=14 + 2 * targets)  # the training part keeps its length
    report = bench.run_bench(ratings, _flags(), cfg, log=logs.append)
    json_path, md_path = write_report(report, tmp_path)
    loaded = json.loads(json_path.read_text())
    res = loaded["seeds"]["0"]
    res_targets = range(loaded["data"]["n_test_targets"])
    assert loaded["data"]["n_test_targets"] <= targets * loaded["data"]["n_test_users"]
    variants = {r["variant"] for r in res["table"]}
    assert variants == {
        "long_term only", "short_term only", "best fixed blend", "anomaly-aware rule",
        "learned gate", "learned gate, no anomaly score",
    }  # fmt: skip
    for row in res["table"]:
        assert 0 <= row["full_ndcg@10"] <= row["sampled100_ndcg@10"] + 1e-9 or row["n"] == 0
    assert {c["users"] for c in res["ci_ndcg@10"]} == {"all", "shifting", "rest"}
    assert sum(m["n"] for m in res["ndcg@10_by_month"]) == loaded["data"]["n_test_targets"]
    assert loaded["split"] == split
    assert res["detector"]["chosen"]["name"] == "lstm_ae"
    # features="auto", sequence_input="auto": four candidates tried, the choice recorded
    assert len(res["detector"]["trials"]) == 4 and loaded["trainer"] == "local"
    assert res["detector"]["chosen"]["input"] in {"steps", "summary"}
    assert set(res["rule"]["calm"]) == set(bench.SOURCE_NAMES)
    assert "| anomaly-aware rule | shifting |" in md_path.read_text()
    assert {c["users"] for c in loaded["pooled_ci_ndcg@10"]} <= {"all", "shifting", "rest"}
    for c in loaded["pooled_ci_ndcg@10"]:  # distinct users: at most the target-seeds, and all
        assert 0 < c["n_users"] <= c["n_target_seeds"]  # users count once however many seeds
        assert c["users"] != "all" or c["n_users"] == loaded["data"]["n_test_users"]
    for c in res["ci_ndcg@10"]:  # per seed too, the interval counts users, not targets
        assert c["n_users"] <= c["n"] and (c["users"] != "all" or c["n"] == len(res_targets))
    assert "_per_user" not in res and loaded["wall_seconds"] > 0 and logs


def test_the_long_term_source_can_be_gru4rec_under_sampled_softmax():
    from adrec.recommender.gru4rec import GRU4Rec

    cfg = dataclasses.replace(CFG, sequence_model="gru4rec", loss="sampled", sampled_negatives=5)
    split = leave_last_out(_ratings())
    model = fit_long_term(split.train, N_ITEMS, cfg, seed=0)
    assert isinstance(model, GRU4Rec) and not model.training
    probs = bench.next_item_probs(model, split.test.histories)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    for bad, match in (({"sequence_model": "caser"}, "model must be one of"),
                       ({"loss": "bpr"}, "loss must be one of"),
                       ({"targets_per_user": 0}, "targets_per_user")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            dataclasses.replace(CFG, **bad)


def test_too_many_targets_per_user_for_a_behaviour_window_is_a_clear_error():
    cfg = dataclasses.replace(CFG, targets_per_user=3)  # 14 ratings: 8 left to train on
    with pytest.raises(ValueError, match="fewer targets per user"):
        bench.run_bench(_ratings(), _flags(), cfg, log=lambda m: None)


def test_recbole_is_compared_with_our_sasrec_on_its_own_one_target_split():
    from adrec.bench.recommend_report import markdown

    cfg = dataclasses.replace(CFG, targets_per_user=2, seeds=(3,))
    ratings = _ratings(per_user=18)
    ref = bench.sasrec_on_classic_split(ratings, N_ITEMS, cfg, log=lambda m: None)
    assert ref["seed"] == 3 and ref["n_test_targets"] == 16  # one per user, not two
    assert 0 <= ref["full_ndcg@10_seen_kept"] <= ref["full_hr@10_seen_kept"] <= 1
    report = bench.run_bench(ratings, _flags(), cfg, log=lambda m: None)
    report["sasrec_reference"] = ref
    report["recbole"] = {"status": "ok", "ndcg@10": 0.05, "hit@10": 0.1, "train_seconds": 9,
                         "epochs": 1}  # fmt: skip
    md = markdown(report)
    assert (
        f"adrec SASRec (seed 3, one test target per user) | {ref['full_ndcg@10_seen_kept']:.4f}"
        in md
    )
    ratio = ref["full_ndcg@10_seen_kept"] / 0.05
    assert f"adrec / RecBole NDCG@10: {ratio:.3f}" in md


def test_command_reads_a_movielens_folder_and_writes_both_reports(tmp_path, monkeypatch):
    from adrec.bench.recommend_command import recommend

    data = tmp_path / "ml"
    data.mkdir()
    r = _ratings()
    data.joinpath("u.data").write_text(r.astype(int).to_csv(sep="\t", header=False, index=False))
    data.joinpath("u.genre").write_text("".join(f"G{g}|{g}\n" for g in range(N_GENRES)))
    data.joinpath("u.item").write_text(
        "".join(
            f"{i}|item {i}|d||u|" + "|".join(str(int(f)) for f in row) + "\n"
            for i, row in enumerate(_flags()[1:], start=1)
        )
    )
    seen = {}
    real = bench.run_bench

    def small_bench(ratings, flags, cfg, log):  # the command's choices on a tiny model
        seen["cfg"] = cfg
        names = ("detector", "features", "sequence_input", "trainer", "targets_per_user")
        keep = {f: getattr(cfg, f) for f in names}
        return real(ratings, flags, dataclasses.replace(CFG, **keep), log)

    monkeypatch.setattr(bench, "run_bench", small_bench)
    out = tmp_path / "out"
    recommend(
        data=data, out_dir=out, seeds="0", split="leave_last_out", targets_per_user=2,
        epochs=1, detector="pca",
        features="activity", sequence_input="summary", trainer="local", use_gpu=False,
        recbole=False, recbole_epochs=1, threads=1, quick=True,
    )  # fmt: skip
    cfg = seen["cfg"]
    assert (cfg.detector, cfg.features, cfg.epochs) == ("pca", "activity", 2)
    report = json.loads((out / "recommend.json").read_text())
    assert report["data"]["loader"] == "ml-100k" and report["data"]["n_ratings"] == len(r)
    assert report["data"]["malformed_lines"] == {"u.data": 0, "u.item": 0}
    assert report["seeds"]["0"]["detector"]["chosen"]["name"] == "pca"
    assert report["data"]["n_test_targets"] == 2 * report["data"]["n_test_users"]
    assert (out / "recommend.md").read_text().startswith("# adrec bench recommend")
