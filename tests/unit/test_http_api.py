"""The HTTP API in one plain process (no Ray): the same models and service the Serve graph
uses. Bad input is a 4xx that names the field and never echoes the input; raw ids in and out;
a user the model has never seen is answered, not a 404."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from adrec.data.splits import split_log
from adrec.recommender.history import histories_at
from adrec.serving.plain import create_app
from adrec.serving.service import RecommendService


@pytest.fixture(scope="module")
def client(fitted):
    _, engine, _, _ = fitted
    return TestClient(create_app(RecommendService(engine)))


def _event(engine, i=1, t="2026-02-01T10:00:00") -> dict:
    return {"item_id": engine.log.items.raw_ids([i])[0], "timestamp": t, "action": "view",
            "value": 3.5}  # fmt: skip


def test_a_known_user_is_answered_with_raw_ids(client, fitted):
    _, engine, _, _ = fitted
    user = engine.log.users.raw_ids([3])[0]
    r = client.post("/v1/recommend", json={"user_id": user, "k": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["known_user"] and body["user_id"] == user and len(body["items"]) == 4
    known = set(engine.log.items.raw_ids(np.arange(1, engine.log.n_items + 1)))
    assert all(i["item_id"] in known for i in body["items"])
    assert set(body["weights"]) == set(engine.sources.names)
    assert math.isclose(sum(body["weights"].values()), 1.0, rel_tol=1e-6)


def test_a_new_user_is_answered_from_the_request(client, fitted):
    _, engine, _, _ = fitted
    body = {"user_id": "someone-new", "k": 3, "events": [_event(engine, 1), _event(engine, 2)]}
    r = client.post("/v1/recommend", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert not out["known_user"] and not out["anomaly"]["has_window"]
    assert out["anomaly"]["calibrated"] == 0.0  # too little history: the calm blend
    assert out["weights"] == pytest.approx(
        dict(zip(engine.sources.names, engine.blends.fixed, strict=True)), abs=1e-6
    )


def test_http_answer_ranks_like_the_offline_evaluation_of_a_test_point(client, fitted):
    inter, engine, _, _ = fitted
    points = split_log(inter, "leave_last_out", 5).test
    for p in (0, len(points) // 2, len(points) - 1):
        h = histories_at(inter, points.subset(np.array([p])))[0]
        events = [
            {"item_id": raw, "timestamp": f"{np.datetime64(int(t), 's')}",
             "action": engine.log.action_names[a], "value": float(v)}
            for raw, t, a, v in zip(engine.log.items.raw_ids(h.items), h.times, h.actions,
                                    h.values, strict=True)
        ]  # fmt: skip
        at = f"{np.datetime64(int(h.now), 's')}"
        r = client.post("/v1/recommend", json={"user_id": f"replay-{p}", "events": events,
                                               "k": 10, "at": at})  # fmt: skip
        assert r.status_code == 200, r.text
        offline = engine.recommend([h], 10)[0]
        assert [i["item_id"] for i in r.json()["items"]] == [i["item_id"] for i in offline["items"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update(k=0), "k"),
        (lambda b: b.update(k=101), "k"),
        (lambda b: b.update(k=True), "k"),
        (lambda b: b.update(k="3"), "k"),
        (lambda b: b.update(user_id=None), "user_id"),
        (lambda b: b.update(user_id=""), "user_id"),
        (lambda b: b.update(user_id="x" * 300), "user_id"),
        (lambda b: b["events"][0].pop("timestamp"), "timestamp"),
        (lambda b: b["events"][0].update(timestamp="not a time"), "timestamp"),
        (lambda b: b["events"][0].update(timestamp="9999-12-31T00:00:00"), "timestamp"),
        (lambda b: b["events"][0].update(value=1e308), "value"),
        (lambda b: b["events"][0].update(item_id=None), "item_id"),
        (lambda b: b["events"][0].update(item_id=1.5), "item_id"),
        (lambda b: b["events"][0].update(colour="red"), "colour"),
        (lambda b: b.update(events=[b["events"][0]] * 10_001), "events"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, fitted, change, field):
    _, engine, _, _ = fitted
    body = {"user_id": 1, "k": 3, "events": [_event(engine)]}
    change(body)
    r = client.post("/v1/recommend", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["fields"]
    assert len(r.content) < 10_000  # the error names the field, it does not echo the input


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_a_422_not_a_500(client, fitted, number):
    _, engine, _, _ = fitted
    raw = engine.log.items.raw_ids([1])[0]
    item = f'"{raw}"' if isinstance(raw, str) else raw
    for body in (
        f'{{"user_id": 1, "k": {number}}}',
        f'{{"user_id": 1, "events": [{{"item_id": {item}, "timestamp": "2026-01-01T00:00:00", '
        f'"value": {number}}}]}}',
    ):
        r = client.post("/v1/recommend", content=body,
                        headers={"content-type": "application/json"})  # fmt: skip
        assert r.status_code == 422, r.text


def test_an_unknown_action_is_a_422_naming_it(client, fitted):
    _, engine, _, _ = fitted
    body = {"user_id": 1, "events": [{**_event(engine), "action": "teleport"}]}
    r = client.post("/v1/recommend", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == "events.0.action" and "teleport" in r.text


def test_unknown_items_are_counted(client, fitted):
    _, engine, _, _ = fitted
    body = {"user_id": "new", "events": [_event(engine), {**_event(engine), "item_id": 2**70}]}
    r = client.post("/v1/recommend", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["ignored_events"]["unknown_item"] == 1


def test_health_and_openapi_list_the_statuses(client):
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert {"200", "413", "422"} <= set(spec["paths"]["/v1/recommend"]["post"]["responses"])
