"""The HTTP API's request and response models (pydantic), served by adrec.serving.

Ids are the log's raw ids (integers or strings). Every numeric field is bounded and finite,
strings are bounded in length, and booleans are not taken for numbers, so a malformed
request is a 422 that names the field, never a 5xx.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
    field_validator,
)

MAX_EVENTS = 10_000
MAX_K = 100
MAX_ID_LENGTH = 256
MAX_ABS_VALUE = 1e12
MIN_TIME = datetime(1970, 1, 1)
MAX_TIME = datetime(2100, 1, 1)

# A request body larger than this is answered 413 before it is parsed: 10,000 events with
# the longest ids and actions fit.
MAX_BODY_BYTES = 8 * 1024 * 1024

# Ids are integers (of any size: one the model does not know is a new user or an unknown
# item) or non-empty strings; a bool or a float is not an id.


def _text_only(value):
    # A JSON number is not read as unix seconds (pydantic would take large ones for
    # milliseconds), and a bool is not a time.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 string")
    return value


# Times are ISO 8601 strings; naive times are UTC, aware ones are converted to UTC.
Time = Annotated[datetime, BeforeValidator(_text_only)]

RawId = StrictInt | Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]


def _naive_utc(ts: datetime) -> datetime:
    # Logs hold UTC; aware times are converted, not misread.
    ts = ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts
    if not MIN_TIME <= ts < MAX_TIME:
        raise ValueError(f"must lie between {MIN_TIME:%Y-%m-%d} and {MAX_TIME:%Y-%m-%d}")
    return ts


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: RawId = Field(description="The item's id in the training log (integer or string)")
    timestamp: Time = Field(description="ISO 8601 string (UTC unless it carries an offset)")
    action: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="One of the actions the model was trained with, where it has any"
    )
    value: StrictFloat | None = Field(
        None, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE, allow_inf_nan=False,
        description="Rating, spend, ... (a finite JSON number; not a string or a bool)",
    )  # fmt: skip

    _utc = field_validator("timestamp")(classmethod(lambda cls, ts: _naive_utc(ts)))


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: RawId = Field(description="The user's id; one the model has never seen is answered "
                           "from the request's events")  # fmt: skip
    events: list[Event] = Field(
        default_factory=list,
        max_length=MAX_EVENTS,
        description="The user's events since the model was trained (for a new user: their "
        "history); events already in the model's log are counted and skipped",
    )
    k: StrictInt = Field(10, ge=1, le=MAX_K)
    at: Time | None = Field(
        None,
        description="Prediction time, ISO 8601 (default: the time of the user's latest event; "
        "for a new user without usable events, the end of the model's log)",
    )

    _utc = field_validator("at")(classmethod(lambda cls, ts: ts if ts is None else _naive_utc(ts)))


class Anomaly(BaseModel):
    score: float | None = Field(description="Raw detector score; null without a window")
    calibrated: float = Field(ge=0, le=1, description="0.5 at the threshold; 0 without a window")
    threshold: float | None
    is_anomalous: bool
    has_window: bool = Field(description="Whether the history was long enough for a window")


class Item(BaseModel):
    item_id: int | str
    score: float
    source: str
    categories: list[str]


class IgnoredEvents(BaseModel):
    unknown_item: int = Field(description="events whose item the model does not know")
    already_known: int = Field(description="events already in the model's log for this user")
    before_history: int = Field(description="events older than the user's stored history")
    after_prediction_time: int = Field(description="events after the request's `at`")
    in_future: int = Field(
        0,
        description="events later than the service's clock and the model's log (a day's "
        "grace); they would otherwise move the default prediction time",
    )


class RecommendResponse(BaseModel):
    user_id: int | str
    known_user: bool
    at: datetime = Field(description="The prediction time, UTC (RFC 3339, ending in Z)")
    anomaly: Anomaly
    weights: dict[str, float]
    emerging_categories: dict[str, float]
    items: list[Item]
    ignored_events: IgnoredEvents


class Problem(BaseModel):
    loc: list[str | int] = Field(description='Where, e.g. ["body", "events", 3, "value"]')
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every 4xx of the API: what is wrong and where, never the input itself."""

    detail: list[Problem] | str
    fields: str = Field(description="The fields at fault, e.g. `events.3.value`")


ERROR_RESPONSES = {
    400: {
        "model": ErrorBody,
        "description": "The body cannot be read as JSON text (not UTF-8, a number of more "
        "than 4,300 digits, arrays nested thousands deep); malformed JSON is a 422",
    },
    413: {"model": ErrorBody, "description": "The request body is larger than the limit"},
    422: {
        "model": ErrorBody,
        "description": "A field is missing, malformed or out of range, the body is not JSON, "
        "or an event names an action the model does not know",
    },
}
