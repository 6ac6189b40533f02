"""The HTTP API's request and response models (pydantic; served by serve_apps)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adrec.data.schema import ACTIONS

MAX_EVENTS = 10_000
MAX_K = 100


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int | None = Field(None, description="Optional; must equal the request's user_id")
    timestamp: datetime
    item_id: int = Field(ge=0)
    category: str = Field(min_length=1)
    action: Literal[ACTIONS] = "view"  # type: ignore[valid-type]
    value: float = Field(0.0, ge=0, allow_inf_nan=False)

    @field_validator("timestamp")
    @classmethod
    def _naive_utc(cls, ts: datetime) -> datetime:
        # Logs store naive UTC timestamps; aware ones are converted, not misread.
        return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int
    events: list[Event] = Field(
        min_length=1,
        max_length=MAX_EVENTS,
        description="The user's recent events (ideally the last 7 days)",
    )
    k: int = Field(10, ge=1, le=MAX_K)

    @model_validator(mode="after")
    def _events_belong_to_user(self) -> RecommendRequest:
        for i, e in enumerate(self.events):
            if e.user_id is not None and e.user_id != self.user_id:
                raise ValueError(
                    f"events[{i}].user_id is {e.user_id}, but the request's user_id is "
                    f"{self.user_id}"
                )
        return self

    def event_records(self) -> list[dict]:
        return [{**e.model_dump(), "user_id": self.user_id} for e in self.events]


class Anomaly(BaseModel):
    score: float
    calibrated: float = Field(ge=0, le=1)
    threshold: float
    is_anomalous: bool


class Item(BaseModel):
    item_id: int
    score: float
    source: str
    category: str


class IgnoredEvents(BaseModel):
    unknown_category: int = Field(description="events left out of anomaly scoring")
    unknown_item: int = Field(description="events left out of the sequence model")


class RecommendResponse(BaseModel):
    user_id: int
    anomaly: Anomaly
    weights: dict[str, float]
    emerging_categories: dict[str, float]
    items: list[Item]
    ignored_events: IgnoredEvents
