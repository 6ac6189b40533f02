"""The main job: the whole adrec path on one Ray cluster, with a printed report.

simulate logs with planted life events -> Ray Data windows -> Ray Train (LSTM-AE, SASRec) ->
calibration -> Ray Serve graph -> HTTP queries for a stable and a life-event user.

    python -m jobs.demo --users 300 --days 56          (or: adrec demo)
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import requests

from adrec.dashboard.build import write_dashboard
from adrec.data.logs import read_event_log, read_life_events
from adrec.data.simulator import SimulationConfig
from adrec.distributed.cluster import connect
from adrec.distributed.simulate import simulate_to_parquet
from adrec.distributed.workflow import TrainOptions, train_run


@dataclass
class DemoOptions:
    run_dir: Path
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    train: TrainOptions = field(default_factory=TrainOptions)
    port: int = 8000
    address: str | None = None
    k: int = 5
    keep_serving: bool = False
    # Tests keep the cluster and the service up after the demo to query it further.
    shutdown: bool = True


def pick_users(data_dir: Path, window_days: int) -> tuple[dict, dict]:
    """A stable user (no life event, active in the last week) and the life-event user whose
    event is oldest, each with their events of the last `window_days` days of the log."""
    events = read_event_log(data_dir)
    truth = read_life_events(data_dir)
    last_day = events["timestamp"].max().normalize()
    recent = events[events["timestamp"] >= last_day - pd.Timedelta(days=window_days - 1)]
    counts = recent.groupby("user_id").size()
    shifted_id = int(truth.sort_values(["event_day", "user_id"]).iloc[0]["user_id"])
    calm = counts.drop(index=truth["user_id"], errors="ignore")
    stable_id = int(calm.sort_values(ascending=False, kind="stable").index[len(calm) // 2])

    def payload(uid: int) -> dict:
        ev = recent[recent["user_id"] == uid].copy()
        ev["timestamp"] = ev["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        return {"user_id": uid, "events": ev.drop(columns="user_id").to_dict("records")}

    info = truth.set_index("user_id").loc[shifted_id]
    return payload(stable_id), {
        **payload(shifted_id),
        "life_event": {
            "kind": info["kind"],
            "event_day": int(info["event_day"]),
            "new_categories": info["new_categories"],
        },
    }


def _post(url: str, body: dict) -> dict:
    r = requests.post(url, json=body, timeout=60)
    r.raise_for_status()
    return r.json()


def _side_by_side(stable: dict, shifted: dict, life_event: dict) -> str:
    rows = [("", f"stable user {stable['user_id']}", f"life-event user {shifted['user_id']}")]
    rows.append(
        (
            "life event",
            "none",
            f"{life_event['kind']} on day {life_event['event_day']} "
            f"-> {life_event['new_categories']}",
        )
    )
    for key in ("score", "calibrated", "threshold", "is_anomalous"):
        fmt = (lambda v: str(v)) if key == "is_anomalous" else (lambda v: f"{v:.3f}")
        rows.append((key, fmt(stable["anomaly"][key]), fmt(shifted["anomaly"][key])))
    for src in stable["weights"]:
        rows.append(
            (f"weight {src}", f"{stable['weights'][src]:.2f}", f"{shifted['weights'][src]:.2f}")
        )
    for i in range(max(len(stable["items"]), len(shifted["items"]))):
        cell = [
            (
                f"{r['items'][i]['item_id']:>4} {r['items'][i]['category']:<11} "
                f"({r['items'][i]['source']})"
                if i < len(r["items"])
                else ""
            )
            for r in (stable, shifted)
        ]
        rows.append((f"top {i + 1}", *cell))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"  {a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows)


def run_demo(opts: DemoOptions) -> dict:
    t0 = time.perf_counter()
    run_dir = opts.run_dir
    data_dir = run_dir / "data"
    print(f"adrec demo: run directory {run_dir}")
    connect(opts.address)
    import ray

    from serve_apps.recommend_app import deploy, undeploy

    try:
        print("1/5 simulating behaviour logs (Ray tasks, one per shard of users)")
        sim = simulate_to_parquet(opts.simulation, data_dir)
        print(
            f"  {sim['events']} events, {sim['users']} users over {sim['days']} days, "
            f"{sim['life_events']} planted life events -> {data_dir}"
        )
        print("2/5 training (Ray Data windows, Ray Train LSTM-AE and SASRec, calibration)")
        metrics = train_run(data_dir, run_dir, opts.train)
        print("3/5 deploying the Serve graph Ingress -> BehaviorDetector -> Recommender")
        base = deploy(run_dir, port=opts.port)
        health = requests.get(f"{base}/healthz", timeout=30).json()
        print(f"  {base}/healthz -> {health['status']}, {health['users']} users")
        print("4/5 querying POST /v1/recommend for a stable and a life-event user")
        stable_req, shifted_req = pick_users(data_dir, opts.train.window_days)
        life_event = shifted_req.pop("life_event")
        stable = _post(f"{base}/v1/recommend", {**stable_req, "k": opts.k})
        shifted = _post(f"{base}/v1/recommend", {**shifted_req, "k": opts.k})
        print(_side_by_side(stable, shifted, life_event))
        bad = requests.post(
            f"{base}/v1/recommend", json={**stable_req, "user_id": 10**9}, timeout=30
        )
        print(f"  an unknown user gets HTTP {bad.status_code}: {bad.json()['detail']}")
        detection = metrics["detector"]["detection"] or {}
        print("5/5 detection of the planted life events on later windows")
        print(
            f"  AUROC {detection.get('auroc', float('nan')):.3f}  "
            f"AUPRC {detection.get('auprc', float('nan')):.3f}  "
            f"best F1 {detection.get('best_f1', float('nan')):.3f}  "
            f"F1 at the 99th-percentile threshold {detection.get('f1_at_threshold', 0):.3f}  "
            f"({detection.get('n', 0)} windows, {detection.get('n_anomalous', 0)} anomalous)"
        )
        report = {
            "stable": stable,
            "shifted": shifted,
            "life_event": life_event,
            "detection": detection,
            "unknown_user_status": bad.status_code,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        (run_dir / "demo.json").write_text(json.dumps(report, indent=2))
        page = write_dashboard(run_dir / "dashboard.html", run_dir=run_dir)
        print(
            f"artifacts: {run_dir} (models, thresholds, metrics.json, demo.json); "
            f"dashboard of anomaly scores over time: {page}; {report['seconds']}s in all"
        )
        if opts.keep_serving:
            print(f"serving on {base} (docs at {base}/docs); Ctrl-C to stop")
            while True:
                time.sleep(3600)
        return report
    except KeyboardInterrupt:
        return {}
    finally:
        if opts.shutdown:
            undeploy()
            ray.shutdown()


def main(argv: list[str] | None = None) -> None:
    from adrec.cli import app

    app(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
