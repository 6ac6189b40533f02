"""Continuous micro-batching for an asyncio server: requests that arrive while earlier
batches are in flight are sent on together, as one call, as soon as a slot is free.

    batcher = Batcher(send, max_batch_size=32, max_in_flight=2)
    result = await batcher.submit(item)     # send(list of items) -> list of results

A request that arrives at an idle server is sent at once (a batch of one: no added latency
at low load); under load every free slot takes everything that queued meanwhile, up to
max_batch_size, so batches grow with the load. `max_in_flight` batches may be in flight at
once, so that the stages behind the batcher work in a pipeline (the detector on batch n + 1
while the recommender ranks batch n). `wait_s` > 0 makes a batch that is not full wait that
long for more items before it goes (off by default).

Ray Serve's `@serve.batch` forms a batch when its first item arrives (and waits for a slot
afterwards), so with no wait the batch formed while the previous ones are in flight holds
one item; this batcher forms a batch when a slot frees. Pure asyncio: no Ray needed to test
it.

`send` returns one result per item, in order; a result that is an exception instance is
raised to that item's caller alone. If `send` raises, every caller of that batch gets the
exception.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable


class Batcher:
    def __init__(
        self,
        send: Callable[[list], Awaitable[list]],
        max_batch_size: int = 32,
        max_in_flight: int = 2,
        wait_s: float = 0.0,
    ):
        if max_batch_size < 1 or max_in_flight < 1 or wait_s < 0:
            raise ValueError("max_batch_size and max_in_flight must be >= 1, wait_s >= 0")
        self.send = send
        self.max_batch_size = max_batch_size
        self.max_in_flight = max_in_flight
        self.wait_s = wait_s
        self._queue: deque[tuple[object, asyncio.Future]] = deque()
        self._in_flight = 0
        self._waiting = False
        self.batches = 0
        self.items = 0
        self.largest = 0

    async def submit(self, item):
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._dispatch()
        return await future

    def _dispatch(self) -> None:
        while self._queue and self._in_flight < self.max_in_flight and not self._waiting:
            if self.wait_s > 0 and len(self._queue) < self.max_batch_size:
                self._waiting = True
                asyncio.get_running_loop().call_later(self.wait_s, self._end_wait)
                return
            n = min(len(self._queue), self.max_batch_size)
            batch = [self._queue.popleft() for _ in range(n)]
            batch = [(item, f) for item, f in batch if not f.cancelled()]
            if not batch:
                continue
            self._in_flight += 1
            self.batches += 1
            self.items += len(batch)
            self.largest = max(self.largest, len(batch))
            asyncio.ensure_future(self._run(batch))

    def _end_wait(self) -> None:
        self._waiting = False
        self._dispatch_now()

    def _dispatch_now(self) -> None:
        saved, self.wait_s = self.wait_s, 0.0
        try:
            self._dispatch()
        finally:
            self.wait_s = saved

    async def _run(self, batch: list) -> None:
        try:
            results = await self.send([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            self._in_flight -= 1
            self._dispatch()

    def stats(self) -> dict:
        mean = self.items / self.batches if self.batches else 0.0
        return {"batches": self.batches, "requests": self.items, "mean": round(mean, 2),
                "largest": self.largest}  # fmt: skip
