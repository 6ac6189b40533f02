"""The live service's numbers: requests, latency percentiles and the share of anomalous
answers of `POST /v1/recommend`.

`LiveMetrics` keeps them in the serving process itself: `LiveMetricsMiddleware` (plain ASGI,
no body copying) times every recommend request, notes its status and reads the answer's
`"is_anomalous"` flag as the bytes go out. Its snapshot is what `/dashboard/api/live`
returns in the plain app. In the Serve graph's ingress the same counters also feed the
Serve application's own metrics (adrec/distributed/serve_metrics.py gives the `export_counter`);
no Ray import here.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

RECOMMEND_PATH = "/v1/recommend"
_ANOMALOUS = re.compile(rb'"is_anomalous"\s*:\s*(true|false)')


def percentiles(latencies_ms, qs=(50, 95, 99)) -> dict[str, float | None]:
    if len(latencies_ms) == 0:
        return {f"p{q}": None for q in qs}
    values = np.percentile(np.asarray(latencies_ms, np.float64), qs)
    return {f"p{q}": round(float(v), 2) for q, v in zip(qs, values, strict=True)}


class LiveMetrics:
    """Counters of the recommend endpoint: totals since start, and the requests of the last
    `keep_s` seconds (at most `max_samples`) for percentiles and a series in `bucket_s`
    buckets."""

    def __init__(self, bucket_s: float = 10.0, keep_s: float = 600.0, max_samples: int = 100_000,
                 clock=time.time, export_counter: Callable[[], Any] | None = None,
                 export_every_s: float = 1.0):  # fmt: skip
        self.bucket_s = bucket_s
        self.keep_s = keep_s
        self.clock = clock
        self.started = clock()
        self.requests = 0
        self.answered = 0
        self.client_errors = 0
        self.server_errors = 0
        self.anomalous = 0
        self._recent: deque[tuple[float, float, int, bool]] = deque(maxlen=max_samples)
        self._lock = threading.Lock()
        self.export_counter = export_counter
        self.export_every_s = export_every_s
        self._counter = None
        self._unexported = {True: 0, False: 0}
        self._export_due = False

    def _export(self) -> None:
        """Add the answers counted since the last export to a counter made by
        `export_counter()` on first use (in a Serve replica: the application's own metric,
        serve_metrics.answers_counter), tagged anomalous "true" / "false". A Ray counter's
        inc costs about 70 us, so the answers are added at most once per `export_every_s`
        (Ray itself exports every few seconds), not once per request."""
        self._export_due = False
        if self._counter is None:
            self._counter = self.export_counter()
        for anomalous, n in self._unexported.items():
            if n:
                self._unexported[anomalous] = 0
                self._counter.inc(n, tags={"anomalous": "true" if anomalous else "false"})

    def _count_for_export(self, anomalous: bool) -> None:
        self._unexported[bool(anomalous)] += 1
        if self._export_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop: no timer to wait for
            return self._export()
        self._export_due = True
        loop.call_later(self.export_every_s, self._export)

    def record(self, latency_s: float, status: int, anomalous: bool | None) -> None:
        now = self.clock()
        with self._lock:
            self.requests += 1
            if 200 <= status < 300:
                self.answered += 1
                self.anomalous += bool(anomalous)
            elif status < 500:
                self.client_errors += 1
            else:
                self.server_errors += 1
            self._recent.append((now, latency_s * 1000.0, status, bool(anomalous)))
        if self.export_counter is not None and 200 <= status < 300 and anomalous is not None:
            self._count_for_export(anomalous)

    def snapshot(self) -> dict:
        now = self.clock()
        with self._lock:
            while self._recent and self._recent[0][0] < now - self.keep_s:
                self._recent.popleft()
            recent = list(self._recent)
            totals = {
                "requests": self.requests, "answered": self.answered,
                "client_errors": self.client_errors, "server_errors": self.server_errors,
                "anomalous": self.anomalous,
            }  # fmt: skip
        t = np.array([r[0] for r in recent])
        ms = np.array([r[1] for r in recent])
        ok = np.array([200 <= r[2] < 300 for r in recent], bool)
        flag = np.array([r[3] for r in recent], bool)
        last_minute = t >= now - 60.0 if len(t) else np.zeros(0, bool)
        first = np.floor((now - self.keep_s) / self.bucket_s) * self.bucket_s
        n_buckets = int(np.floor((now - first) / self.bucket_s)) + 1  # the last one holds now
        edges = first + self.bucket_s * np.arange(n_buckets + 1)
        series = {k: [] for k in ("time", "requests", "p50", "p95", "p99", "anomalous_share")}
        which = np.searchsorted(edges, t, side="right") - 1 if len(t) else np.zeros(0, int)
        for i, start in enumerate(edges[:-1]):
            if start + self.bucket_s < self.started:
                continue
            mine = which == i
            series["time"].append(int(start))
            series["requests"].append(int(mine.sum()))
            for k, v in percentiles(ms[mine]).items():
                series[k].append(v)
            answered = mine & ok
            series["anomalous_share"].append(
                round(float(flag[answered].mean()), 4) if answered.any() else None
            )
        return {
            "source": "in-process counters of this server",
            "since": int(self.started),
            "now": int(now),
            "totals": totals,
            "anomalous_share": round(totals["anomalous"] / totals["answered"], 4)
            if totals["answered"] else None,
            "last_minute": {
                "requests": int(last_minute.sum()),
                "requests_per_s": round(float(last_minute.sum()) / 60.0, 3),
                "latency_ms": percentiles(ms[last_minute]),
            },
            "window_s": self.keep_s,
            "latency_ms": percentiles(ms),
            "bucket_s": self.bucket_s,
            "series": series,
        }  # fmt: skip


class LiveMetricsMiddleware:
    """ASGI middleware: records every POST to the recommend path into `metrics`."""

    def __init__(self, app, metrics: LiveMetrics, path: str = RECOMMEND_PATH):
        self.app = app
        self.metrics = metrics
        self.path = path

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope.get("method") != "POST"
                or not scope.get("path", "").endswith(self.path)):  # fmt: skip
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        state = {"status": 500, "anomalous": None, "tail": b""}

        async def watch(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body" and state["anomalous"] is None:
                chunk = state["tail"] + message.get("body", b"")
                found = _ANOMALOUS.search(chunk)
                if found:
                    state["anomalous"] = found.group(1) == b"true"
                state["tail"] = chunk[-40:]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.metrics.record(time.perf_counter() - started, state["status"],
                                state["anomalous"])  # fmt: skip
