"""The dashboard in a real browser (headless Chromium through Playwright): served by the plain
app over a run of 10,000 users, and as the offline report of `adrec report`.

Each test checks that every chart drew data, that the console shows no error, and saves a
screenshot under reports/browser/."""

from __future__ import annotations

import time

import pytest
import requests
from browser_support import screenshot

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

POPULATION = ("chart-flagged", "chart-detection", "chart-distribution")
USER = ("chart-user-score", "chart-user-weights")
ACCURACY = ("chart-acc-all", "chart-acc-shifting")
LIVE = ("chart-live-requests", "chart-live-latency")

# how many points each chart draws, per dataset (Chart.js keeps them on the chart object)
POINTS = """() => Object.fromEntries(Object.entries(window.adrecCharts).map(([id, c]) => [id,
  c.data.datasets.map(d => d.data.filter(v => v !== null && (typeof v !== 'object' ||
  (v.y !== null && v.y !== undefined))).length)]))"""


def wait_ready(page, *parts: str, timeout_s: float = 60) -> None:
    checks = " && ".join(f"window.adrecReady.{p}" for p in parts)
    page.wait_for_function(f"() => window.adrecReady && {checks}", timeout=timeout_s * 1000)


def drawn(page) -> dict[str, list[int]]:
    return page.evaluate(POINTS)


def assert_charts_have_data(page, ids) -> None:
    points = drawn(page)
    for chart_id in ids:
        assert chart_id in points, f"{chart_id} was not drawn"
        assert max(points[chart_id]) > 0, f"{chart_id} has no data: {points[chart_id]}"
        box = page.locator(f"#{chart_id}").bounding_box()
        assert box and box["width"] > 200 and box["height"] > 150, (chart_id, box)


def user_series(page) -> dict:
    return page.evaluate("""() => { const c = window.adrecCharts['chart-user-score'];
      return {user: window.adrecReady.user, points: c.data.datasets[0].data}; }""")


def recommend(base: str, users: list[int]) -> None:
    with requests.Session() as s:
        for u in users:
            r = s.post(f"{base}/v1/recommend", json={"user_id": u, "k": 5}, timeout=30)
            assert r.status_code == 200, r.text


def test_served_dashboard_shows_every_panel_with_data(plain_app, page):
    base, _ = plain_app
    recommend(base, list(range(1, 41)))  # traffic for the live panel
    started = time.perf_counter()
    response = page.goto(f"{base}/dashboard")  # redirected to /dashboard/
    assert response.ok and page.url.endswith("/dashboard/")
    wait_ready(page, "summary", "population", "user")
    first_view_s = time.perf_counter() - started
    wait_ready(page, "accuracy", "live", timeout_s=120)
    assert_charts_have_data(page, POPULATION + USER + ACCURACY + LIVE)
    facts = page.locator("#run-facts").inner_text()
    assert "10,000" in facts and "iforest" in facts
    tiles = page.locator("#live-tiles").inner_text()
    assert "requests" in tiles and "latency p99" in tiles
    assert int(page.locator("#live-tiles .tile .v").first.inner_text().replace(",", "")) >= 40
    # the threshold is drawn: a dataset on the user's chart, a marker on the distribution
    labels = page.evaluate("() => adrecCharts['chart-user-score'].data.datasets.map(d => d.label)")
    assert "threshold (0.5)" in labels
    marker = page.evaluate("() => adrecCharts['chart-distribution'].options.plugins.adrecMarkers")
    assert marker["vlines"][0]["x"] == 0.5
    screenshot(page, "dashboard-served")
    assert page.console.errors == []
    # 10,000 users: the first view came quickly (per-user series are loaded on demand)
    assert first_view_s < 20, first_view_s


def test_user_picker_search_changes_the_series(plain_app, page):
    base, _ = plain_app
    page.goto(f"{base}/dashboard/")
    wait_ready(page, "summary", "population", "user")
    before = user_series(page)
    page.fill("#user-search", "9876")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#user-list li')].some(li => li.dataset.key === "
        "'9876')"
    )
    assert "of 10,000 users" in page.locator("#user-count").inner_text()
    page.press("#user-search", "Enter")  # the exact match comes first
    page.wait_for_function("() => window.adrecReady.user === '9876'")
    after = user_series(page)
    assert after["user"] != before["user"] and after["points"] != before["points"]
    assert "User 9876" in page.locator("#user-line").inner_text()
    # a click on another user in the list draws that user
    page.fill("#user-search", "")
    page.wait_for_function("() => document.querySelectorAll('#user-list li').length === 50")
    other = page.locator("#user-list li").nth(1)
    key = other.get_attribute("data-key")
    other.click()
    page.wait_for_function(f"() => window.adrecReady.user === '{key}'")
    assert user_series(page)["points"] != after["points"]
    assert_charts_have_data(page, USER)
    screenshot(page, "dashboard-user-picked")
    assert page.console.errors == []


def test_ten_thousand_users_stay_responsive(plain_app, page):
    """The page never loads all users: the picker asks for 50 matches, a user's series is
    one small request; both answer fast over the 10,000-user run."""
    base, _ = plain_app
    responses = []
    page.on("response", lambda r: responses.append(r))
    page.goto(f"{base}/dashboard/")
    wait_ready(page, "summary", "population", "user")
    timings = []
    for query in ("12", "345", "9999", "5"):
        started = time.perf_counter()
        page.fill("#user-search", query)
        page.press("#user-search", "Enter")
        page.wait_for_function(
            f"() => window.adrecReady.user && document.querySelector('#user-list li') && "
            f"document.querySelector('#user-list li').dataset.key.includes('{query}') && "
            f"window.adrecReady.user === document.querySelector('#user-list li').dataset.key"
        )
        timings.append(time.perf_counter() - started)
    assert max(timings) < 5, timings
    # the picker's answers hold 50 users, not 10,000; a user's series is one small answer
    sizes = {r.url.split("/dashboard/")[-1]: len(r.body()) for r in responses if r.ok}
    searches = [size for url, size in sizes.items() if url.startswith("api/users?")]
    series = [size for url, size in sizes.items() if url.startswith("api/users/")]
    assert searches and max(searches) < 20_000, sizes
    assert series and max(series) < 50_000, sizes
    assert page.console.errors == []


def test_report_opens_offline_with_every_panel(dashboard_run, page, tmp_path):
    """`adrec report` writes one file; it renders with no network at all."""
    from typer.testing import CliRunner

    from adrec.cli import app

    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--run-dir", str(dashboard_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    outside = []

    def only_the_file(route):
        if route.request.url.startswith("file:") or route.request.url.startswith("data:"):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    page.route("**/*", only_the_file)
    page.goto(out.as_uri())
    wait_ready(page, "summary", "population", "user", "accuracy")
    assert_charts_have_data(page, POPULATION + USER + ("chart-acc-all",))
    assert "snapshot of the run directory" in page.locator("#live-note").inner_text()
    before = user_series(page)
    last = page.locator("#user-list li").last
    key = last.get_attribute("data-key")
    assert key != before["user"]
    page.fill("#user-search", key)
    page.press("#user-search", "Enter")
    page.wait_for_function(f"() => window.adrecReady.user === '{key}'")
    assert user_series(page)["points"] != before["points"]
    screenshot(page, "dashboard-report")
    assert outside == [] and page.console.errors == []


def test_the_report_shows_the_services_live_numbers_as_they_were(
    dashboard_run, plain_app, page, tmp_path
):
    """`adrec report --live URL`: the live panel from a running service (here the plain app),
    drawn offline from the numbers of that moment, with no polling."""
    from typer.testing import CliRunner

    from adrec.cli import app

    base, _ = plain_app
    recommend(base, list(range(100, 112)))
    out = tmp_path / "live.html"
    args = ["report", "--run-dir", str(dashboard_run), "--out", str(out), "--live", base]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    outside = []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
               else (outside.append(r.request.url), r.abort()))  # fmt: skip
    page.goto(out.as_uri())
    wait_ready(page, "summary", "population", "user", "accuracy", "live")
    assert_charts_have_data(page, LIVE)
    assert "when this report was written" in page.locator("#live-note").inner_text()
    assert int(page.locator("#live-tiles .tile .v").first.inner_text().replace(",", "")) >= 12
    page.wait_for_timeout(6000)  # longer than the served page's poll: nothing is asked
    assert outside == [] and page.evaluate("window.adrecReady.live") == 1
    screenshot(page, "dashboard-report-live")
    assert page.console.errors == []


def test_the_report_of_ten_thousand_users_opens_quickly(wide_run, page, tmp_path):
    """Every user's series is in the one file (compressed, unpacked on the first pick)."""
    from adrec.dashboard.report import write_report

    out = write_report(wide_run, tmp_path / "wide.html", log=lambda m: None)
    assert out.stat().st_size < 25e6
    started = time.perf_counter()
    page.goto(out.as_uri())
    wait_ready(page, "summary", "population", "user", "accuracy")
    opened_s = time.perf_counter() - started
    timings = []
    for query in ("9876", "123"):
        started = time.perf_counter()
        page.fill("#user-search", query)
        page.press("#user-search", "Enter")
        page.wait_for_function(f"() => window.adrecReady.user === '{query}'")
        timings.append(time.perf_counter() - started)
    assert "of 10,000 users" in page.locator("#user-count").inner_text()
    assert opened_s < 20 and max(timings) < 5, (opened_s, timings)
    assert page.console.errors == []
