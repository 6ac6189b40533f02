"""The ingress's retry on a dead replica, without a cluster: which failures are sent again,
how often, and that the retry is counted (the integration test kills a real replica, where
Serve's router sometimes resends the request itself before ours is needed)."""

import asyncio

import pytest
from ray.exceptions import RayActorError, WorkerCrashedError
from ray.serve.exceptions import RayServeException

from adrec.distributed.serve_graph import once_more_if_a_replica_dies, replica_died


def _calls(*outcomes):
    """An async call returning or raising each outcome in turn, and its call count."""
    seen = []

    async def call():
        out = outcomes[len(seen)]
        seen.append(out)
        if isinstance(out, BaseException):
            raise out
        return out

    return call, seen


def _run(call, on_retry=None):
    return asyncio.run(once_more_if_a_replica_dies(call, on_retry))


def test_a_dead_replica_is_tried_once_more_and_counted():
    call, seen = _calls(RayActorError(), 41)
    retries = []
    assert _run(call, lambda: retries.append(1)) == 41
    assert len(seen) == 2 and retries == [1]


def test_a_death_wrapped_by_a_later_hop_is_recognised():
    chained = RayServeException("downstream failed")
    chained.__cause__ = WorkerCrashedError()
    assert replica_died(chained)
    call, seen = _calls(chained, "ok")
    assert _run(call) == "ok" and len(seen) == 2


def test_other_errors_are_not_retried():
    call, seen = _calls(ValueError("bad request"), "never")
    with pytest.raises(ValueError, match="bad request"):
        _run(call)
    assert len(seen) == 1
    assert not replica_died(RayServeException("no replica died"))


def test_a_second_death_fails_the_request_instead_of_retrying_forever():
    call, seen = _calls(RayActorError(), RayActorError(), "never")
    with pytest.raises(RayActorError):
        _run(call)
    assert len(seen) == 2
