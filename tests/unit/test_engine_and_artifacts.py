"""A tiny run directory built by hand, loaded back as a scorer and a recommender."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from adrec.artifacts import (
    RunDir,
    load_recommender,
    load_sasrec,
    load_scorer,
    load_table,
    save_sasrec,
    save_table,
)
from adrec.data.behavior import build_windows, live_window
from adrec.detectors.lstm_ae import LSTMAEDetector
from adrec.detectors.registry import load_detector
from adrec.errors import BadEventsError, UnknownUserError
from adrec.recommender.blend import BlendRule
from adrec.recommender.sasrec import SASRec
from adrec.recommender.sequences import item_histories

SASREC_CONFIG = {
    "n_items": 60,
    "max_len": 10,
    "dim": 16,
    "n_layers": 1,
    "n_heads": 2,
    "dropout": 0.0,
}
PARTS = (
    "detector",
    "recommender",
    "window_spec.json",
    "profiles.parquet",
    "histories.parquet",
    "catalog.parquet",
)


def _build_run(root, events, catalog, spec, split, drop_items=()):
    """Write a complete run directory; `drop_items` are left out of catalog.parquet."""
    root.mkdir(parents=True, exist_ok=True)
    windows = build_windows(events, spec, split)
    fit = windows["window"][windows["split"] == "fit"]
    calib = windows["window"][windows["split"] == "calib"]
    torch.manual_seed(0)
    det = LSTMAEDetector(hidden=8, latent=4, epochs=2, batch_size=64).fit(fit, calib)
    det.save(root / "detector")
    profiles = {}
    for uid, prof in zip(windows["user_id"], windows["profile"], strict=True):
        profiles.setdefault(int(uid), prof)
    save_table(root / "profiles.parquet", profiles, "profile")
    day = spec.day_index(events["timestamp"])
    before = events[day < split.calib_end]
    histories = item_histories(before)
    save_table(root / "histories.parquet", histories, "items")
    cat = catalog.frame()
    counts = before["item_id"].value_counts()
    cat["count"] = cat["item_id"].map(counts).fillna(0).astype(np.int64)
    cat = cat[~cat["item_id"].isin(drop_items)]
    cat[["item_id", "category", "count"]].to_parquet(root / "catalog.parquet", index=False)
    torch.manual_seed(0)
    save_sasrec(SASRec(**SASREC_CONFIG), SASREC_CONFIG, root / "recommender")
    (root / "window_spec.json").write_text(json.dumps(spec.to_dict()))
    return det, profiles, histories, cat


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_sim, tiny_spec, tiny_split):
    events, _, catalog = tiny_sim
    root = tmp_path_factory.mktemp("run")
    det, profiles, histories, cat = _build_run(root, events, catalog, tiny_spec, tiny_split)
    return {
        "root": root,
        "detector": det,
        "profiles": profiles,
        "histories": histories,
        "catalog": cat,
        "events": events,
        "spec": tiny_spec,
    }


@pytest.fixture(scope="module")
def scorer(run):
    return load_scorer(run["root"])


@pytest.fixture(scope="module")
def recommender(run):
    return load_recommender(run["root"])


def _recent(run, uid: int, days: int = 7) -> pd.DataFrame:
    """The user's events of the last `days` days of the log."""
    ev = run["events"]
    mine = ev[ev["user_id"] == uid]
    d = run["spec"].day_index(mine["timestamp"])
    return mine[d > d.max() - days].reset_index(drop=True)


def _user(run) -> int:
    return sorted(run["profiles"])[0]


# ------------------------------------------------------------------------ run directory


def test_run_dir_check_names_every_missing_part(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        RunDir(tmp_path).check()
    for part in PARTS:
        assert part in str(err.value)


def test_run_dir_check_names_only_missing_parts(tmp_path, run):
    partial = tmp_path / "partial"
    shutil.copytree(run["root"], partial)
    shutil.rmtree(partial / "recommender")
    (partial / "histories.parquet").unlink()
    with pytest.raises(FileNotFoundError) as err:
        RunDir(partial).check()
    msg = str(err.value)
    assert "recommender" in msg and "histories.parquet" in msg
    assert "catalog.parquet" not in msg and "window_spec.json" not in msg
    with pytest.raises(FileNotFoundError, match="recommender"):
        load_recommender(partial)
    with pytest.raises(FileNotFoundError, match="histories"):
        load_scorer(partial)


def test_complete_run_dir_passes_check(run):
    rd = RunDir(run["root"])
    assert rd.check() is rd
    assert rd.metrics.name == "metrics.json"  # optional: not checked


def test_tables_round_trip(tmp_path):
    mapping = {3: np.array([1.5, 2.0]), 7: np.array([], dtype=np.float64)}
    save_table(tmp_path / "t.parquet", mapping, "profile")
    back = load_table(tmp_path / "t.parquet", "profile", np.float64)
    assert set(back) == {3, 7} and all(isinstance(k, int) for k in back)
    np.testing.assert_array_equal(back[3], mapping[3])
    assert len(back[7]) == 0


def test_sasrec_round_trip(run):
    model = load_sasrec(run["root"] / "recommender")
    assert not model.training and model.n_items == 60 and model.max_len == 10
    torch.manual_seed(0)
    fresh = SASRec(**SASREC_CONFIG).eval()
    seq = torch.tensor([[0, 0, 0, 0, 0, 1, 2, 3, 4, 5]])
    with torch.no_grad():
        torch.testing.assert_close(model.full_sort_predict(seq), fresh.full_sort_predict(seq))


# ------------------------------------------------------------------------------ scorer


def test_scorer_loads_profiles_and_detector(run, scorer):
    assert set(scorer.profiles) == set(run["profiles"])
    uid = _user(run)
    np.testing.assert_array_equal(scorer.profiles[uid], run["profiles"][uid])
    assert scorer.knows(uid) and not scorer.knows(10**6)
    assert scorer.detector.threshold_ == run["detector"].threshold_
    assert scorer.spec == run["spec"]


def test_score_is_consistent(run, scorer):
    uid = _user(run)
    events = _recent(run, uid)
    out = scorer.score(uid, events)
    assert set(out) >= {"score", "calibrated", "threshold", "is_anomalous"}
    assert out["threshold"] == pytest.approx(run["detector"].threshold_)
    assert 0.0 <= out["calibrated"] <= 1.0
    assert out["calibrated"] == pytest.approx(
        float(scorer.detector.calibrator_.transform(out["score"]))
    )
    assert out["is_anomalous"] == (out["score"] >= out["threshold"])
    assert out["is_anomalous"] == (out["calibrated"] >= 0.5)
    assert out["unknown_category_events"] == 0
    # The served score is the detector's score of the live window.
    window = live_window(events, run["profiles"][uid], run["spec"])
    expected = run["detector"].decision_function(window[None])[0]
    assert out["score"] == pytest.approx(float(expected), rel=1e-5)


def test_score_ignores_and_counts_unknown_categories(run, scorer):
    uid = _user(run)
    events = _recent(run, uid)
    extra = events.iloc[:2].copy()
    extra["category"] = "spaceships"
    out = scorer.score(uid, pd.concat([events, extra], ignore_index=True))
    assert out["unknown_category_events"] == 2
    assert out["score"] == pytest.approx(scorer.score(uid, events)["score"])


def test_a_shifted_user_scores_higher(run, scorer):
    uid = _user(run)
    events = _recent(run, uid)
    calm = scorer.score(uid, events)
    prof = run["profiles"][uid][: len(run["spec"].categories)]
    rare = run["spec"].categories[int(np.argmin(prof))]
    # Three times the activity, all in the user's rarest category, at 3 a.m.
    shifted = pd.concat([events] * 3, ignore_index=True)
    shifted["category"] = rare
    shifted["timestamp"] = shifted["timestamp"].dt.normalize() + pd.Timedelta(hours=3)
    assert scorer.score(uid, shifted)["score"] > calm["score"]


def test_unknown_user_is_an_error_naming_the_user(scorer, run):
    with pytest.raises(UnknownUserError, match="987654") as err:
        scorer.score(987654, _recent(run, _user(run)))
    assert err.value.user_id == 987654
    assert isinstance(err.value, LookupError)


def test_no_known_category_is_a_bad_events_error(run, scorer):
    uid = _user(run)
    events = _recent(run, uid)
    events["category"] = "spaceships"
    with pytest.raises(BadEventsError, match="known categor"):
        scorer.score(uid, events)


# ------------------------------------------------------------------------- recommender


@pytest.mark.parametrize("calibrated", [0.0, 0.3, 1.0])
def test_weights_follow_the_rule(run, recommender, calibrated):
    uid = _user(run)
    out = recommender.recommend(uid, _recent(run, uid), calibrated, k=5)
    assert out["weights"] == pytest.approx(BlendRule().weights(calibrated))
    assert len(out["items"]) == 5


def test_recommendations_are_new_catalogue_items(run, recommender):
    uid = _user(run)
    recent = _recent(run, uid)
    out = recommender.recommend(uid, recent, 0.5, k=20)
    ids = [r["item_id"] for r in out["items"]]
    assert len(ids) == len(set(ids)) == 20
    seen = set(run["histories"][uid].tolist()) | set(recent["item_id"].tolist())
    assert not set(ids) & seen
    cat = run["catalog"].set_index("item_id")["category"]
    for r in out["items"]:
        assert r["category"] == cat[r["item_id"]]
        assert r["source"] in {"long_term", "short_term", "emerging"}
    scores = [r["score"] for r in out["items"]]
    assert scores == sorted(scores, reverse=True)


def test_k_larger_than_the_unseen_items(run, recommender):
    uid = _user(run)
    recent = _recent(run, uid)
    out = recommender.recommend(uid, recent, 0.5, k=1000)
    seen = set(run["histories"][uid].tolist()) | set(recent["item_id"].tolist())
    assert {r["item_id"] for r in out["items"]} == set(range(1, 61)) - seen


def test_unknown_items_are_counted_and_ignored(run, recommender):
    uid = _user(run)
    recent = _recent(run, uid)
    extra = recent.iloc[:3].copy()
    extra["item_id"] = [0, 61, 10_000]
    out = recommender.recommend(uid, pd.concat([recent, extra], ignore_index=True), 0.2, k=5)
    assert out["unknown_item_events"] == 3
    assert recommender.recommend(uid, recent, 0.2, k=5)["unknown_item_events"] == 0


def test_unknown_user_in_recommender(run, recommender):
    with pytest.raises(UnknownUserError, match="424242"):
        recommender.recommend(424242, _recent(run, _user(run)), 0.0, k=3)


def test_anomalous_users_get_more_items_of_emerging_categories(run, recommender):
    uid = _user(run)
    recent = _recent(run, uid)
    prof = run["profiles"][uid][: len(run["spec"].categories)]
    new_cat = run["spec"].categories[int(np.argmin(prof))]
    recent = recent.copy()
    recent["category"] = new_cat  # the user's recent events are all in a new category
    calm = recommender.recommend(uid, recent, 0.0, k=10)
    shifted = recommender.recommend(uid, recent, 1.0, k=10)
    assert new_cat in shifted["emerging_categories"]
    assert shifted["emerging_categories"] == calm["emerging_categories"]

    def n_emerging(out):
        return sum(r["source"] == "emerging" for r in out["items"])

    assert n_emerging(calm) == 0  # weight 0 for the emerging source
    assert n_emerging(shifted) > n_emerging(calm)
    assert n_emerging(shifted) >= 3
    for r in shifted["items"]:
        if r["source"] == "emerging":
            assert r["category"] == new_cat


def test_exclude_seen_can_be_turned_off(run):
    rec = load_recommender(run["root"], exclude_seen=False)
    uid = _user(run)
    out = rec.recommend(uid, _recent(run, uid), 0.0, k=60)
    assert len(out["items"]) == 60


def test_items_missing_from_the_catalogue_are_never_recommended(
    tmp_path, tiny_sim, tiny_spec, tiny_split
):
    """catalog.parquet lists the items seen in the training logs; an item id without a
    catalogue row has no category and must not be recommended (nor labelled with one)."""
    events, _, catalog = tiny_sim
    dropped = (20, 21, 22)
    _, profiles, _, cat = _build_run(
        tmp_path / "gap", events, catalog, tiny_spec, tiny_split, drop_items=dropped
    )
    rec = load_recommender(tmp_path / "gap")
    uid = sorted(profiles)[0]
    ev = events[events["user_id"] == uid]
    out = rec.recommend(uid, ev.iloc[-5:], 0.5, k=60)
    ids = {r["item_id"] for r in out["items"]}
    assert not ids & set(dropped)
    cat_of = cat.set_index("item_id")["category"]
    for r in out["items"]:
        assert r["item_id"] in cat_of.index
        assert r["category"] == cat_of[r["item_id"]]


def test_loaded_detector_is_the_saved_one(run):
    det = load_detector(run["root"] / "detector")
    x = np.zeros((3, run["spec"].window_days, run["spec"].n_features), np.float32)
    np.testing.assert_array_equal(det.decision_function(x), run["detector"].decision_function(x))
