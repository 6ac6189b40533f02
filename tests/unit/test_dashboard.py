"""The dashboard's series (anomaly scores by day, accuracy by month) and its page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from adrec.cli import app
from adrec.dashboard import accuracy_by_month, anomaly_by_day, dashboard_html
from adrec.dashboard.build import write_dashboard

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


def test_anomaly_by_day_counts_flags_and_rates_per_day():
    out = anomaly_by_day(_scores(), TRUTH)
    assert list(out.index.strftime("%Y-%m-%d")) == ["2026-01-11", "2026-01-12", "2026-01-13",
                                                     "2026-01-14"]  # fmt: skip
    assert out["windows"].tolist() == [3, 3, 3, 3]
    np.testing.assert_allclose(out["flagged_share"], [0, 0, 1 / 3, 1 / 3])
    # the event splits user 3's windows at days 11 and 12: in neither rate
    assert out["life_event_windows"].tolist() == [0, 0, 0, 1]
    assert out["recall"].iloc[:3].isna().all() and out["recall"].iloc[3] == 1.0
    np.testing.assert_allclose(out["false_alarm_rate"], [0, 0, 0, 0])
    np.testing.assert_allclose(out["mean_calibrated"].iloc[0], 0.2)
    plain = anomaly_by_day(_scores())
    assert "recall" not in plain and plain["windows"].sum() == 12
    with pytest.raises(ValueError, match="window_start"):
        anomaly_by_day(_scores().drop(columns="window_start"))


def _bench_report() -> dict:
    def months(shift: float) -> list[dict]:
        return [{"month": m, "n": 10, "best fixed blend": 0.1 + shift, "anomaly-aware rule": 0.2}
                for m in ("1998-01", "1998-02")]  # fmt: skip

    return {"seeds": {"0": {"ndcg@10_by_month": months(0.0)},
                      "1": {"ndcg@10_by_month": months(0.1)}}}  # fmt: skip


def test_accuracy_by_month_averages_the_seeds():
    out = accuracy_by_month(_bench_report())
    assert out.index.tolist() == ["1998-01", "1998-02"]
    np.testing.assert_allclose(out["best fixed blend"], [0.15, 0.15])
    assert out["targets"].tolist() == [10, 10]
    assert accuracy_by_month({"seeds": {}}).empty


def test_the_page_draws_each_series_and_lists_its_numbers():
    page = dashboard_html(anomaly_by_day(_scores(), TRUTH), accuracy_by_month(_bench_report()))
    assert page.count("<svg") == 3 and "<polyline" in page and "JavaScript" not in page
    assert "recall" in page and "anomaly-aware rule" in page and "<td>0.1500</td>" in page
    with pytest.raises(ValueError, match="nothing to show"):
        dashboard_html(None, pd.DataFrame())


def _run_dir(root):
    root.mkdir(parents=True)
    _scores().to_parquet(root / "scores.parquet", index=False)
    (root / "data").mkdir()
    TRUTH.to_parquet(root / "data" / "life_events.parquet", index=False)
    return root


def test_command_writes_the_page_from_a_run_and_a_report(tmp_path):
    run = _run_dir(tmp_path / "run")
    bench = tmp_path / "recommend.json"
    bench.write_text(json.dumps(_bench_report()))
    out = tmp_path / "dash" / "index.html"
    result = CliRunner().invoke(app, ["dashboard", "--run-dir", str(run), "--bench", str(bench),
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "12 windows" in page and "recall" in page and "1998-02" in page
    assert write_dashboard(tmp_path / "b.html", bench_report=bench).read_text().count("<svg") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "--run-dir, --bench"), (["--run-dir", "nowhere"], "trained run directory"),
     (["--bench", "nowhere.json"], "no benchmark report")],
)  # fmt: skip
def test_command_errors_name_what_is_missing(tmp_path, args, message):
    result = CliRunner().invoke(
        app, ["dashboard", *args, "--out", str(tmp_path / "x.html")],
        env={"COLUMNS": "200", "NO_COLOR": "1"},
    )  # fmt: skip
    assert result.exit_code == 2 and message in result.output
