"""The dashboard as the Serve graph serves it (the demo's run on the session's cluster), in
headless Chromium: every panel draws, the live panel reads the Serve application's own
metrics (Ray's Prometheus export), and the console stays clean."""

from __future__ import annotations

import time
from datetime import UTC, datetime

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


LIVE_COUNT = (
    "() => Number(document.querySelector('#live-tiles .tile .v').textContent.replace(/,/g, ''))"
)


# the requests the live series holds (its first dataset: requests per interval)
SERIES = "() => adrecCharts['chart-live-requests'].data.datasets[0].data.reduce((a, b) => a + b, 0)"


def recommend(base: str, users, at: dict | None = None) -> list[bool]:
    """POST each user (at the time `at` gives, if any); their answers' is_anomalous flags."""
    flags = []
    at = at or {}
    with requests.Session() as s:
        for u in users:
            body = {"user_id": int(u), "k": 5}
            if u in at:
                body["at"] = datetime.fromtimestamp(at[u], UTC).strftime("%Y-%m-%dT%H:%M:%S")
            r = s.post(f"{base}/v1/recommend", json=body, timeout=60)
            assert r.status_code == 200, r.text
            flags.append(r.json()["anomaly"]["is_anomalous"])
    return flags


def counted(base: str, anomalous: int, timeout_s: float = 60) -> dict:
    """The live numbers once the Serve metrics hold at least `anomalous` anomalous answers
    (the counter and Serve's own metrics are exported by different processes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        live = requests.get(f"{base}/dashboard/api/live", timeout=60).json()
        if live["totals"]["anomalous"] >= anomalous or time.monotonic() > deadline:
            return live
        time.sleep(2)


def test_the_serve_graph_serves_the_dashboard_with_its_own_metrics(demo_run, chromium):
    """Also the README's screenshot (docs/dashboard-serve.png, with ADREC_SCREENSHOT_DIR=docs):
    a user with a planted life event that the detector flagged, and two bursts of traffic."""
    _, run_dir, base = demo_run
    scores = pd.read_parquet(run_dir / "scores.parquet")
    scored = scores["user_id"].unique()
    # the first burst asks for the flagged users at the time of their highest window (an
    # anomalous answer where that window lies in the served log), for the anomalous share
    peak = scores.loc[scores.groupby("user_id")["calibrated"].idxmax()].set_index("user_id")
    users = list(peak["calibrated"].sort_values(ascending=False).index)
    first, second = users[: len(users) // 2], users[len(users) // 2 :]
    api = requests.get(f"{base}/dashboard/api/summary", timeout=120)
    assert api.status_code == 200 and api.json()["scored_users"] == len(scored)
    listed = requests.get(f"{base}/dashboard/api/users", timeout=60).json()["users"]
    shown = next((u for u in listed if u["event"] and u["flagged"]), listed[0])
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    console = Console(page)
    try:
        page.goto(f"{base}/dashboard/")
        page.wait_for_function(
            "() => window.adrecReady && adrecReady.population && adrecReady.user && "
            "adrecReady.accuracy && adrecReady.live", timeout=120_000
        )  # fmt: skip
        # Two bursts of traffic after the page's first live sample. Ray exports metrics every
        # few seconds, the page polls every 5 s and the series keeps a sample per 10 s: the
        # second burst is sent once a sample holds the first, so it lands in a later interval.
        flags = recommend(base, first, peak.loc[peak["calibrated"] >= 0.5, "time"].to_dict())
        page.wait_for_function(
            "() => document.querySelector('#live-note').textContent.includes(\"Ray Serve's\") "
            f"&& ({LIVE_COUNT})() >= {len(first)} && ({SERIES})() >= {len(first)}",
            timeout=90_000,
        )  # fmt: skip
        flags += recommend(base, second)
        page.wait_for_function(
            f"() => ({LIVE_COUNT})() >= {len(users)} && ({SERIES})() >= {len(users)} && "
            "adrecCharts['chart-live-requests'].data.datasets[0].data.filter(v => v).length >= 2",
            timeout=90_000,
        )  # fmt: skip
        # the anomalous answers the middleware counted in the Serve metrics are the answers'
        # own flags (other tests' and the demo's requests may add to both)
        live = counted(base, sum(flags))
        assert live["totals"]["anomalous"] >= sum(flags), (live["totals"], sum(flags))
        calm = live["totals"]["answered"] - live["totals"]["anomalous"]
        assert calm >= len(flags) - sum(flags), (live["totals"], sum(flags))
        # the picker draws the user clicked
        page.locator(f"#user-list li[data-key='{shown['key']}']").click()
        page.wait_for_function(f"() => window.adrecReady.user === {shown['key']!r}")
        assert f"User {shown['user_id']}" in page.locator("#user-line").inner_text()
        points = page.evaluate(POINTS)
        for chart in CHARTS:
            assert points.get(chart, 0) > 0, (chart, points)
        screenshot(page, "dashboard-serve")
        assert console.errors == []
    finally:
        context.close()
