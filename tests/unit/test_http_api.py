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


def test_health_and_openapi_list_every_status(client):
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]["/v1/recommend"]["post"]["responses"]) == {"200", "400", "413", "422"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["events"][0].update(value="3.5"), "value"),
        (lambda b: b["events"][0].update(value=True), "value"),
        (lambda b: b["events"][0].update(timestamp=1767225600), "timestamp"),
        (lambda b: b["events"][0].update(timestamp=True), "timestamp"),
        (lambda b: b.update(at=1767225600), "at"),
        (lambda b: b.update(at="2099-01-01T00:00:00"), "at"),  # after the model's horizon
        (lambda b: b.update(user_id=True), "user_id"),
        (lambda b: b["events"][0].update(action=5), "action"),
    ],
)
def test_strict_types_and_bounds_are_a_422_naming_the_field(client, fitted, change, field):
    _, engine, _, _ = fitted
    body = {"user_id": 1, "k": 3, "events": [_event(engine)]}
    change(body)
    r = client.post("/v1/recommend", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["fields"]


def test_a_body_over_the_limit_is_a_413_before_parsing(fitted):
    _, engine, _, _ = fitted
    small = TestClient(create_app(RecommendService(engine), max_body_bytes=2048))
    body = {"user_id": 1, "events": [_event(engine)] * 100}
    r = small.post("/v1/recommend", json=body)
    assert r.status_code == 413 and r.json()["fields"] == "body", r.text

    def chunks():  # no Content-Length: the streamed body is counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    r = small.post("/v1/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert small.post("/v1/recommend", json={"user_id": 1, "k": 2}).status_code == 200


def test_the_default_limit_answers_a_20_mb_field_with_a_413(client):
    r = client.post("/v1/recommend", json={"user_id": 1, "category": "x" * 20_000_000})
    assert r.status_code == 413 and len(r.content) < 1000


def test_errors_are_short_whatever_the_input(client, fitted):
    _, engine, _, _ = fitted
    huge_key = {"user_id": 1, "x" * 1_000_000: 1}
    r = client.post("/v1/recommend", json=huge_key)
    assert r.status_code == 422 and len(r.content) < 2000, len(r.content)
    many = {"user_id": 1, "events": [{**_event(engine), "value": "bad"}] * 5000}
    r = client.post("/v1/recommend", json=many)
    assert r.status_code == 422 and len(r.content) < 10_000, len(r.content)
    assert r.json()["fields"].endswith("and 4980 more")
    r = client.post(
        "/v1/recommend", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["fields"] == "body"


def test_every_dropped_event_is_counted(client, fitted):
    _, engine, _, _ = fitted
    user = engine.log.users.raw_ids([0])[0]
    stored = engine.stored_history(0)
    last = int(stored.times[-1])
    raw = engine.log.items.raw_ids(stored.items[-2:])

    def ev(item, t):
        return {"item_id": item, "timestamp": f"{np.datetime64(int(t), 's')}"}

    future = 4_070_908_800  # 2099-01-01
    events = [ev(raw[-1], last), ev(raw[0], last - 1), ev("no-such-item", last + 60),
              ev(raw[0], last + 120), ev(raw[0], last + 3000), ev(raw[0], future)]  # fmt: skip
    at = f"{np.datetime64(last + 600, 's')}"
    r = client.post("/v1/recommend", json={"user_id": user, "events": events, "at": at})
    assert r.status_code == 200, r.text
    assert r.json()["ignored_events"] == {"unknown_item": 1, "already_known": 1,
        "before_history": 1, "after_prediction_time": 1, "in_future": 1}  # fmt: skip


def test_an_event_far_in_the_future_does_not_move_the_prediction_time(client, fitted):
    _, engine, _, _ = fitted
    events = [_event(engine, 1, "2026-02-01T10:00:00"), _event(engine, 2, "2099-12-31T00:00:00")]
    r = client.post("/v1/recommend", json={"user_id": "someone-new", "events": events})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["at"] == "2026-02-01T10:00:00Z" and body["ignored_events"]["in_future"] == 1


def test_a_new_user_without_events_is_answered_at_the_end_of_the_log(client, fitted):
    _, engine, _, _ = fitted
    r = client.post("/v1/recommend", json={"user_id": "nobody-yet", "k": 2})
    assert r.status_code == 200, r.text
    end = np.datetime64(int(engine.log.time.max()), "s")
    assert r.json()["at"] == f"{end}Z" and len(r.json()["items"]) == 2
