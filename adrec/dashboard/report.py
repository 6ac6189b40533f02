"""`adrec report`: the dashboard of a run as one self-contained HTML file (Chart.js, the
page's script and every view's data inline; opens offline, no server). With `live`, a
running service's live numbers at the moment the report is written (`live_snapshot`)."""

from __future__ import annotations

import time
from pathlib import Path

from adrec.dashboard.data import RunData
from adrec.dashboard.page import report_html


def live_snapshot(url: str, timeout_s: float = 30) -> dict:
    """The live numbers of the service at `url` (its base, e.g. http://127.0.0.1:8000: the
    Serve graph of `adrec serve` or the plain app of `adrec dashboard`), as its
    /dashboard/api/live answers now. Raises ValueError when it cannot be read."""
    import requests

    endpoint = url.rstrip("/") + "/dashboard/api/live"
    try:
        response = requests.get(endpoint, timeout=timeout_s)
        response.raise_for_status()
        live = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ValueError(f"cannot read the live numbers at {endpoint}: {exc}") from None
    if not isinstance(live, dict) or "totals" not in live:
        raise ValueError(f"{endpoint} answered no live numbers: {str(live)[:200]}")
    return {**live, "url": url}


def report_data(run: RunData, log=print, live: dict | None = None) -> tuple[dict, dict]:
    """(the page's views, every user's series keyed by user id) of a run; `live`: a
    service's live numbers (live_snapshot) to show as they were."""
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
            "users": index["users"], "live": live,
            "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}  # fmt: skip
    return data, users


def write_report(run_dir: str | Path, out: str | Path, logs: str | Path | None = None,
                 log=print, live: str | None = None) -> Path:  # fmt: skip
    """Write the report of `run_dir` to `out` (with the live numbers of the service at URL
    `live`, if given); returns its path."""
    run = RunData(run_dir, logs)
    data, users = report_data(run, log, live_snapshot(live) if live else None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_html(data, users), encoding="utf-8")
    return out
