"""The Serve graph under attack, on a local cluster: fuzzed and named bad input through the
proxy (no 5xx, the field named, nothing echoed), the body limit through Serve, and replicas
killed under load (with two of each model deployment, no request fails).

The application runs the session's small run (fitted in process, no Ray Train: the
`small_run` fixture), so these tests do not depend on the demo fixture."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import requests
import schemathesis
from _serving_checks import fuzz

APP = "adrec-graph-test"
PREFIX = "/graph-test"
BODY_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def graph(ray_cluster, small_run):
    """(run_dir, base URL) of the graph with two Detector and two Recommender replicas and a
    1 MiB body limit, served through Serve's proxy; deleted after the module."""
    from ray import serve

    from adrec.distributed.serve_graph import build_app

    run_dir = small_run
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})  # kept if already started
    app = build_app({"run_dir": str(run_dir), "detector_replicas": 2, "recommender_replicas": 2,
                     "max_body_bytes": BODY_LIMIT})  # fmt: skip
    serve.run(app, name=APP, route_prefix=PREFIX)
    yield run_dir, f"http://127.0.0.1:{_serve_port()}{PREFIX}"
    serve.delete(APP)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_port() -> int:
    """The port of Serve's HTTP proxy (started by this module or, earlier, by the demo)."""
    from ray.serve.context import _get_global_client

    return _get_global_client().http_config.port


def _item(run_dir):
    from adrec.data.interactions import load_interactions

    log = load_interactions(run_dir / "log")
    return log, log.items.raw_ids([1])[0]


def test_fuzzed_requests_through_serve_never_get_a_5xx(graph):
    _, base = graph
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    seen = fuzz(schema, max_examples=25)
    statuses = {status for (_, _, status) in seen}
    assert not any(s >= 500 for s in statuses), seen
    assert 200 in statuses and 422 in statuses, seen


def _named_cases(item) -> list[tuple[str, bytes, int, str]]:
    """(name, body, expected status, field the answer names) of the issue's bad inputs."""
    ev = f'{{"item_id": {item!r}, "timestamp": "2026-01-01T00:00:00"'.replace("'", '"')
    many = ", ".join([ev + "}"] * 10_001)
    return [
        ("value NaN", f'{{"user_id": 1, "events": [{ev}, "value": NaN}}]}}', 422, "value"),
        ("value Infinity", f'{{"user_id": 1, "events": [{ev}, "value": Infinity}}]}}', 422,
         "value"),
        ("value -Infinity", f'{{"user_id": 1, "events": [{ev}, "value": -Infinity}}]}}', 422,
         "value"),
        ("value 1e308", f'{{"user_id": 1, "events": [{ev}, "value": 1e308}}]}}', 422, "value"),
        ("value a string", f'{{"user_id": 1, "events": [{ev}, "value": "3"}}]}}', 422, "value"),
        ("k 1e400", '{"user_id": 1, "k": 1e400}', 422, "k"),
        ("k true", '{"user_id": 1, "k": true}', 422, "k"),
        ("k 0", '{"user_id": 1, "k": 0}', 422, "k"),
        ("year 9999", '{"user_id": 1, "events": [{"item_id": 1, "timestamp": '
         '"9999-12-31T00:00:00"}]}', 422, "timestamp"),
        ("10,001 events", f'{{"user_id": 1, "events": [{many}]}}', 422, "events"),
        ("unknown action", f'{{"user_id": 1, "events": [{ev}, "action": "teleport"}}]}}', 422,
         "action"),
        ("not JSON", "{not json", 422, "body"),
        ("not UTF-8", "\udcff", 400, "body"),
        ("20 MB field", '{"user_id": 1, "category": "' + "x" * 20_000_000 + '"}', 413, "body"),
    ]  # fmt: skip


def test_the_named_bad_inputs_through_serve_are_4xx_naming_the_field(graph):
    run_dir, base = graph
    _, item = _item(run_dir)
    failures = []
    for name, body, status, field in _named_cases(item):
        data = body.encode("utf-8", "surrogateescape")
        r = requests.post(f"{base}/v1/recommend", data=data, timeout=120,
                          headers={"content-type": "application/json"})  # fmt: skip
        ok = r.status_code == status and field in r.json()["fields"] and len(r.content) < 10_000
        if not ok:
            failures.append((name, r.status_code, r.text[:300]))
    assert not failures, failures


def test_dropped_events_are_counted_through_serve(graph):
    run_dir, base = graph
    _, item = _item(run_dir)
    body = {"user_id": "someone-new", "k": 3, "events": [
        {"item_id": item, "timestamp": "2026-02-10T10:00:00"},
        {"item_id": 2**70, "timestamp": "2026-02-10T10:05:00"},
        {"item_id": item, "timestamp": "2099-12-31T00:00:00"}]}  # fmt: skip
    r = requests.post(f"{base}/v1/recommend", json=body, timeout=60)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ignored_events"]["unknown_item"] == 1 and out["ignored_events"]["in_future"] == 1
    assert out["at"] == "2026-02-10T10:00:00Z"


def test_the_body_limit_is_the_apps_setting_through_serve(graph):
    run_dir, url = graph
    _, item = _item(run_dir)
    event = {"item_id": item, "timestamp": "2026-02-10T10:00:00"}
    r = requests.post(f"{url}/v1/recommend", json={"user_id": 1, "events": [event] * 30_000},
                      timeout=60)  # fmt: skip
    assert r.status_code == 413 and r.json()["fields"] == "body", r.text
    assert str(BODY_LIMIT) in r.text


def test_served_answers_equal_the_offline_engine(graph):
    from adrec.recommender.engine import AnomalyAwareRecommender

    run_dir, url = graph
    engine = AnomalyAwareRecommender.load(run_dir)
    for u in (0, 5, 11):
        h = engine.stored_history(u)
        body = {"user_id": engine.log.users.raw_ids([u])[0], "k": 7}
        served = requests.post(f"{url}/v1/recommend", json=body, timeout=60).json()
        offline = engine.recommend([h], 7)[0]
        assert [i["item_id"] for i in served["items"]] == [i["item_id"] for i in offline["items"]]
        expected = engine.anomaly([h])["calibrated"][0]
        assert served["anomaly"]["calibrated"] == pytest.approx(expected, abs=1e-9)


def _replicas(deployment: str) -> list[str]:
    """Names of the deployment's live replica actors (namespace "serve")."""
    from ray.util import list_named_actors

    prefix = f"SERVE_REPLICA::{APP}#{deployment}#"
    return [a["name"] for a in list_named_actors(all_namespaces=True)
            if a["namespace"] == "serve" and a["name"].startswith(prefix)]  # fmt: skip


def _kill_one(deployment: str, among: set[str]) -> str:
    """Kill one of the deployment's live replicas named in `among` (Serve starts a new
    one)."""
    import ray

    name = sorted(set(_replicas(deployment)) & among)[0]
    ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)
    return name


def _wait_for_replicas(n: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(len(_replicas(d)) >= n for d in ("Detector", "Recommender")):
            return
        time.sleep(1)
    raise TimeoutError(f"Serve did not bring back {n} replicas in {timeout}s")


def test_no_request_fails_when_a_replica_dies_under_load(graph):
    from ray import serve

    run_dir, url = graph
    log, _ = _item(run_dir)
    users = log.users.raw_ids(np.arange(min(20, log.n_users)))
    assert len(_replicas("Detector")) == 2 and len(_replicas("Recommender")) == 2
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    failures: list = []
    lock = threading.Lock()

    def client(c: int) -> None:
        session = requests.Session()
        i = c
        while not stop.is_set():
            body = {"user_id": users[i % len(users)], "k": 5}
            i += 1
            try:
                r = session.post(f"{url}/v1/recommend", json=body, timeout=120)
                good = r.status_code == 200
                detail = r.text[:200]
            except requests.RequestException as exc:
                good, detail = False, repr(exc)
            with lock:
                counts["ok" if good else "failed"] += 1
                if not good:
                    failures.append(detail)

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(12)]
    for t in threads:
        t.start()
    first = {d: set(_replicas(d)) for d in ("Detector", "Recommender")}
    killed: list[str] = []
    for _ in range(2):  # each deployment loses both of its first replicas, one at a time
        time.sleep(3)
        killed.append(_kill_one("Detector", first["Detector"] - set(killed)))
        time.sleep(2)
        killed.append(_kill_one("Recommender", first["Recommender"] - set(killed)))
        _wait_for_replicas(2, timeout=180)
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(timeout=150)
    stats = serve.get_deployment_handle("Ingress", app_name=APP).batch_stats.remote()
    stats = stats.result(timeout_s=60)
    print(f"replica kill under load: {counts}, killed {killed}, ingress {stats}")
    assert counts["failed"] == 0, failures[:5]
    assert counts["ok"] > 20


# -- a replica that dies in the middle of its first request: the request is still answered --


def _fragile_app(marker: str):
    import os
    from pathlib import Path

    from ray import serve

    from adrec.distributed.serve_graph import once_more_if_a_replica_dies

    @serve.deployment(num_replicas=2, max_ongoing_requests=4, ray_actor_options={"num_cpus": 0})
    class Upstream:
        async def work(self, x: int) -> int:
            died = Path(marker)
            if not died.exists():
                died.touch()
                os._exit(1)  # the process dies with the request in it
            return 2 * x

    @serve.deployment(ray_actor_options={"num_cpus": 0})
    class Downstream:
        async def add(self, x: int) -> int:
            return x + 1

    @serve.deployment(ray_actor_options={"num_cpus": 0})
    class Caller:
        def __init__(self, upstream, downstream):
            self.upstream, self.downstream = upstream, downstream
            self.retries = 0

        async def __call__(self, x: int) -> tuple[int, int]:
            async def chain():  # the upstream's response passed into the downstream call
                return await self.downstream.add.remote(self.upstream.work.remote(x))

            def count():
                self.retries += 1

            return await once_more_if_a_replica_dies(chain, count), self.retries

    return Caller.bind(Upstream.bind(), Downstream.bind())


def test_a_request_in_flight_on_a_dying_replica_is_answered_by_another(ray_cluster, tmp_path):
    from ray import serve

    handle = serve.run(_fragile_app(str(tmp_path / "died")), name="fragile", route_prefix=None)
    try:
        answer, retries = handle.remote(20).result(timeout_s=120)
        assert (tmp_path / "died").exists()  # the first replica died with the request in it
        # Answered right: by the ingress's retry (1), or by Serve's router resending the
        # request before the death reached the caller (0); never twice. The retry's own logic
        # is tested without a cluster in tests/unit/test_replica_retry.py.
        assert answer == 41
        assert retries in (0, 1)
    finally:
        serve.delete("fragile")
