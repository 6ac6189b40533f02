"""`adrec report`: the dashboard of a run as one self-contained HTML file (Chart.js, the
page's script and every view's data inline; opens offline, no server)."""

from __future__ import annotations

import time
from pathlib import Path

from adrec.dashboard.data import RunData
from adrec.dashboard.page import report_html


def report_data(run: RunData, log=print) -> tuple[dict, dict]:
    """(the page's views, every user's series keyed by user id) of a run."""
    t0 = time.perf_counter()
    summary = run.summary()
    population = run.population()
    log(f"  summary and population ({summary['scored_windows']} windows, "
        f"{summary['scored_users']} users) {time.perf_counter() - t0:.1f} s")  # fmt: skip
    accuracy = run.accuracy()
    log(f"  accuracy over time ({accuracy['period']}s, "
        f"{accuracy['groups']['all']['overall']['targets']} test targets) "
        f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    index = run.users(limit=len(run.user_index))
    keys = [u["key"] for u in index["users"]]
    weights = run.weights_of(keys)
    users = {key: {**run.user(key, weights=False), "weights": weights[key]} for key in keys}
    log(f"  {len(users)} users' series {time.perf_counter() - t0:.1f} s")
    data = {"summary": summary, "population": population, "accuracy": accuracy,
            "users": index["users"],
            "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}  # fmt: skip
    return data, users


def write_report(run_dir: str | Path, out: str | Path, logs: str | Path | None = None,
                 log=print) -> Path:  # fmt: skip
    """Write the report of `run_dir` to `out`; returns its path."""
    run = RunData(run_dir, logs)
    data, users = report_data(run, log)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_html(data, users), encoding="utf-8")
    return out
