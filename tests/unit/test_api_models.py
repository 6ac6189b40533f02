"""The HTTP API's request and response models (pydantic only; no server)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from pydantic import ValidationError

from adrec.api import MAX_K, Anomaly, Event, RecommendRequest, RecommendResponse
from adrec.data.schema import validate_events


def _event(**kw) -> dict:
    return {"timestamp": "2026-02-01T10:00:00", "item_id": 3, "category": "books", **kw}


def _request(**kw) -> dict:
    return {"user_id": 7, "events": [_event()], **kw}


def _errors(payload: dict) -> str:
    with pytest.raises(ValidationError) as err:
        RecommendRequest.model_validate(payload)
    return str(err.value)


def _locs(payload: dict) -> set[tuple]:
    """Where validation failed: the loc of every error."""
    with pytest.raises(ValidationError) as err:
        RecommendRequest.model_validate(payload)
    return {tuple(e["loc"]) for e in err.value.errors()}


def test_a_minimal_request_gets_defaults():
    req = RecommendRequest.model_validate(_request())
    assert req.k == 10
    assert req.events[0].action == "view" and req.events[0].value == 0.0
    assert req.events[0].user_id is None


def test_missing_events_are_rejected():
    payload = _request()
    del payload["events"]
    assert _locs(payload) == {("events",)}


def test_empty_events_are_rejected():
    assert _locs(_request(events=[])) == {("events",)}


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, 101])
def test_k_out_of_range(k):
    assert _locs(_request(k=k)) == {("k",)}


@pytest.mark.parametrize("k", [1, MAX_K])
def test_k_bounds_are_inclusive(k):
    assert RecommendRequest.model_validate(_request(k=k)).k == k


@pytest.mark.parametrize(
    "payload",
    [
        _request(user_id="seven"),
        _request(k="ten"),
        _request(events="not a list"),
        _request(events=[_event(timestamp="yesterday-ish")]),
        _request(events=[_event(item_id="abc")]),
        _request(events=[_event(value="lots")]),
        _request(events=[_event(category=5)]),
    ],
)
def test_wrong_types_are_rejected(payload):
    locs = _locs(payload)
    assert locs and all(loc[0] in {"user_id", "k", "events"} for loc in locs)


def test_events_of_another_user_are_rejected_with_their_index():
    payload = _request(events=[_event(user_id=7), _event(user_id=8)])
    msg = _errors(payload)
    assert "events[1].user_id" in msg
    assert "8" in msg and "7" in msg
    # The same user id is fine.
    assert RecommendRequest.model_validate(_request(events=[_event(user_id=7)]))


@pytest.mark.parametrize("value", [-0.01, float("nan"), float("inf")])
def test_bad_values_are_rejected(value):
    assert _locs(_request(events=[_event(value=value)])) == {("events", 0, "value")}


def test_negative_item_id_and_empty_category_are_rejected():
    assert _locs(_request(events=[_event(item_id=-1)])) == {("events", 0, "item_id")}
    assert _locs(_request(events=[_event(category="")])) == {("events", 0, "category")}


def test_unknown_action_is_rejected():
    assert _locs(_request(events=[_event(action="click")])) == {("events", 0, "action")}
    for action in ("view", "cart", "purchase"):
        assert Event.model_validate(_event(action=action)).action == action


@pytest.mark.parametrize(
    "payload, loc",
    [
        (_request(extra=1), ("extra",)),
        (_request(events=[_event(color="red")]), ("events", 0, "color")),
    ],
)
def test_extra_fields_are_rejected(payload, loc):
    assert _locs(payload) == {loc}


def test_aware_timestamps_become_naive_utc():
    plus2 = timezone(timedelta(hours=2))
    e = Event.model_validate(_event(timestamp=datetime(2026, 2, 1, 10, 0, tzinfo=plus2)))
    assert e.timestamp == datetime(2026, 2, 1, 8, 0)
    assert e.timestamp.tzinfo is None
    e = Event.model_validate(_event(timestamp="2026-02-01T01:30:00-03:00"))
    assert e.timestamp == datetime(2026, 2, 1, 4, 30) and e.timestamp.tzinfo is None
    e = Event.model_validate(_event(timestamp="2026-02-01T10:00:00Z"))
    assert e.timestamp == datetime(2026, 2, 1, 10, 0) and e.timestamp.tzinfo is None
    naive = Event.model_validate(_event(timestamp="2026-02-01T10:00:00"))
    assert naive.timestamp == datetime(2026, 2, 1, 10, 0)


def test_event_records_fill_user_id_and_validate_against_the_schema():
    req = RecommendRequest.model_validate(
        _request(
            events=[
                _event(),
                _event(
                    user_id=7, action="purchase", value=12.5, timestamp="2026-02-01T12:00:00+01:00"
                ),
            ]
        )
    )
    records = req.event_records()
    assert [r["user_id"] for r in records] == [7, 7]
    assert records[1]["value"] == 12.5 and records[1]["action"] == "purchase"
    df = validate_events(pd.DataFrame(records))
    assert list(df["timestamp"]) == [
        pd.Timestamp("2026-02-01 10:00"),
        pd.Timestamp("2026-02-01 11:00"),
    ]


def test_response_model():
    resp = RecommendResponse.model_validate(
        {
            "user_id": 7,
            "anomaly": {"score": 1.2, "calibrated": 0.4, "threshold": 2.0, "is_anomalous": False},
            "weights": {"long_term": 0.5, "short_term": 0.3, "emerging": 0.2},
            "emerging_categories": {"toys": 1.0},
            "items": [{"item_id": 4, "score": 0.1, "source": "emerging", "category": "toys"}],
            "ignored_events": {"unknown_category": 0, "unknown_item": 1},
        }
    )
    assert resp.items[0].item_id == 4
    with pytest.raises(ValidationError):
        Anomaly(score=1.0, calibrated=1.5, threshold=1.0, is_anomalous=True)
