"""What the dashboard's live numbers cost the Serve path, on a local Ray cluster it starts and
stops (Serve's HTTP proxy on --port).

1. The middleware (adrec.dashboard.live.LiveMetricsMiddleware) runs on every request. The
   ingress's whole API stack (adrec.serving.http.create_api over a recommend that returns a
   fixed body: parsing, validation, routing, the body limit) is timed in-process, without
   the dashboard, with `live=True` (in-process counters) and with the Serve ingress's
   `serve_metrics.live_metrics()` (the counters and the Ray counter of anomalous answers),
   interleaved; the median per request.
2. The live panel's scrape (adrec.distributed.serve_metrics) runs in the ingress replica's
   thread pool when a page polls: a small Serve app answers some requests, then one node's
   Prometheus export is fetched and parsed whole and with only the lines the panel reads.

    RAY_AUTH_MODE=disabled uv run python benchmarks/dashboard_overhead.py [--port 8231]

Prints a Markdown report. The served graph itself answers a request in milliseconds
(benchmarks/serve_load.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
from typing import Annotated

import typer

BODY = json.dumps(
    {"user_id": 1, "known_user": True, "at": "2026-01-01T00:00:00Z",
     "anomaly": {"score": 0.1, "calibrated": 0.7, "threshold": 0.0, "is_anomalous": True,
                 "has_window": True},
     "items": [{"item_id": i, "score": 0.5, "source": "long_term"} for i in range(10)],
     "ignored_events": []}, separators=(",", ":"),
).encode()  # fmt: skip
REQUEST = b'{"user_id": 1, "k": 10}'
SCOPE = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
         "scheme": "http", "path": "/v1/recommend", "raw_path": b"/v1/recommend",
         "root_path": "", "query_string": b"", "client": ("127.0.0.1", 1),
         "server": ("127.0.0.1", 80),
         "headers": [(b"content-type", b"application/json"),
                     (b"content-length", str(len(REQUEST)).encode())]}  # fmt: skip


def api(live):
    from adrec.dashboard import mount_dashboard
    from adrec.serving.http import create_api

    async def recommend(request) -> bytes:
        return BODY

    async def health() -> dict:
        return {}

    app = create_api(recommend, health)
    return app if live is None else mount_dashboard(app, run_dir=None, **_live(live))


def _live(live) -> dict:
    """mount_dashboard's live arguments: True, or "serve" for what the Serve ingress uses."""
    if live != "serve":
        return {"live": live}
    from adrec.distributed.serve_metrics import live_metrics

    counters, view = live_metrics()
    return {"live": counters, "live_view": view}


async def _once(app) -> float:
    async def receive():
        return {"type": "http.request", "body": REQUEST, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(message)

    t0 = time.perf_counter()
    await app({**SCOPE, "state": {}}, receive, send)
    return time.perf_counter() - t0


async def middleware_us(n: int, rounds: int) -> dict[str, list[float]]:
    apps = {"no dashboard": api(None), "live=True": api(True), 'live="serve"': api("serve")}
    out = {k: [] for k in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            for _ in range(200):
                await _once(app)
            times = [await _once(app) for _ in range(n)]
            out[name].append(statistics.median(times) * 1e6)
    return out


def scrape_cost(port: int, requests_n: int = 200) -> dict:
    import requests
    from fastapi import FastAPI
    from prometheus_client.parser import text_string_to_metric_families
    from ray import serve

    from adrec.dashboard import mount_dashboard
    from adrec.distributed.serve_metrics import metrics_urls, parse, relevant

    app = FastAPI()

    @app.post("/v1/recommend")
    def recommend() -> dict:
        return {"anomaly": {"is_anomalous": True}}

    mount_dashboard(app, run_dir=None, **_live("serve"))

    @serve.deployment
    @serve.ingress(app)
    class Ingress:
        pass

    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(Ingress.bind(), name="adrec", route_prefix="/")
    with requests.Session() as s:
        for _ in range(requests_n):
            s.post(f"http://127.0.0.1:{port}/v1/recommend", json={}, timeout=30)
    time.sleep(12)  # Ray exports metrics every few seconds
    url = metrics_urls()[0]
    t0 = time.perf_counter()
    text = requests.get(url, timeout=10).text
    fetch = time.perf_counter() - t0

    def best_ms(fn, n=10) -> float:
        best = float("inf")
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best * 1e3

    whole = best_ms(lambda: [list(f.samples) for f in text_string_to_metric_families(text)])
    parsed = parse(text, "adrec", "/v1/recommend")
    return {
        "bytes": len(text),
        "lines": len(text.splitlines()),
        "kept_lines": len(relevant(text).splitlines()),
        "fetch_ms": fetch * 1e3,
        "parse_whole_ms": whole,
        "parse_relevant_ms": best_ms(lambda: parse(text, "adrec", "/v1/recommend")),
        "requests_seen": sum(parsed["requests"].values()),
        "live_api_ms": _fresh_polls_ms(f"http://127.0.0.1:{port}/dashboard/api/live"),
        "cached_api_ms": best_ms(
            lambda: requests.get(f"http://127.0.0.1:{port}/dashboard/api/live", timeout=30), 5
        ),
    }


def _fresh_polls_ms(url: str, n: int = 5) -> float:
    """The median time of a live poll that scrapes (each past the 2 s the answer is kept)."""
    import requests

    times = []
    for _ in range(n):
        time.sleep(2.2)
        t0 = time.perf_counter()
        requests.get(url, timeout=30).raise_for_status()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main(
    port: Annotated[int, typer.Option(help="Serve's HTTP port for the scrape part.")] = 8231,
    n: Annotated[int, typer.Option(help="Requests per timing round.")] = 2000,
    rounds: Annotated[int, typer.Option(help="Interleaved rounds (best median kept).")] = 5,
) -> None:
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        us = asyncio.run(middleware_us(n, rounds))  # in the driver, a Ray worker: counters work
        scrape = scrape_cost(port)
    finally:
        from ray import serve

        serve.shutdown()
        ray.shutdown()
    base = min(us["no dashboard"])
    lines = [
        "# The dashboard's live numbers: cost to the Serve path",
        "",
        f"{platform.node()}, {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; Python {platform.python_version()}, "
        f"Ray {ray.__version__}.",
        "",
        f"## Per request: the ingress's API stack in-process (median of {n}, best of {rounds})",
        "",
        "| ingress app | us per request | added by the dashboard |",
        "|---|---:|---:|",
        *(f"| {k} | {min(v):.1f} | {min(v) - base:+.1f} |" for k, v in us.items()),
        "",
        "## Per poll of the live panel (in the ingress replica's thread pool; at most one "
        "scrape per 2 s)",
        "",
        f"One node's Prometheus export: {scrape['bytes']:,} bytes, {scrape['lines']:,} lines, "
        f"{scrape['kept_lines']} of them read by the panel "
        f"({scrape['requests_seen']:.0f} requests counted).",
        "",
        "| step | ms |",
        "|---|---:|",
        f"| fetch the export | {scrape['fetch_ms']:.1f} |",
        f"| parse the whole export (before) | {scrape['parse_whole_ms']:.1f} |",
        f"| parse the panel's lines (now) | {scrape['parse_relevant_ms']:.1f} |",
        f"| GET /dashboard/api/live, scraping (median of 5) | {scrape['live_api_ms']:.1f} |",
        f"| GET /dashboard/api/live, the kept answer (best of 5) | {scrape['cached_api_ms']:.1f} |",
    ]
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
