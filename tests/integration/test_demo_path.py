"""The walking skeleton end to end: real Ray Data, Ray Train, Ray Serve and HTTP."""

import json

import numpy as np
import pandas as pd
import pytest
import requests

from adrec.artifacts import load_scorer
from adrec.data.logs import read_event_log


def test_demo_separates_life_event_user_from_stable_user(demo_run):
    report, _, _ = demo_run
    stable, shifted = report["stable"]["anomaly"], report["shifted"]["anomaly"]
    assert shifted["is_anomalous"] and shifted["calibrated"] > 0.5
    assert not stable["is_anomalous"] and stable["calibrated"] < 0.5
    assert stable["threshold"] == shifted["threshold"]
    # The blend moves away from long-term taste for the shifted user.
    assert report["shifted"]["weights"]["long_term"] < report["stable"]["weights"]["long_term"]
    assert report["shifted"]["weights"]["emerging"] > report["stable"]["weights"]["emerging"]
    assert len(report["stable"]["items"]) == len(report["shifted"]["items"]) == 5
    assert report["unknown_user_status"] == 404


def test_detection_metrics_on_planted_events(demo_run):
    report, run_dir, _ = demo_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    detection = metrics["detector"]["detection"]
    assert detection == report["detection"]
    assert detection["n_anomalous"] > 0
    assert detection["auroc"] >= 0.9
    assert 0 < detection["auprc"] <= 1


def test_run_directory_holds_every_artifact(demo_run):
    _, run_dir, _ = demo_run
    for part in ("detector/state.pt", "detector/detector.json", "recommender/sasrec.pt",
                 "window_spec.json", "profiles.parquet", "histories.parquet", "catalog.parquet",
                 "metrics.json", "demo.json", "test_scores.parquet"):  # fmt: skip
        assert (run_dir / part).exists(), part
    page = (run_dir / "dashboard.html").read_text()  # the anomaly series, with recall per day
    assert page.count("<svg") == 2 and "recall" in page and "false_alarm_rate" in page


def test_served_score_equals_offline_score(demo_run):
    report, run_dir, base = demo_run
    user = report["shifted"]["user_id"]
    events = read_event_log(run_dir / "data")
    recent = events[
        (events.user_id == user)
        & (events.timestamp >= events.timestamp.max().normalize() - pd.Timedelta(days=6))
    ]  # noqa: E501
    offline = load_scorer(run_dir).score(user, recent)
    body = {
        "user_id": user,
        "events": [
            {**r, "timestamp": r["timestamp"].isoformat()}
            for r in recent.drop(columns="user_id").to_dict("records")
        ],
        "k": 3,
    }
    served = requests.post(f"{base}/v1/recommend", json=body, timeout=30).json()
    assert np.isclose(served["anomaly"]["score"], offline["score"], rtol=1e-5)
    assert served["anomaly"]["score"] == report["shifted"]["anomaly"]["score"]


def test_health_and_openapi(demo_run):
    _, _, base = demo_run
    health = requests.get(f"{base}/healthz", timeout=30).json()
    assert health["status"] == "ok" and health["users"] > 0
    schema = requests.get(f"{base}/openapi.json", timeout=30).json()
    assert "/v1/recommend" in schema["paths"]
    assert requests.get(f"{base}/docs", timeout=30).status_code == 200


def _valid_body(report) -> dict:
    return {"user_id": report["stable"]["user_id"], "k": 3, "events": [
        {"timestamp": "2026-02-10T10:00:00", "item_id": 1, "category": "books",
         "action": "view", "value": 0.0}]}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "status", "named"),
    [
        (lambda b: b.pop("events"), 422, "events"),
        (lambda b: b.update(events=[]), 422, "events"),
        (lambda b: b.update(k=0), 422, "k"),
        (lambda b: b.update(k=1000), 422, "k"),
        (lambda b: b.update(user_id="abc"), 422, "user_id"),
        (lambda b: b["events"][0].update(value=-5), 422, "value"),
        (lambda b: b["events"][0].update(action="teleport"), 422, "action"),
        (lambda b: b["events"][0].pop("timestamp"), 422, "timestamp"),
        (lambda b: b["events"][0].update(category="no-such-category"), 422, "categor"),
        (lambda b: b["events"][0].update(user_id=-1), 422, "user_id"),
        (lambda b: b.update(user_id=987654321), 404, "user_id"),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_problem(demo_run, change, status, named):
    report, _, base = demo_run
    body = _valid_body(report)
    change(body)
    r = requests.post(f"{base}/v1/recommend", json=body, timeout=30)
    assert r.status_code == status, r.text
    assert named in r.text


def test_malformed_json_is_a_4xx(demo_run):
    _, _, base = demo_run
    r = requests.post(f"{base}/v1/recommend", data="{not json", timeout=30,
                      headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422


def test_unknown_items_are_counted_not_dropped_silently(demo_run):
    report, _, base = demo_run
    body = _valid_body(report)
    body["events"].append({**body["events"][0], "item_id": 10**6})
    r = requests.post(f"{base}/v1/recommend", json=body, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["ignored_events"] == {"unknown_category": 0, "unknown_item": 1}


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
