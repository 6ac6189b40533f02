"""The dashboard without a browser: its series, accuracy intervals, live counters, page and
report, and the router over a real fitted run (tests/dashboard_run.py)."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adrec.cli import app as cli
from adrec.dashboard import RunData, accuracy_by_month, mount_dashboard
from adrec.dashboard.accuracy import accuracy_over_time, choose_period, user_bootstrap
from adrec.dashboard.live import LiveMetrics
from adrec.dashboard.page import STATIC, embedded_json, page_html, report_html
from adrec.dashboard.series import calibrated_histogram, episodes, population_by_day

DAY = 86_400
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def _scores() -> pd.DataFrame:
    # users 1-3, windows of 3 days predicting days 10-13; user 3's life event on day 10.5 makes
    # the window at day 13 (starting day 10.9, wholly after it) a life-event window; user 3
    # scores high from day 12
    rows = [
        (u, T0 + d * DAY, T0 + int((d - 2.1) * DAY), 0.9 if (u == 3 and d >= 12) else 0.1 * u)
        for u in (1, 2, 3)
        for d in range(10, 14)
    ]
    return pd.DataFrame(rows, columns=["user_id", "time", "window_start", "calibrated"])


TRUTH = pd.DataFrame({"user_id": [3], "event_time": [pd.Timestamp(T0 + int(10.5 * DAY),
                                                                  unit="s")]})  # fmt: skip


def test_population_by_day_counts_users_flagged_and_the_rates():
    out = population_by_day(_scores(), TRUTH)
    assert list(out.index.strftime("%Y-%m-%d")) == ["2026-01-11", "2026-01-12", "2026-01-13",
                                                     "2026-01-14"]  # fmt: skip
    assert out["windows"].tolist() == [3, 3, 3, 3] and out["users"].tolist() == [3, 3, 3, 3]
    assert out["flagged_users"].tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(out["flagged_share"], [0, 0, 1 / 3, 1 / 3])
    # the event splits user 3's windows at days 11 and 12: in neither rate
    assert out["event_windows"].tolist() == [0, 0, 0, 1]
    assert out["recall"].iloc[:3].isna().all() and out["recall"].iloc[3] == 1.0
    np.testing.assert_allclose(out["false_alarm_rate"], [0, 0, 0, 0])
    np.testing.assert_allclose(out["mean_calibrated"].iloc[0], 0.2)
    plain = population_by_day(_scores())
    assert "recall" not in plain and plain["windows"].sum() == 12
    with pytest.raises(ValueError, match="window_start"):
        population_by_day(_scores().drop(columns="window_start"))


def test_a_user_flagged_twice_in_a_day_counts_once():
    s = _scores()
    s = pd.concat([s, s[s["user_id"] == 3].assign(time=lambda f: f["time"] + 3600)])
    out = population_by_day(s)
    assert out["flagged_users"].tolist() == [0, 0, 1, 1] and out["windows"].iloc[2] == 4


def test_histogram_splits_windows_by_their_label():
    h = calibrated_histogram(_scores(), TRUTH, bins=10)
    assert len(h["edges"]) == 11 and sum(h["all"]) == 12
    assert sum(h["normal"]) + sum(h["event"]) + sum(h["split"]) == 12
    assert h["event"][9] == 1 and sum(h["split"]) == 2  # 0.9 falls in the last bin
    assert "normal" not in calibrated_histogram(_scores())


def test_episodes_are_runs_of_consecutive_flagged_windows():
    rows = pd.DataFrame({"window_start": [0, 10, 20, 30, 40, 50], "time": [10, 20, 30, 40, 50, 60],
                         "calibrated": [0.1, 0.7, 0.9, 0.2, 0.6, 0.1]})  # fmt: skip
    assert episodes(rows) == [
        {"start": 10, "end": 30, "windows": 2, "peak": 0.9},
        {"start": 40, "end": 50, "windows": 1, "peak": 0.6},
    ]
    assert episodes(rows.assign(calibrated=0.0)) == []


def test_accuracy_by_month_averages_the_bench_seeds():
    def months(shift: float) -> list[dict]:
        return [{"month": m, "n": 10, "best fixed blend": 0.1 + shift, "anomaly-aware rule": 0.2}
                for m in ("1998-01", "1998-02")]  # fmt: skip

    report = {"seeds": {"0": {"ndcg@10_by_month": months(0.0)},
                        "1": {"ndcg@10_by_month": months(0.1)}}}  # fmt: skip
    out = accuracy_by_month(report)
    np.testing.assert_allclose(out["best fixed blend"], [0.15, 0.15])
    assert out["targets"].tolist() == [10, 10] and accuracy_by_month({"seeds": {}}).empty


def test_user_bootstrap_resamples_users_not_rows():
    rng = np.random.default_rng(0)
    # one user with 99 targets at 1.0, one with a single 0.0: resampling users gives means
    # of 1.0, 0.99 or 0.0 (not values near the row mean 0.99 only)
    values = np.r_[np.ones(99), 0.0]
    users = np.r_[np.zeros(99, int), 1]
    mean, low, high = user_bootstrap(values, users, 2000, rng)
    assert mean[0] == pytest.approx(0.99) and low[0] == 0.0 and high[0] == 1.0
    same, lo, hi = user_bootstrap(np.full(6, 0.5), np.arange(6), 200, rng)
    assert same[0] == lo[0] == hi[0] == 0.5
    _, lo, hi = user_bootstrap(np.ones(3), np.zeros(3, int), 200, rng)
    assert np.isnan(lo[0]) and np.isnan(hi[0])  # one user: no interval


def _targets(n_users: int = 40, days: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for u in range(n_users):
        for d in range(days):
            hit = rng.random() < 0.5
            rows.append({"user": u, "time": T0 + d * DAY + u, "calibrated": 0.9 if u < 10 else 0.1,
                         "hr@10|best fixed blend": float(hit),
                         "ndcg@10|best fixed blend": 0.5 * hit,
                         "hr@10|anomaly-aware rule": 1.0,
                         "ndcg@10|anomaly-aware rule": 0.6})  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["shifting"] = frame["calibrated"] >= 0.5
    return frame


def test_accuracy_over_time_has_a_mean_and_an_interval_per_period_and_group():
    points = _targets()
    out = accuracy_over_time(points, n_boot=300)
    assert out["period"] == "day" and out["periods"] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert out["variants"] == ["best fixed blend", "anomaly-aware rule"]
    g = out["groups"]["all"]
    assert g["targets"] == [40, 40, 40] and g["users"] == [40, 40, 40]
    fixed = g["ndcg@10"]["best fixed blend"]
    for mean, low, high in zip(fixed["mean"], fixed["low"], fixed["high"], strict=True):
        assert low <= mean <= high and high - low > 0
    assert g["hr@10"]["anomaly-aware rule"]["mean"] == [1.0, 1.0, 1.0]
    day0 = points[points["time"] < T0 + DAY]
    assert fixed["mean"][0] == pytest.approx(day0["ndcg@10|best fixed blend"].mean(), abs=1e-4)
    assert out["groups"]["shifting"]["targets"] == [10, 10, 10]
    assert out["groups"]["shifting"]["overall"]["users"] == 10
    assert g["overall"]["targets"] == 120
    json.dumps(out, allow_nan=False)  # valid JSON as it is


def test_the_period_follows_the_span_of_the_targets():
    assert choose_period(np.array([0, 10 * DAY])) == "day"
    assert choose_period(np.array([0, 60 * DAY])) == "week"
    assert choose_period(np.array([0, 400 * DAY])) == "month"
    weekly = accuracy_over_time(_targets(days=3).assign(time=lambda f: f["time"] + 0), "week")
    assert weekly["periods"] == ["2025-12-29"]  # 2026-01-01 is a Thursday


class _Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_live_metrics_count_requests_latency_and_anomalous_answers():
    clock = _Clock()
    live = LiveMetrics(bucket_s=10, keep_s=60, clock=clock)
    for i in range(10):
        clock.now += 1
        live.record(0.010 * (i + 1), 200, anomalous=i < 3)
    live.record(0.001, 422, None)
    live.record(0.002, 500, None)
    snap = live.snapshot()
    assert snap["totals"] == {"requests": 12, "answered": 10, "client_errors": 1,
                              "server_errors": 1, "anomalous": 3}  # fmt: skip
    assert snap["anomalous_share"] == 0.3
    assert snap["latency_ms"]["p50"] == pytest.approx(np.percentile(
        [1, 2, *range(10, 101, 10)], 50), abs=0.01)  # fmt: skip
    assert sum(snap["series"]["requests"]) == 12
    clock.now += 120  # past the window: the totals stay, the window empties
    later = live.snapshot()
    assert later["totals"]["requests"] == 12 and later["latency_ms"]["p99"] is None


def test_live_middleware_reads_the_answers_anomaly_flag():
    app = FastAPI()

    @app.post("/v1/recommend")
    def recommend(body: dict) -> dict:
        if body.get("bad"):
            from fastapi import HTTPException

            raise HTTPException(422, detail="bad")
        return {"anomaly": {"is_anomalous": body["flag"]}, "items": []}

    @app.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    mount_dashboard(app, run_dir=None)
    client = TestClient(app)
    for flag in (True, False, False, True):
        assert client.post("/v1/recommend", json={"flag": flag}).status_code == 200
    assert client.post("/v1/recommend", json={"bad": True}).status_code == 422
    client.get("/healthz")  # not counted
    live = client.get("/dashboard/api/live").json()
    assert live["totals"]["requests"] == 5 and live["totals"]["anomalous"] == 2
    assert live["totals"]["client_errors"] == 1 and live["anomalous_share"] == 0.5
    # no run attached yet: the data endpoints say so
    assert client.get("/dashboard/api/summary").status_code == 503


def test_the_vendored_chart_js_is_the_published_file():
    vendor = STATIC / "vendor" / "chart.js"
    readme = (vendor / "README.md").read_text()
    digest = hashlib.sha256((vendor / "chart.umd.min.js").read_bytes()).hexdigest()
    assert digest in readme and "MIT" in (vendor / "LICENSE.md").read_text()


def test_the_served_page_links_its_assets_and_nothing_outside():
    page = page_html()
    assert 'src="static/chart.umd.min.js"' in page and 'src="static/dashboard.js"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_the_report_embeds_data_that_cannot_break_out_of_its_script():
    hostile = "</script><script>alert(1)</script><!--"
    data = {"summary": {"run": hostile}, "users": [{"key": hostile}]}
    html = report_html(data, {hostile: {"time": [1]}})
    assert html.count("</script>") == 4 and "<!--" not in html.split("<body>")[1]
    assert embedded_json(html, "adrec-data") == data
    assert embedded_json(html, "adrec-users") == {hostile: {"time": [1]}}
    assert not re.search(r'(src|href)="(https?:)?//', html)


# -- over a real fitted run ------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(dashboard_run):
    app = mount_dashboard(FastAPI(), dashboard_run, warm=False)
    return TestClient(app)


def test_summary_and_population_describe_the_run(client, dashboard_run):
    s = client.get("/dashboard/api/summary").json()
    assert s["users"] == 40 and s["detector"]["name"] == "iforest"
    truth = pd.read_parquet(dashboard_run / "data" / "life_events.parquet")
    assert s["ground_truth"] and s["ground_truth_users"] == truth["user_id"].nunique() > 0
    assert s["scored_windows"] == len(pd.read_parquet(dashboard_run / "scores.parquet"))
    p = client.get("/dashboard/api/population").json()
    assert len(p["days"]) == len(p["flagged_share"]) == len(p["recall"]) > 20
    assert sum(p["windows"]) == s["scored_windows"] and p["threshold"] == 0.5
    assert sum(p["histogram"]["all"]) == s["scored_windows"]


def test_a_run_trained_from_a_log_elsewhere_finds_its_ground_truth(dashboard_run, tmp_path):
    """`adrec train --logs data/sim` leaves no RUN_DIR/data: the truth beside the log the fit
    report names is found, so a served run (no --logs there) draws recall and false alarms."""
    import shutil

    logs = tmp_path / "sim"
    logs.mkdir()
    shutil.copy(dashboard_run / "data" / "life_events.parquet", logs)
    run = tmp_path / "run"
    run.mkdir()
    for name in ("scores.parquet", "engine.json"):
        shutil.copy(dashboard_run / name, run)
    report = json.loads((dashboard_run / "fit_report.json").read_text())
    (run / "fit_report.json").write_text(json.dumps({**report, "logs": str(logs)}))
    assert RunData(run).logs == logs and RunData(run).truth is not None
    assert "recall" in RunData(run).population()
    (run / "fit_report.json").write_text(json.dumps({**report, "logs": None}))
    assert RunData(run).truth is None


def test_the_user_search_puts_an_exact_match_first(client):
    everyone = client.get("/dashboard/api/users", params={"limit": 500}).json()
    assert everyone["total"] == everyone["matched"] == 40
    peaks = [u["peak"] for u in everyone["users"]]
    assert peaks == sorted(peaks, reverse=True)
    hit = client.get("/dashboard/api/users", params={"q": "1", "limit": 5}).json()
    assert hit["users"][0]["key"] == "1" and len(hit["users"]) == 5
    assert hit["matched"] == sum("1" in u["key"] for u in everyone["users"])
    assert client.get("/dashboard/api/users", params={"q": "nobody"}).json()["matched"] == 0


def test_a_users_series_has_scores_episodes_events_and_weights(client, dashboard_run):
    truth = pd.read_parquet(dashboard_run / "data" / "life_events.parquet")
    key = str(truth["user_id"].iloc[0])
    u = client.get(f"/dashboard/api/users/{key}").json()
    n = len(u["time"])
    assert n > 5 and len(u["calibrated"]) == len(u["flagged"]) == len(u["window_start"]) == n
    assert u["time"] == sorted(u["time"])
    assert u["events"][0]["kind"] == truth["kind"].iloc[0]
    assert u["events"][0]["new_categories"] == truth["new_categories"].iloc[0].split(",")
    rows = pd.DataFrame({k: u[k] for k in ("time", "window_start", "calibrated")})
    assert u["episodes"] == episodes(rows)
    w = u["weights"]
    total = np.sum([w[name] for name in w["sources"]], axis=0)
    np.testing.assert_allclose(total, 1.0, atol=0.01)
    # the served rule moves weight with the calibrated score, as the blend file says
    blend = json.loads((dashboard_run / "blend" / "blend.json").read_text())
    assert w["served"] == blend["served"] == "rule"
    c = np.array(u["calibrated"])
    first = w["sources"][0]
    calm, shifted = blend["rule"]["calm"][first], blend["rule"]["shifted"][first]
    np.testing.assert_allclose(w[first], (1 - c) * calm + c * shifted, atol=2e-3)
    assert client.get("/dashboard/api/users/no-such-user").status_code == 404


def test_accuracy_is_computed_once_then_read_from_the_cache(client, dashboard_run):
    a = client.get("/dashboard/api/accuracy")
    if a.status_code == 202:  # computing in the background
        client.app.state.adrec_dashboard._warming.join(timeout=120)
        a = client.get("/dashboard/api/accuracy")
    assert a.status_code == 200
    acc = a.json()
    assert acc["split"] == "leave_last_out" and acc["targets_per_user"] == 5
    assert acc["groups"]["all"]["overall"]["targets"] == 200  # 40 users x 5 held-out targets
    assert set(acc["variants"]) == {"best fixed blend", "anomaly-aware rule", "learned gate"}
    assert acc["groups"]["shifting"]["overall"]["targets"] > 0
    cached = dashboard_run / "dashboard" / "test_targets.parquet"
    assert cached.exists()
    again = RunData(dashboard_run).accuracy(compute=False)  # a new process: from the cache
    assert again["groups"]["all"]["ndcg@10"] == acc["groups"]["all"]["ndcg@10"]


def test_page_and_assets_are_served(client):
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "dashboard/"
    page = client.get("/dashboard/")
    assert page.status_code == 200 and "chart-user-score" in page.text
    js = client.get("/dashboard/static/chart.umd.min.js")
    assert js.status_code == 200 and js.text.startswith("/*!\n * Chart.js v4.6.1")
    assert client.get("/dashboard/static/../data.py").status_code == 404
    assert client.get("/dashboard/static/index.html").status_code == 404


def test_report_command_writes_one_offline_file(dashboard_run, tmp_path):
    out = tmp_path / "r" / "report.html"
    result = CliRunner().invoke(cli, ["report", "--run-dir", str(dashboard_run), "--out",
                                      str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Chart.js v4.6.1" in html and 'id="adrec-users"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    users = embedded_json(html, "adrec-users")
    assert len(users) == 40 and all("weights" in u for u in users.values())


def test_report_live_carries_a_services_numbers_as_they_were(dashboard_run, tmp_path,
                                                              monkeypatch):  # fmt: skip
    import adrec.dashboard.report as report

    live = LiveMetrics()
    for i in range(5):
        live.record(0.02, 200, anomalous=i == 0)
    asked = []

    def snapshot(url):
        asked.append(url)
        return {**live.snapshot(), "url": url}

    monkeypatch.setattr(report, "live_snapshot", snapshot)
    out = tmp_path / "live.html"
    result = CliRunner().invoke(cli, ["report", "--run-dir", str(dashboard_run), "--out",
                                      str(out), "--live", "http://127.0.0.1:8000"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = embedded_json(out.read_text(), "adrec-data")
    assert asked == ["http://127.0.0.1:8000"]
    assert data["live"]["totals"]["requests"] == 5 and data["live"]["anomalous_share"] == 0.2
    monkeypatch.undo()  # a service that does not answer: the option is named
    result = CliRunner().invoke(cli, ["report", "--run-dir", str(dashboard_run), "--out",
                                      str(out), "--live", "http://127.0.0.1:9"],
                                env={"COLUMNS": "200", "NO_COLOR": "1"})  # fmt: skip
    assert result.exit_code == 2 and "cannot read the live numbers" in result.output


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [("report", ["--run-dir", "nowhere"], "not a trained run directory"),
     ("dashboard", ["--run-dir", "nowhere"], "not a trained run directory")],
)  # fmt: skip
def test_commands_name_what_is_missing(command, args, message):
    result = CliRunner().invoke(cli, [command, *args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 2 and message in result.output


def test_gate_weights_read_the_history_each_point_was_scored_from(dashboard_run):
    """A run serving the learned gate: the weights at each point equal the engine's own
    blend_weights over the batch scoring's histories (scoring_points), so the history the
    dashboard rebuilds from a point's time is the one that was scored."""
    from dataclasses import replace

    from adrec.detectors.behaviour.scoring import scoring_points
    from adrec.recommender.engine import AnomalyAwareRecommender

    base = AnomalyAwareRecommender.load(dashboard_run)
    if base.blends.gate is None:
        pytest.skip("this run fitted no gate")
    engine = AnomalyAwareRecommender(base.log, base.sources, replace(base.blends, served="gate"),
                                     base.detector, base.signals, base.gate_recent)  # fmt: skip
    data = RunData(dashboard_run, engine=engine)
    key = data.users(limit=1)["users"][0]["key"]
    got = data.weights_of([key])[key]
    assert got["served"] == "gate"
    u = engine.log.users.index_of(int(key))
    stride = int(data.report["config"]["window"])
    hist = [h for h in scoring_points(engine.log, stride) if h.user == u]
    anomaly = engine.anomaly(hist)
    hist = [h for h, ok in zip(hist, anomaly["has_window"], strict=True) if ok]
    anomaly = engine.anomaly(hist)
    want = engine.blend_weights(hist, anomaly)["learned gate"]
    assert len(hist) == len(got[got["sources"][0]])
    for j, name in enumerate(got["sources"]):
        np.testing.assert_allclose(got[name], want[:, j], atol=2e-3)


# -- the Serve application's own metrics (Prometheus text as Ray exports it) --------------
def _prometheus(requests_ok: int, requests_bad: int, buckets: dict, anomalous: int,
                calm: int) -> str:  # fmt: skip
    tags = 'application="adrec",method="POST",route="/v1/recommend"'
    lines = [
        "# TYPE ray_serve_num_http_requests_total counter",
        f'ray_serve_num_http_requests_total{{{tags},status_code="200"}} {requests_ok}',
        f'ray_serve_num_http_requests_total{{{tags},status_code="422"}} {requests_bad}',
        'ray_serve_num_http_requests_total{application="other",route="/v1/recommend",'
        'status_code="200"} 999',
        "# TYPE ray_serve_http_request_latency_ms histogram",
        *(f'ray_serve_http_request_latency_ms_bucket{{{tags},status_code="200",le="{le}"}} {n}'
          for le, n in buckets.items()),
        f'ray_serve_http_request_latency_ms_count{{{tags},status_code="200"}} {requests_ok}',
        f'ray_serve_http_request_latency_ms_sum{{{tags},status_code="200"}} 1.0',
        "# TYPE ray_adrec_recommend_answers_total counter",
        f'ray_adrec_recommend_answers_total{{application="adrec",anomalous="true"}} {anomalous}',
        f'ray_adrec_recommend_answers_total{{application="adrec",anomalous="false"}} {calm}',
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def test_prometheus_histogram_quantiles_interpolate_inside_buckets():
    from adrec.distributed.serve_metrics import quantile

    buckets = {10.0: 50.0, 20.0: 90.0, 40.0: 100.0, float("inf"): 100.0}
    assert quantile(buckets, 0.5) == 10.0
    assert quantile(buckets, 0.7) == pytest.approx(15.0)
    assert quantile(buckets, 0.95) == pytest.approx(30.0)
    assert quantile({}, 0.5) is None and quantile({float("inf"): 0.0}, 0.5) is None


def test_serve_metrics_sum_the_application_and_draw_deltas():
    from adrec.distributed.serve_metrics import ServeMetrics, parse

    first = _prometheus(10, 1, {"10": 5, "50": 10, "+Inf": 10}, 2, 8)
    parsed = parse(first, "adrec", "/v1/recommend")
    assert parsed["requests"] == {"2xx": 10.0, "4xx": 1.0}  # the other application left out
    assert parsed["answers"] == {"true": 2.0, "false": 8.0}
    texts = [first, _prometheus(30, 1, {"10": 5, "50": 30, "+Inf": 30}, 12, 18)]
    clock = _Clock()
    metrics = ServeMetrics("adrec", urls=lambda: ["a"], bucket_s=10, clock=clock)
    metrics.scrape = lambda: {**parse(texts.pop(0), "adrec", "/v1/recommend"), "endpoints": 1}
    metrics.snapshot()
    clock.now += 20
    snap = metrics.snapshot()
    assert snap["totals"] == {"requests": 31, "answered": 30, "client_errors": 1,
                              "server_errors": 0, "anomalous": 12}  # fmt: skip
    assert snap["anomalous_share"] == 0.4
    assert snap["series"]["requests"] == [20] and snap["series"]["anomalous_share"] == [0.5]
    # the 20 new requests all took 10-50 ms
    assert 10 < snap["series"]["p50"][0] <= 50 and snap["last_minute"]["requests_per_s"] == 1.0
    assert "Ray Serve's metrics" in snap["source"]


def test_serve_metrics_fall_back_to_the_replicas_counters():
    from adrec.distributed.serve_metrics import ServeMetrics

    metrics = ServeMetrics("adrec", urls=lambda: [], fallback=LiveMetrics())
    snap = metrics.snapshot()
    assert snap["source"].startswith("in-process") and "Serve metrics unavailable" in snap["note"]


def test_serve_metrics_parse_only_their_lines_and_scrape_at_most_every_few_seconds():
    from adrec.distributed.serve_metrics import ServeMetrics, parse, relevant

    text = _prometheus(10, 1, {"10": 5, "50": 10, "+Inf": 10}, 2, 8)
    # a node's export holds about 2,000 lines of other metrics (Ray's own, histograms of
    # similar names): the parse keeps only the three it reads
    noise = "\n".join(
        [f"# HELP ray_tasks_{i} other\n# TYPE ray_tasks_{i} gauge\nray_tasks_{i}{{a=\"b\"}} {i}"
         for i in range(300)] + ['ray_serve_http_request_latency_msx_count{a="b"} 5']
    )  # fmt: skip
    noisy = noise + "\n" + text + noise + "\n"
    assert parse(noisy, "adrec", "/v1/recommend") == parse(text, "adrec", "/v1/recommend")
    assert "ray_tasks" not in relevant(noisy)
    clock, scrapes = _Clock(), []

    def scrape():
        scrapes.append(clock.now)
        return {**parse(text, "adrec", "/v1/recommend"), "endpoints": 1}

    metrics = ServeMetrics("adrec", urls=lambda: ["a"], clock=clock, min_interval_s=2.0)
    metrics.scrape = scrape
    first = metrics.snapshot()
    clock.now += 1.5  # another page polling: the same answer, no second scrape
    assert metrics.snapshot() is first and len(scrapes) == 1
    clock.now += 1.0
    assert metrics.snapshot() is not first and len(scrapes) == 2


def test_answers_reach_the_serve_metric_in_sums_not_once_per_request():
    """In a Serve replica the middleware counts anomalous answers in a Ray metric; a Ray
    counter's inc costs tens of microseconds, so the answers are added at most once per
    export interval, none lost."""
    import asyncio

    from adrec.dashboard.live import LiveMetrics

    class FakeCounter:
        def __init__(self):
            self.calls = []

        def inc(self, value=1.0, tags=None):
            self.calls.append((value, tags["anomalous"]))

    counter = FakeCounter()
    metrics = LiveMetrics(export_counter=lambda: counter, export_every_s=0.05)

    async def serve_some():
        for i in range(30):
            metrics.record(0.01, 200, anomalous=i % 3 == 0)
        metrics.record(0.01, 422, anomalous=None)
        await asyncio.sleep(0.2)
        metrics.record(0.01, 200, anomalous=False)
        await asyncio.sleep(0.2)

    asyncio.run(serve_some())
    assert sorted(counter.calls) == [(1, "false"), (10, "true"), (20, "false")]
