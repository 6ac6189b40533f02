"""The main job: the whole adrec path on one Ray cluster, with a printed report.

simulate logs with planted life events (Ray tasks) -> adrec train (Ray Data ingest, the fit
step with Ray Train) -> Ray Serve graph -> HTTP queries: a stable user, a user inside a life
event, and a user the model has never seen, answered from the events in the request.

    adrec demo            (or: python -m jobs.demo)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from adrec.data.simulator import SimulationConfig
from adrec.distributed.cluster import connect
from adrec.distributed.simulate import simulate_to_parquet
from adrec.distributed.train_run import ground_truth, train_run
from adrec.recommender.config import FitConfig


@dataclass
class DemoOptions:
    run_dir: Path
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    workers: int = 2
    use_gpu: bool = False
    port: int = 8000
    address: str | None = None
    k: int = 5
    keep_serving: bool = False
    # Tests keep the cluster and the service up after the demo to query it further.
    shutdown: bool = True


QUERY_DAYS_AFTER_EVENT = 3  # the demo asks "as of" a few days into the life event


def pick_users(run_dir: Path, data_dir: Path) -> tuple[object, object, float]:
    """A typical stable user (no life event; the median calibrated score at their last
    window), the life-event user whose event is the most recent, and the prediction time the
    demo asks about: a few days into that user's life event, when a recommender should adapt
    at once (from the run's batch scores and the simulator's ground truth)."""
    truth = ground_truth(data_dir)
    scores = pd.read_parquet(run_dir / "scores.parquet")
    last = scores.sort_values("time").groupby("user_id").tail(1)
    calm = last[~last["user_id"].astype(str).isin(truth["user_id"].astype(str))]
    stable = calm.sort_values(["calibrated", "user_id"]).iloc[len(calm) // 2]["user_id"]
    event = truth.sort_values(["event_day", "user_id"]).iloc[-1]
    at = pd.Timestamp(event["event_time"]) + pd.Timedelta(days=QUERY_DAYS_AFTER_EVENT)
    # numpy scalars are not JSON: raw ids go back as the Python int or str they stand for
    ids = tuple(v.item() if hasattr(v, "item") else v for v in (stable, event["user_id"]))
    return (*ids, at.timestamp())


def new_user_events(run_dir: Path, user, at: float, n: int = 200) -> list[dict]:
    """The last n events of `user` up to `at` from the run's log, as a request's events."""
    from adrec.data.interactions import load_interactions

    log = load_interactions(Path(run_dir) / "log")
    u = log.users.index_of(user)
    b = log.user_bounds()
    end = int(b[u]) + int(np.searchsorted(log.time[b[u] : b[u + 1]], at, side="right"))
    rows = range(max(int(b[u]), end - n), end)
    items = log.items.raw_ids(log.item[list(rows)])
    return [
        {
            "item_id": item,
            "timestamp": pd.Timestamp(int(log.time[r]), unit="s").isoformat(),
            **({"action": log.action_names[log.action[r]]} if log.action is not None else {}),
            **({"value": float(log.value[r])} if log.value is not None else {}),
        }
        for item, r in zip(items, rows, strict=True)
    ]


def _post(url: str, body: dict) -> dict:
    r = requests.post(url, json=body, timeout=60)
    r.raise_for_status()
    return r.json()


def side_by_side(columns: dict[str, dict]) -> str:
    """The answers for several users as one aligned table."""
    first = next(iter(columns.values()))
    rows = [("", *columns)]
    for key in ("score", "calibrated", "is_anomalous"):
        cells = []
        for r in columns.values():
            v = r["anomaly"][key]
            cells.append("-" if v is None else (str(v) if isinstance(v, bool) else f"{v:.3f}"))
        rows.append((key, *cells))
    for src in first["weights"]:
        rows.append((f"weight {src}", *(f"{r['weights'][src]:.2f}" for r in columns.values())))
    for i in range(max(len(r["items"]) for r in columns.values())):
        cells = []
        for r in columns.values():
            it = r["items"][i] if i < len(r["items"]) else None
            cells.append(
                f"{it['item_id']!s:>5} {','.join(it['categories'])[:11]:<11} ({it['source']})"
                if it
                else ""
            )
        rows.append((f"top {i + 1}", *cells))
    widths = [max(len(str(r[j])) for r in rows) for j in range(len(rows[0]))]
    return "\n".join(
        "  " + "  ".join(f"{str(c):<{w}}" for c, w in zip(r, widths, strict=True)) for r in rows
    )


def run_demo(opts: DemoOptions) -> dict:
    from adrec.data.readers import InputSpec
    from adrec.distributed.serve_graph import deploy, undeploy

    t0 = time.perf_counter()
    run_dir = Path(opts.run_dir)
    data_dir = run_dir / "data"
    print(f"adrec demo: run directory {run_dir}")
    connect(opts.address)
    import ray

    try:
        print("1/5 simulating behaviour logs (Ray tasks, one per shard of users)")
        sim = simulate_to_parquet(opts.simulation, data_dir)
        print(
            f"  {sim['events']} events, {sim['users']} users over {sim['days']} days, "
            f"{sim['life_events']} planted life events -> {data_dir}"
        )
        print("2/5 adrec train: Ray Data ingest, the fit step (Ray Train for the sequence model)")
        fit = train_run(
            InputSpec(str(data_dir)), run_dir, opts.fit, workers=opts.workers,
            use_gpu=opts.use_gpu, log=print,
        )  # fmt: skip
        print("3/5 deploying the Serve graph Ingress -> Detector -> Recommender")
        base = deploy(run_dir, port=opts.port)
        health = requests.get(f"{base}/healthz", timeout=30).json()
        print(f"  {base}/healthz -> {health['status']}, {health['users']} users")
        print("4/5 querying POST /v1/recommend")
        stable_id, shifted_id, at = pick_users(run_dir, data_dir)
        truth = ground_truth(data_dir).set_index("user_id").loc[shifted_id]
        url = f"{base}/v1/recommend"
        when = pd.Timestamp(at, unit="s").isoformat()
        events = new_user_events(run_dir, shifted_id, at)
        answers = {
            f"stable user {stable_id}": _post(url, {"user_id": stable_id, "k": opts.k,
                                                    "at": when}),
            f"life-event user {shifted_id}": _post(url, {"user_id": shifted_id, "k": opts.k,
                                                         "at": when}),
            "new user (their events sent)": _post(url, {"user_id": "new-user-1", "k": opts.k,
                                                        "events": events, "at": when}),
        }  # fmt: skip
        print(
            f"  as of {when}: user {shifted_id} had a {truth['kind']} on day "
            f"{int(truth['event_day'])} ({QUERY_DAYS_AFTER_EVENT} days before) -> "
            f"{truth['new_categories']}; the new user sends that user's last {len(events)} "
            "events (a user id the model has never seen)"
        )
        print(side_by_side(answers))
        detection = fit.get("detection") or {}
        print("5/5 detection of the planted life events (batch scores of every window)")
        print(
            f"  AUROC {detection.get('auroc', float('nan')):.3f}  "
            f"AUPRC {detection.get('auprc', float('nan')):.3f}  "
            f"best F1 {detection.get('best_f1', float('nan')):.3f}  "
            f"F1 at the 99th-percentile threshold {detection.get('f1_at_threshold', 0):.3f}  "
            f"({detection.get('n', 0)} windows, {detection.get('n_anomalous', 0)} anomalous)"
        )
        report = {
            "answers": answers,
            "stable_user": stable_id,
            "shifted_user": shifted_id,
            "life_event": {"kind": truth["kind"], "event_day": int(truth["event_day"])},
            "at": when,
            "detection": detection,
            "validation_ndcg@10": fit["validation_ndcg@10"],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        (run_dir / "demo.json").write_text(json.dumps(report, indent=2, default=str))
        print(f"artifacts: {run_dir} (run directory, scores.parquet, fit_report.json, "
              f"demo.json); {report['seconds']}s in all")  # fmt: skip
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
