"""The product's fit step on a tiny simulated log, and the engine it saves: what is served
equals what the offline evaluation scores, raw ids in and out, new users answered from their
events, sparse logs degrade with a report instead of a crash."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _adrec_helpers import interactions_from_events, tiny_fit_config

from adrec.data.interactions import build_interactions
from adrec.data.splits import split_log
from adrec.errors import BadEventsError
from adrec.recommender.engine import AnomalyAwareRecommender, RequestEvents
from adrec.recommender.fit import fit_recommender
from adrec.recommender.history import histories_at
from adrec.recommender.run import load_report, save_run


def _events_of(engine, h) -> RequestEvents:
    actions = [engine.log.action_names[a] for a in h.actions]
    return RequestEvents(engine.log.items.raw_ids(h.items), h.times, actions, h.values)


def test_fit_reports_every_choice_made_on_validation(fitted):
    _, engine, report, _ = fitted
    assert report["detector"]["chosen"]["name"] == "iforest"
    assert report["sources"]["names"] == list(engine.sources.names)
    assert set(report["validation_ndcg@10"]) >= {"best fixed blend", "anomaly-aware rule",
                                                 "recency rule"}  # fmt: skip
    assert report["split"]["test_targets"] > 0 and report["dropped"] == []
    assert engine.detector is not None and engine.blends.served == "rule"


def test_a_saved_run_loads_and_answers_exactly_as_before(fitted):
    inter, engine, _, root = fitted
    loaded = AnomalyAwareRecommender.load(root)
    points = split_log(inter, "leave_last_out", 5).test
    hist = histories_at(inter, points.subset(np.arange(12)))
    a, b = engine.recommend(hist, 5), loaded.recommend(hist, 5)
    assert a == b
    assert load_report(root)["seed"] == 0


def test_a_new_user_with_a_known_users_history_is_answered_like_that_history(fitted):
    inter, engine, _, _ = fitted
    points = split_log(inter, "leave_last_out", 5).test
    h = histories_at(inter, points.subset(np.arange(1)))[0]
    served, ignored, known = engine.history_for("never-seen", _events_of(engine, h), at=h.now)
    assert not known and ignored == {
        "unknown_item": 0,
        "already_known": 0,
        "before_history": 0,
        "after_prediction_time": 0,
    }
    np.testing.assert_array_equal(served.items, h.items)
    offline, online = engine.recommend([h], 10)[0], engine.recommend([served], 10)[0]
    assert [i["item_id"] for i in online["items"]] == [i["item_id"] for i in offline["items"]]
    np.testing.assert_allclose([i["score"] for i in online["items"]],
                               [i["score"] for i in offline["items"]], rtol=1e-6)  # fmt: skip


def test_known_users_events_are_merged_and_every_skipped_event_counted(fitted):
    _, engine, _, _ = fitted
    user = engine.log.users.raw_ids([0])[0]
    stored = engine.stored_history(0)
    last = int(stored.times[-1])
    raw_items = engine.log.items.raw_ids(stored.items[-2:])
    ev = RequestEvents(
        items=[raw_items[-1], raw_items[0], "no-such-item", raw_items[0], raw_items[0]],
        times=np.array([last, last - 10**6, last + 60, last + 120, last + 10**6]),
        actions=[None] * 5,
        values=np.full(5, np.nan),
    )
    h, ignored, known = engine.history_for(user, ev, at=last + 600)
    assert known
    assert ignored == {"unknown_item": 1, "already_known": 1, "before_history": 1,
                       "after_prediction_time": 1}  # fmt: skip
    assert len(h) == len(stored) + 1 and h.times[-1] == last + 120 and h.now == last + 600


def test_an_unknown_action_is_a_request_error_naming_the_event(fitted):
    _, engine, _, _ = fitted
    ev = RequestEvents([engine.log.items.raw_ids([1])[0]], np.array([10**9]), ["teleport"],
                       np.array([1.0]))  # fmt: skip
    with pytest.raises(BadEventsError, match=r"events\[0\].action"):
        engine.history_for("someone", ev)


def test_a_blend_naming_a_missing_source_fails_at_load(fitted, tmp_path):
    _, engine, report, _ = fitted
    root = save_run(engine, report, tmp_path / "run")
    meta = json.loads((root / "blend" / "blend.json").read_text())
    meta["sources"].append("social")
    meta["fixed"]["social"] = 0.0
    (root / "blend" / "blend.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="social"):
        AnomalyAwareRecommender.load(root)


def test_a_log_without_categories_drops_the_emerging_source_and_says_so(tiny_sim):
    events, _, _ = tiny_sim
    inter = interactions_from_events(events, with_categories=False)
    engine, report = fit_recommender(inter, tiny_fit_config(), seed=0, log=lambda m: None)
    assert "emerging" not in engine.sources.names
    assert any("emerging" in d for d in report["dropped"])


def test_short_histories_complete_with_the_detector_dropped_and_counted():
    rng = np.random.default_rng(0)
    rows = [(u, int(rng.integers(1, 40)), 86_400 * d)
            for u in range(60) for d in range(int(rng.integers(5, 9)))]  # fmt: skip
    inter = build_interactions(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))
    engine, report = fit_recommender(inter, tiny_fit_config(window=10, min_profile=10), seed=0,
                                     log=lambda m: None)  # fmt: skip
    assert engine.detector is None
    assert any("detector" in d for d in report["dropped"])
    assert report["validation_ndcg@10"]["valid points with a window"] == 0
    h, _, _ = engine.history_for(0, RequestEvents.empty())
    out = engine.recommend([h], 3)[0]
    assert len(out["items"]) == 3


def test_a_log_too_small_to_split_fails_before_training():
    frame = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2], "timestamp": [0, 1]})
    with pytest.raises(ValueError, match="too small"):
        fit_recommender(build_interactions(frame), tiny_fit_config(), log=lambda m: None)
