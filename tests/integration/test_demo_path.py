"""The product end to end: real Ray Data ingest, Ray Train, Ray Serve and HTTP."""

import json

import numpy as np
import pytest
import requests

from adrec.data.splits import split_log
from adrec.recommender.engine import AnomalyAwareRecommender
from adrec.recommender.history import histories_at


def test_demo_answers_a_stable_a_shifting_and_a_new_user(demo_run):
    report, _, _ = demo_run
    stable, shifted, new = report["answers"].values()
    assert shifted["anomaly"]["calibrated"] > stable["anomaly"]["calibrated"]
    assert not stable["anomaly"]["is_anomalous"]
    assert stable["known_user"] and shifted["known_user"] and not new["known_user"]
    assert shifted["weights"] != stable["weights"]  # the rule moved the blend
    assert len(stable["items"]) == len(shifted["items"]) == len(new["items"]) == 5


def test_detection_metrics_on_planted_events(demo_run):
    report, run_dir, _ = demo_run
    fit = json.loads((run_dir / "fit_report.json").read_text())
    detection = fit["detection"]
    assert detection == report["detection"]
    assert detection["n_anomalous"] > 0 and detection["auroc"] >= 0.8


def test_run_directory_holds_every_artifact(demo_run):
    _, run_dir, _ = demo_run
    for part in ("engine.json", "fit_report.json", "log/interactions.parquet",
                 "log/users.parquet", "log/items.parquet", "sources/model.pt",
                 "sources/sources.json", "blend/blend.json", "detector/behaviour.json",
                 "scores.parquet", "demo.json"):  # fmt: skip
        assert (run_dir / part).exists(), part
    fit = json.loads((run_dir / "fit_report.json").read_text())
    assert fit["data"]["rows_in"] == fit["data"]["rows_used"] + sum(
        fit["data"]["rejected"].values()
    )
    # The log went through the Ray Data log pipeline, whose windows were the ones scored.
    assert fit["data"]["pipeline"]["out"] == str(run_dir / "prep")
    assert (run_dir / "prep" / "windows").is_dir() and (run_dir / "prep" / "report.json").exists()
    assert fit["scored_from"] == "pipeline windows"


def test_served_answer_equals_the_offline_evaluation_of_a_test_point(demo_run):
    _, run_dir, base = demo_run
    engine = AnomalyAwareRecommender.load(run_dir)
    points = split_log(engine.log, "leave_last_out", 5).test
    for p in (0, len(points) - 1):
        h = histories_at(engine.log, points.subset(np.array([p])))[0]
        events = [
            {"item_id": raw, "timestamp": f"{np.datetime64(int(t), 's')}",
             "action": engine.log.action_names[a], "value": float(v)}
            for raw, t, a, v in zip(engine.log.items.raw_ids(h.items), h.times, h.actions,
                                    h.values, strict=True)
        ]  # fmt: skip
        body = {"user_id": f"replay-{p}", "events": events, "k": 10,
                "at": f"{np.datetime64(int(h.now), 's')}"}  # fmt: skip
        served = requests.post(f"{base}/v1/recommend", json=body, timeout=60).json()
        offline = engine.recommend([h], 10)[0]
        assert [i["item_id"] for i in served["items"]] == [i["item_id"] for i in offline["items"]]
        expected = engine.anomaly([h])["calibrated"][0]
        assert served["anomaly"]["calibrated"] == pytest.approx(expected, abs=1e-9)


def test_health_and_openapi(demo_run):
    _, _, base = demo_run
    health = requests.get(f"{base}/healthz", timeout=30).json()
    assert health["status"] == "ok" and health["users"] > 0
    schema = requests.get(f"{base}/openapi.json", timeout=30).json()
    assert "/v1/recommend" in schema["paths"]
    assert requests.get(f"{base}/docs", timeout=30).status_code == 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('{"user_id": 1, "k": 0}', "k"),
        ('{"user_id": 1, "k": NaN}', "k"),
        ('{"user_id": 1, "events": [{"item_id": 1, "timestamp": "2026-01-01T00:00:00", '
         '"value": Infinity}]}', "value"),
        ('{"user_id": 1, "events": [{"item_id": 1, "timestamp": "2026-01-01T00:00:00", '
         '"action": "teleport"}]}', "action"),
        ("{not json", "body"),
    ],
)  # fmt: skip
def test_bad_input_through_serve_is_a_422_naming_the_problem(demo_run, body, named):
    _, _, base = demo_run
    r = requests.post(f"{base}/v1/recommend", data=body, timeout=30,
                      headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422, r.text
    assert named in r.text


def test_unknown_items_are_counted_not_dropped_silently(demo_run):
    report, _, base = demo_run
    body = {"user_id": "someone", "k": 3, "events": [
        {"item_id": 1, "timestamp": "2026-02-10T10:00:00"},
        {"item_id": 10**6, "timestamp": "2026-02-10T10:05:00"}]}  # fmt: skip
    r = requests.post(f"{base}/v1/recommend", json=body, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["ignored_events"]["unknown_item"] == 1


def test_serve_config_args_build_the_app(demo_run):
    """The shipped Serve config's args are accepted by the typed builder."""
    from pathlib import Path

    import yaml

    from serve_apps.recommend_app import build_app

    config = yaml.safe_load(Path("serve_apps/recommend.yaml").read_text())
    args = config["applications"][0]["args"]
    _, run_dir, _ = demo_run
    assert build_app({**args, "run_dir": str(run_dir)}) is not None
    with pytest.raises(ValueError, match="run_dir"):
        build_app({})
