"""The dashboard as the Serve graph serves it (the demo's run on the session's cluster), in
headless Chromium: every panel draws, the live panel reads the Serve application's own
metrics (Ray's Prometheus export), and the console stays clean."""

from __future__ import annotations

import pandas as pd
import pytest
import requests
from browser_support import Console, screenshot

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHARTS = (
    "chart-flagged", "chart-detection", "chart-distribution", "chart-user-score",
    "chart-user-weights", "chart-acc-all", "chart-live-requests", "chart-live-latency",
)  # fmt: skip
POINTS = """() => Object.fromEntries(Object.entries(window.adrecCharts).map(([id, c]) => [id,
  Math.max(0, ...c.data.datasets.map(d => d.data.filter(v => v !== null && (typeof v !==
  'object' || (v.y !== null && v.y !== undefined))).length))]))"""


def test_the_serve_graph_serves_the_dashboard_with_its_own_metrics(demo_run, chromium):
    _, run_dir, base = demo_run
    scored = pd.read_parquet(run_dir / "scores.parquet")["user_id"].unique()
    users = scored[:12]
    with requests.Session() as s:
        for u in users:
            r = s.post(f"{base}/v1/recommend", json={"user_id": int(u), "k": 5}, timeout=60)
            assert r.status_code == 200, r.text
    api = requests.get(f"{base}/dashboard/api/summary", timeout=120)
    assert api.status_code == 200 and api.json()["scored_users"] == len(scored)
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    console = Console(page)
    try:
        page.goto(f"{base}/dashboard/")
        page.wait_for_function(
            "() => window.adrecReady && adrecReady.population && adrecReady.user && "
            "adrecReady.accuracy && adrecReady.live", timeout=120_000
        )  # fmt: skip
        # Ray exports metrics every few seconds and the page polls every 5 s
        page.wait_for_function(
            "() => document.querySelector('#live-note').textContent.includes(\"Ray Serve's\") "
            "&& Number(document.querySelector('#live-tiles .tile .v').textContent"
            f".replace(/,/g, '')) >= {len(users)} "
            "&& adrecCharts['chart-live-requests'].data.labels.length > 0", timeout=90_000
        )  # fmt: skip
        points = page.evaluate(POINTS)
        for chart in CHARTS:
            assert points.get(chart, 0) > 0, (chart, points)
        screenshot(page, "dashboard-serve")
        assert console.errors == []
    finally:
        context.close()
