"""Batching on the serving path, without Ray: the ingress's continuous batcher, and the
service's batched steps (one detector call and one sources pass per batch) answering every
request exactly as it would be answered alone."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from adrec.serving.batching import Batcher
from adrec.serving.models import RecommendRequest
from adrec.serving.service import Prepared, RecommendService, RequestError, query_of

# -- the batcher --------------------------------------------------------------------------


class Recorder:
    """A send() that records its batches and takes `delay` seconds."""

    def __init__(self, delay: float = 0.01, fail_on=None):
        self.batches: list[list] = []
        self.delay = delay
        self.fail_on = fail_on
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, items: list) -> list:
        self.batches.append(list(items))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        if self.fail_on is not None and self.fail_on in items:
            raise RuntimeError("the stage behind the batcher failed")
        return [ValueError(f"bad {x}") if x == "bad" else x * 10 for x in items]


def _run(coro):
    return asyncio.run(coro)


def test_an_idle_batcher_sends_at_once_and_a_busy_one_batches_what_waited():
    send = Recorder()

    async def main():
        batcher = Batcher(send, max_batch_size=4, max_in_flight=1)
        out = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        return out, batcher.stats()

    out, stats = _run(main())
    assert out == [i * 10 for i in range(10)]
    assert [len(b) for b in send.batches] == [1, 4, 4, 1]  # the first went alone, at once
    assert stats == {"batches": 4, "requests": 10, "mean": 2.5, "largest": 4}


def test_batches_in_flight_are_bounded_and_pipelined():
    send = Recorder(delay=0.02)

    async def main():
        batcher = Batcher(send, max_batch_size=3, max_in_flight=2)
        return await asyncio.gather(*(batcher.submit(i) for i in range(12)))

    assert _run(main()) == [i * 10 for i in range(12)]
    assert send.most_in_flight == 2
    assert sorted(x for b in send.batches for x in b) == list(range(12))


def test_a_failed_item_fails_alone_and_a_failed_batch_fails_its_callers_only():
    send = Recorder(fail_on=7)

    async def main():
        batcher = Batcher(send, max_batch_size=8, max_in_flight=1)
        first = await asyncio.gather(batcher.submit(1), batcher.submit("bad"),
                                     return_exceptions=True)  # fmt: skip
        second = await asyncio.gather(batcher.submit(5), batcher.submit(7),
                                      return_exceptions=True)  # fmt: skip
        third = await batcher.submit(2)  # the batcher still works
        return first, second, third

    first, second, third = _run(main())
    assert first[0] == 10 and isinstance(first[1], ValueError)
    assert all(isinstance(r, RuntimeError) for r in second[1:])
    assert third == 20


def test_a_wait_fills_batches_that_would_go_alone():
    send = Recorder(delay=0.0)

    async def main():
        batcher = Batcher(send, max_batch_size=8, max_in_flight=1, wait_s=0.05)
        first = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0.01)
        rest = [asyncio.ensure_future(batcher.submit(i)) for i in (2, 3)]
        return await asyncio.gather(first, *rest)

    assert _run(main()) == [10, 20, 30]
    assert [len(b) for b in send.batches] == [3]


def test_a_send_that_returns_the_wrong_count_is_an_error():
    async def short(items):
        return items[:-1]

    async def main():
        return await asyncio.gather(Batcher(short).submit(1), return_exceptions=True)

    assert isinstance(_run(main())[0], RuntimeError)


@pytest.mark.parametrize("kw", [{"max_batch_size": 0}, {"max_in_flight": 0}, {"wait_s": -1}])
def test_batcher_settings_are_checked(kw):
    with pytest.raises(ValueError):
        Batcher(Recorder(), **kw)


# -- the service in batches ---------------------------------------------------------------


def _requests(engine) -> list[RecommendRequest]:
    users = engine.log.users.raw_ids([0, 3, 7])
    items = engine.log.items.raw_ids([1, 2, 5, 9])
    events = [{"item_id": i, "timestamp": f"2026-02-0{d + 1}T10:00:00", "action": "view",
               "value": 2.0} for d, i in enumerate(items)]  # fmt: skip
    bodies = [
        {"user_id": users[0], "k": 5},
        {"user_id": users[1], "k": 1, "events": events[:2]},
        {"user_id": "new-a", "k": 10, "events": events},
        {"user_id": "new-b", "events": [{**events[0], "action": "teleport"}]},
        {"user_id": users[2], "k": 3, "at": "2026-01-15T00:00:00"},
        {"user_id": "new-c", "k": 7},
    ]
    return [RecommendRequest.model_validate(b) for b in bodies]


def test_a_batch_answers_every_request_as_it_is_answered_alone(fitted):
    _, engine, _, _ = fitted
    service = RecommendService(engine)
    queries = [query_of(r) for r in _requests(engine)]
    prepared = service.prepare(queries)
    assert isinstance(prepared[3], RequestError) and prepared[3].loc == ("events", 0, "action")
    assert sum(isinstance(p, Prepared) for p in prepared) == 5
    together = service.answer(prepared)
    assert together[3] is prepared[3]  # the error is passed on in its place
    for q, body in zip(queries, together, strict=True):
        alone = service.answer(service.prepare([q]))[0]
        if isinstance(body, RequestError):
            assert isinstance(alone, RequestError) and alone.loc == body.loc
            continue
        a, b = json.loads(alone), json.loads(body)
        assert [i["item_id"] for i in a["items"]] == [i["item_id"] for i in b["items"]]
        np.testing.assert_allclose([i["score"] for i in a["items"]],
                                   [i["score"] for i in b["items"]], rtol=1e-6)  # fmt: skip
        for key in ("user_id", "known_user", "at", "anomaly", "ignored_events", "weights"):
            assert a[key] == pytest.approx(b[key]), key
        assert len(b["items"]) == q.k


def test_engine_recommend_takes_one_k_per_history(fitted):
    _, engine, _, _ = fitted
    histories = [engine.stored_history(u) for u in range(6)]
    ks = [3, 1, 3, 10, 5, 1]
    mixed = engine.recommend(histories, ks)
    for h, k, got in zip(histories, ks, mixed, strict=True):
        alone = engine.recommend([h], k)[0]
        assert [i["item_id"] for i in got["items"]] == [i["item_id"] for i in alone["items"]]
    with pytest.raises(ValueError, match="values of k"):
        engine.recommend(histories, [1, 2])


def test_queries_and_prepared_requests_cross_processes_pickled(fitted):
    import pickle

    _, engine, _, _ = fitted
    service = RecommendService(engine)
    queries = [query_of(r) for r in _requests(engine)]
    prepared = pickle.loads(pickle.dumps(service.prepare(pickle.loads(pickle.dumps(queries)))))
    assert isinstance(prepared[3], RequestError) and prepared[3].problem()["loc"][-1] == "action"
    assert service.answer(prepared)[0] == service.answer(service.prepare(queries))[0]
