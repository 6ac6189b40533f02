"""The live service's numbers from the Serve application's own metrics.

Ray Serve records, for every HTTP request its proxies answer, `ray_serve_num_http_requests`
(by application, route and status code) and the histogram `ray_serve_http_request_latency_ms`;
Ray exports them, with the application's own metrics, in Prometheus' text format on each
node's metrics port. The anomalous share comes from a counter of the application's own
(`adrec_recommend_answers`, by `anomalous`), which the dashboard's middleware keeps in the
ingress replicas (LiveMetrics with `export_counter=answers_counter`: `live_metrics()`).

`ServeMetrics.snapshot()` scrapes every alive node, sums over proxies and replicas, and
keeps a sample per `bucket_s` seconds to draw the series; it answers in the same shape as
LiveMetrics.snapshot(). Ray exports metrics every few seconds, so the numbers lag by that
much. Where no node answers it says so and falls back to the in-process counters.

Cost to the service: the scrape runs in an ingress replica's thread pool, so it competes with
the requests for the replica's CPU. A node's export is large (about 2,000 lines, 600 kB on a
one-node test cluster); only the lines of the three metrics above are parsed (`relevant`:
about 1 ms instead of 30 ms of pure-Python parsing), and however many pages poll, a replica
scrapes at most once per `min_interval_s` (the answer is shared in between).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from adrec.dashboard.live import LiveMetrics

ANSWERS_METRIC = "adrec_recommend_answers"
REQUESTS = "ray_serve_num_http_requests"
LATENCY = "ray_serve_http_request_latency_ms"


def answers_counter():
    """The application's counter of recommend answers by `anomalous` (made in a replica)."""
    from ray.serve.metrics import Counter

    what = "recommend answers by whether the user's behaviour was anomalous"
    return Counter(ANSWERS_METRIC, description=what, tag_keys=("anomalous",))


def live_metrics() -> tuple[LiveMetrics, ServeMetrics]:
    """For mount_dashboard in an ingress replica: the replica's counters (which also export
    the anomalous answers) and the view that the dashboard shows (the application's metrics,
    those counters where no node's metrics answer)."""
    counters = LiveMetrics(export_counter=answers_counter)
    return counters, ServeMetrics(fallback=counters)


def metrics_urls() -> list[str]:
    """The Prometheus endpoint of every alive node of the connected Ray cluster."""
    import ray

    return [
        f"http://{n['NodeManagerAddress']}:{n['MetricsExportPort']}/metrics"
        for n in ray.nodes()
        if n.get("Alive") and n.get("MetricsExportPort")
    ]


_NAMES = (REQUESTS, LATENCY, ANSWERS_METRIC, f"ray_{ANSWERS_METRIC}")


def relevant(text: str) -> str:
    """The lines of Prometheus text that `parse` reads: the samples of the three metrics and
    their `# HELP` / `# TYPE` lines (both prefixes are 7 characters long)."""
    keep = [
        line
        for line in text.splitlines()
        if line.startswith(_NAMES) or (line.startswith("# ") and line[7:].startswith(_NAMES))
    ]
    return "\n".join(keep) + "\n"


def parse(text: str, app: str, route: str) -> dict:
    """Totals of one application's route from Prometheus text: requests by status class,
    latency histogram (cumulative counts by upper bound, ms) and answers by anomalous."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {"requests": {}, "buckets": {}, "latency_sum": 0.0, "answers": {}}
    for family in text_string_to_metric_families(relevant(text)):
        for s in family.samples:
            labels = s.labels
            if labels.get("application") not in (None, app):
                continue
            name = s.name
            on_route = labels.get("route", "").endswith(route)
            if name == f"{REQUESTS}_total" and on_route:
                code = labels.get("status_code", "")
                key = f"{code[:1]}xx" if code[:1].isdigit() else "other"
                out["requests"][key] = out["requests"].get(key, 0.0) + s.value
            elif name == f"{LATENCY}_bucket" and on_route:
                le = float(labels["le"])
                out["buckets"][le] = out["buckets"].get(le, 0.0) + s.value
            elif name == f"{LATENCY}_sum" and on_route:
                out["latency_sum"] += s.value
            elif name.endswith(f"{ANSWERS_METRIC}_total"):
                key = labels.get("anomalous", "unknown")
                out["answers"][key] = out["answers"].get(key, 0.0) + s.value
    return out


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated inside its bucket (as
    Prometheus' histogram_quantile does); None without observations."""
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, count
    return lower


def _minus(a: dict[float, float], b: dict[float, float]) -> dict[float, float]:
    return {k: max(v - b.get(k, 0.0), 0.0) for k, v in a.items()}


def _pcts(buckets: dict[float, float]) -> dict[str, float | None]:
    out = {}
    for q in (50, 95, 99):
        v = quantile(buckets, q / 100)
        out[f"p{q}"] = None if v is None else round(v, 2)
    return out


class ServeMetrics:
    """Live numbers of one Serve application from Ray's Prometheus endpoints. `app_name`:
    the application (default: the one this replica belongs to); `urls`: a callable giving
    the endpoints (default: every alive node's); `fallback`: an object with snapshot() for
    when no endpoint answers; `min_interval_s`: the youngest snapshot is answered again until
    it is that old (pages poll every 5 s; Ray exports every few seconds)."""

    def __init__(self, app_name: str | None = None, route: str = "/v1/recommend",
                 urls: Callable[[], list[str]] = metrics_urls, fallback=None,
                 bucket_s: float = 10.0, keep_s: float = 600.0, clock=time.time,
                 min_interval_s: float = 2.0):  # fmt: skip
        self.app_name = app_name
        self.min_interval_s = min_interval_s
        self._last: tuple[float, dict] | None = None
        self._scraping = threading.Lock()
        self.route = route
        self.urls = urls
        self.fallback = fallback
        self.bucket_s = bucket_s
        self.keep_s = keep_s
        self.clock = clock
        self.started = clock()
        self._samples: deque[tuple[float, dict]] = deque()
        self._lock = threading.Lock()

    def _app(self) -> str:
        if self.app_name is None:
            from ray import serve

            self.app_name = serve.get_replica_context().app_name
        return self.app_name

    def scrape(self) -> dict:
        import requests

        totals = {"requests": {}, "buckets": {}, "latency_sum": 0.0, "answers": {}}
        answered = 0
        for url in self.urls():
            try:
                text = requests.get(url, timeout=3).text
            except requests.RequestException:
                continue
            answered += 1
            part = parse(text, self._app(), self.route)
            for key in ("requests", "buckets", "answers"):
                for k, v in part[key].items():
                    totals[key][k] = totals[key].get(k, 0.0) + v
            totals["latency_sum"] += part["latency_sum"]
        totals["endpoints"] = answered
        return totals

    def snapshot(self) -> dict:
        with self._scraping:  # one scrape at a time; the pages waiting share its answer
            now = self.clock()
            if self._last is not None and 0 <= now - self._last[0] < self.min_interval_s:
                return self._last[1]
            out = self._snapshot(now)
            self._last = (now, out)
            return out

    def _snapshot(self, now: float) -> dict:
        try:
            current = self.scrape()
        except Exception as exc:  # noqa: BLE001 - no Ray, no endpoint: say so
            current, error = None, f"{type(exc).__name__}: {exc}"
        else:
            error = None if current["endpoints"] else "no node's metrics endpoint answered"
        if current is None or not current["endpoints"]:
            out = self.fallback.snapshot() if self.fallback is not None else {"source": None}
            out["note"] = f"Serve metrics unavailable ({error}); " + (
                "showing this replica's own counters" if self.fallback else "no live numbers"
            )
            return out
        with self._lock:
            if not self._samples or now - self._samples[-1][0] >= self.bucket_s:
                self._samples.append((now, current))
            while len(self._samples) > 2 and self._samples[0][0] < now - self.keep_s:
                self._samples.popleft()
            samples = list(self._samples)
        return self._describe(now, current, samples)

    def _describe(self, now: float, current: dict, samples: list[tuple[float, dict]]) -> dict:
        req = current["requests"]
        answers = current["answers"]
        anomalous = answers.get("true", 0.0)
        judged = anomalous + answers.get("false", 0.0)
        first = samples[0][1]
        minute_t, minute = next(((t, s) for t, s in samples if t >= now - 60.0), samples[-1])
        minute_n = sum(req.values()) - sum(minute["requests"].values())
        span = now - minute_t
        series = {k: [] for k in ("time", "requests", "p50", "p95", "p99", "anomalous_share")}
        for (t0, a), (_, b) in zip(samples, samples[1:], strict=False):
            series["time"].append(int(t0))
            n = sum(b["requests"].values()) - sum(a["requests"].values())
            series["requests"].append(int(n))
            for k, v in _pcts(_minus(b["buckets"], a["buckets"])).items():
                series[k].append(v)
            yes = b["answers"].get("true", 0.0) - a["answers"].get("true", 0.0)
            all_ = yes + b["answers"].get("false", 0.0) - a["answers"].get("false", 0.0)
            series["anomalous_share"].append(round(yes / all_, 4) if all_ > 0 else None)
        return {
            "source": f"Ray Serve's metrics of application {self._app()!r} (Prometheus, "
                      f"{current['endpoints']} node(s); Ray exports them every few seconds)",
            "since": int(self.started),
            "now": int(now),
            "totals": {
                "requests": int(sum(req.values())), "answered": int(req.get("2xx", 0)),
                "client_errors": int(req.get("4xx", 0)), "server_errors": int(req.get("5xx", 0)),
                "anomalous": int(anomalous),
            },
            "anomalous_share": round(anomalous / judged, 4) if judged else None,
            "last_minute": {
                "requests": int(minute_n),
                "requests_per_s": round(minute_n / span, 3) if span >= 1.0 else None,
                "latency_ms": _pcts(_minus(current["buckets"], minute["buckets"])),
            },
            "window_s": self.keep_s,
            "latency_ms": _pcts(_minus(current["buckets"], first["buckets"]))
            if len(samples) > 1 else _pcts(current["buckets"]),
            "bucket_s": self.bucket_s,
            "series": series,
        }  # fmt: skip
