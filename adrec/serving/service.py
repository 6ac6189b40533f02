"""The served recommender without any web or Ray code: validated requests in, response bodies
out, in batches. The Serve deployments (adrec.distributed.serve_graph) and the plain
single-process app (adrec.serving.plain) wrap it, so every front end answers alike.

A request crosses three steps, each a function of the one before:

    query_of(request)        -> Query     compact arrays; needs no model (the ingress)
    service.prepare(queries) -> Prepared  the user's History built once, the ignored events
                                          counted, the detector scored over the whole batch
    service.answer(prepared) -> bytes     one pass of the sources (one sequential-model
                                          forward) over the batch, each request ranked with
                                          its own k, the response body as JSON

A request the model cannot use (an action it does not know, a prediction time past its
horizon) is a RequestError naming the field, returned in the request's place so that one bad
request never fails the others of its batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydantic import TypeAdapter

from adrec.errors import BadEventsError
from adrec.recommender.engine import AnomalyAwareRecommender, RequestEvents
from adrec.recommender.history import History
from adrec.serving.models import RecommendRequest, RecommendResponse

_DAY = 86_400
# Events later than max(the service's clock, the log's last interaction) + this grace are
# counted as `in_future` and dropped: one wrong date would otherwise become the default
# prediction time and push every other event out of the behaviour window.
FUTURE_GRACE_S = _DAY
_RESPONSE = TypeAdapter(RecommendResponse)


def _unix(ts: datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class Query:
    """A validated request as the deployments pass it on: numbers in arrays, no models."""

    user_id: int | str
    events: RequestEvents
    at: float | None
    k: int


def query_of(request: RecommendRequest) -> Query:
    ev = request.events
    events = RequestEvents(
        items=[e.item_id for e in ev],
        times=np.array([_unix(e.timestamp) for e in ev], np.int64),
        actions=[e.action for e in ev],
        values=np.array([np.nan if e.value is None else e.value for e in ev], np.float64),
    )
    at = None if request.at is None else float(_unix(request.at))
    return Query(request.user_id, events, at, request.k)


class RequestError(ValueError):
    """A request the model cannot answer, naming the field: the API answers 422."""

    def __init__(self, loc: tuple, msg: str, type: str = "value_error"):
        super().__init__(f"{'.'.join(map(str, loc))}: {msg}")
        self.loc, self.msg, self.type = tuple(loc), msg, type

    def __reduce__(self):  # crosses deployments pickled: rebuild from the fields
        return (type(self), (self.loc, self.msg, self.type))

    def problem(self) -> dict:
        return {"loc": ["body", *self.loc], "msg": self.msg, "type": self.type}


@dataclass
class Prepared:
    """The detector's part of a request and everything the recommender needs after it."""

    user_id: int | str
    k: int
    known: bool
    history: History
    ignored: dict
    anomaly: dict  # score (NaN without a window), calibrated, has_window


class RecommendService:
    def __init__(self, engine: AnomalyAwareRecommender, clock=time.time):
        self.engine = engine
        self.clock = clock
        log_end = float(engine.log.time.max()) if len(engine.log.time) else 0.0
        self._log_end = log_end

    @classmethod
    def load(cls, run_dir: str | Path) -> RecommendService:
        return cls(AnomalyAwareRecommender.load(run_dir))

    def horizon(self) -> float:
        """The latest time an event or a prediction may carry (unix seconds)."""
        return max(self.clock(), self._log_end) + FUTURE_GRACE_S

    # -- the detector's part ------------------------------------------------------------------
    def history(self, query: Query) -> tuple[History, dict, bool]:
        """(history, ignored event counts, known user) of one query."""
        horizon = self.horizon()
        if query.at is not None and query.at > horizon:
            raise RequestError(("at",), "lies after the latest time this model serves "
                               f"({datetime.fromtimestamp(horizon, UTC):%Y-%m-%d})")  # fmt: skip
        ev = query.events
        self._check_actions(ev.actions)
        future = ev.times > horizon
        if future.any():
            keep = np.flatnonzero(~future)
            ev = RequestEvents(
                [ev.items[i] for i in keep], ev.times[keep], [ev.actions[i] for i in keep],
                ev.values[keep],
            )  # fmt: skip
        try:
            history, ignored, known = self.engine.history_for(query.user_id, ev, query.at)
            if query.at is None and not known and not len(history):
                # Nothing dates the request: predict at the end of the model's log (not at
                # the epoch), as for a known user whose history ends there.
                history, ignored, known = self.engine.history_for(query.user_id, ev, self._log_end)
        except BadEventsError as exc:  # the engine names the field in its message
            field, _, msg = str(exc).partition(": ")
            raise RequestError((field,), msg or str(exc)) from None
        ignored["in_future"] = int(future.sum())
        return history, ignored, known

    def _check_actions(self, actions: list) -> None:
        names = self.engine.log.action_names
        if not names:
            return  # the model has no actions: the field is not read
        known = set(names)
        for i, name in enumerate(actions):
            if name is not None and name not in known:
                shown = name if len(name) <= 64 else name[:64] + "..."
                raise RequestError(("events", i, "action"), f"unknown action {shown!r}; this "
                                   f"model knows {list(names)}")  # fmt: skip

    def prepare(self, queries: list[Query]) -> list[Prepared | RequestError]:
        """Histories of every query and one detector call over all of them."""
        out: list = [None] * len(queries)
        ok, parts = [], []
        for i, q in enumerate(queries):
            try:
                parts.append(self.history(q))
                ok.append(i)
            except RequestError as exc:
                out[i] = exc
        if ok:
            a = self.engine.anomaly([h for h, _, _ in parts])
            for j, (i, (h, ignored, known)) in enumerate(zip(ok, parts, strict=True)):
                anomaly = {"score": float(a["score"][j]), "calibrated": float(a["calibrated"][j]),
                           "has_window": bool(a["has_window"][j])}  # fmt: skip
                out[i] = Prepared(queries[i].user_id, queries[i].k, known, h, ignored, anomaly)
        return out

    # -- the recommender's part ---------------------------------------------------------------
    def answer(self, prepared: list[Prepared | RequestError]) -> list[bytes | RequestError]:
        """Response bodies (JSON bytes) of every prepared request, errors passed through."""
        out: list = list(prepared)
        ok = [i for i, p in enumerate(prepared) if isinstance(p, Prepared)]
        if not ok:
            return out
        batch = [prepared[i] for i in ok]
        histories = [p.history for p in batch]
        arrays = {
            "score": np.array([p.anomaly["score"] for p in batch], np.float64),
            "calibrated": np.array([p.anomaly["calibrated"] for p in batch], np.float64),
            "has_window": np.array([p.anomaly["has_window"] for p in batch], bool),
        }
        results = self.engine.recommend(histories, [p.k for p in batch], arrays)
        det = self.engine.detector
        threshold = det.threshold if det else None
        for i, p, result in zip(ok, batch, results, strict=True):
            score = p.anomaly["score"]
            body = {
                "user_id": p.user_id,
                "known_user": p.known,
                "at": datetime.fromtimestamp(p.history.now, UTC),
                "anomaly": {
                    "score": score if np.isfinite(score) else None,
                    "calibrated": p.anomaly["calibrated"],
                    "threshold": threshold,
                    "is_anomalous": p.anomaly["calibrated"] >= 0.5,
                    "has_window": p.anomaly["has_window"],
                },
                **result,
                "ignored_events": p.ignored,
            }
            out[i] = _RESPONSE.dump_json(_RESPONSE.validate_python(body))
        return out

    # -- one request, in one process ------------------------------------------------------------
    def recommend(self, request: RecommendRequest) -> bytes:
        """The response body of one request; raises RequestError."""
        result = self.answer(self.prepare([query_of(request)]))[0]
        if isinstance(result, RequestError):
            raise result
        return result

    def info(self) -> dict:
        return self.engine.describe()
