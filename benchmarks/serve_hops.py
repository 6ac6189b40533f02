"""What one Serve handle call costs on this machine, apart from any model: the floor under
the graph's latency at 1 client (benchmarks/serve_load.py).

A FastAPI ingress deployment with two trivial deployments behind it (x + 1, x * 2), started
in the cluster environment `adrec serve` uses (adrec.serving.cluster_env: direct ingress,
gRPC between deployments, replicas at nice 0). One closed-loop client over loopback asks,
for `--seconds` each, for an answer made by the ingress alone (`zero`), by one handle call
(`one`), by two chained ones with the first's response passed into the second (`two`, the
shape of adrec's Ingress -> Detector -> Recommender) and by two awaited in turn
(`two_seq`). Writes reports/serve_hops/serve_hops.md and .json.

    RAY_AUTH_MODE=disabled uv run python benchmarks/serve_hops.py
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def build(serve, FastAPI):
    api = FastAPI()

    @serve.deployment(ray_actor_options={"num_cpus": 0.5})
    class Plus:
        async def f(self, x: int) -> int:
            return x + 1

    @serve.deployment(ray_actor_options={"num_cpus": 0.5})
    class Times:
        async def g(self, x: int) -> int:
            return x * 2

    @serve.deployment(ray_actor_options={"num_cpus": 0.25})
    @serve.ingress(api)
    class Ingress:
        def __init__(self, plus, times):
            self.plus, self.times = plus, times

        @api.get("/zero")
        async def zero(self) -> int:
            return 0

        @api.get("/one")
        async def one(self) -> int:
            return await self.plus.f.remote(1)

        @api.get("/two")
        async def two(self) -> int:
            return await self.times.g.remote(self.plus.f.remote(1))

        @api.get("/two_seq")
        async def two_seq(self) -> int:
            return await self.times.g.remote(await self.plus.f.remote(1))

    return Ingress.bind(Plus.bind(), Times.bind())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--port", type=int, default=8151)
    p.add_argument("--out", default="reports/serve_hops")
    args = p.parse_args(argv)

    from adrec.serving.cluster_env import apply_serve_env

    env = apply_serve_env()
    import ray
    import requests
    from fastapi import FastAPI
    from ray import serve

    from adrec.distributed.serve_graph import direct_urls

    ray.init(address="local", num_cpus=2, include_dashboard=False)
    try:
        serve.start(http_options={"port": args.port})
        serve.run(build(serve, FastAPI), name="hops", route_prefix="/")
        url = direct_urls(name="hops")[0]
        session = requests.Session()
        rows = []
        for path in ("zero", "one", "two", "two_seq"):
            for _ in range(30):  # warm-up
                session.get(f"{url}/{path}").raise_for_status()
            lat, end = [], time.time() + args.seconds
            while time.time() < end:
                t = time.perf_counter()
                session.get(f"{url}/{path}").raise_for_status()
                lat.append(time.perf_counter() - t)
            ms = np.asarray(lat) * 1e3
            rows.append({"path": path, "requests": len(ms), "p50_ms": float(np.median(ms)),
                         "p99_ms": float(np.percentile(ms, 99))})  # fmt: skip
            print(f"{path:8s} p50 {rows[-1]['p50_ms']:.2f} ms  p99 {rows[-1]['p99_ms']:.2f} ms "
                  f"({len(ms)} requests)", flush=True)  # fmt: skip
    finally:
        serve.shutdown()
        ray.shutdown()
    report = {"rows": rows, "cluster_env": env, "loadavg": list(os.getloadavg()),
              "seconds_per_path": args.seconds}  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve_hops.json").write_text(json.dumps(report, indent=2))
    lines = ["# One client, trivial deployments: what the handle calls cost", "",
             f"Load average at the end: {report['loadavg']}; cluster environment {env}.", "",
             "| answer made by | p50 ms | p99 ms | requests |", "|---|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r['path']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['requests']} |"
              for r in rows]  # fmt: skip
    (out / "serve_hops.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
