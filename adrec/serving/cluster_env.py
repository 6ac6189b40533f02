"""Ray Serve settings that live in the environment of the cluster's processes: they must be
set before the cluster starts (`ray start`, `ray.init`, the KubeRay pod spec), not per
application. No Ray import here, so the CLI can apply them before it starts a cluster.

RAY_SERVE_THROUGHPUT_OPTIMIZED=1 (Ray >= 2.56) turns on Serve's throughput mode:

- direct ingress: the ingress replica serves HTTP itself (uvicorn inside the replica, on a
  port from RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT, 30000 by default), so a request skips
  the HTTP proxy actor and its actor call; the proxy still answers on the configured port
  (head node only);
- calls between deployments over gRPC instead of Ray actor tasks;
- user code and the router on the replica's own event loop (no thread hand-offs);
- request logs buffered, not echoed to stderr.

Measured on 2 cores (benchmarks/serve_load.py): a FastAPI ingress that answers a constant
costs 7.8 ms of CPU per request through the proxy (proxy 4.1, replica 3.2) and 0.35 ms
directly; the whole adrec graph 21 ms -> 5.8 ms per request at 8 clients.

RAY_worker_niceness=0: Ray starts its worker processes, and so every Serve replica, at nice
15, so that they yield the CPU to Ray's own daemons. On a node that runs anything else (a
shared machine, a sidecar, a training job) the replicas then yield to all of it: on the
2-core development machine, with two jobs at nice 5 beside it, the graph answered 4 req/s
at 1 client (p50 247 ms) where a plain uvicorn process at nice 0 answered 50. The replicas
are the service; they run at the priority a web server would.
"""

from __future__ import annotations

import os

SERVE_ENV = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1", "RAY_worker_niceness": "0"}


def apply_serve_env(environ=os.environ) -> dict[str, str]:
    """Set SERVE_ENV where the environment does not say otherwise; returns what is in
    effect. Call before starting a local cluster: its processes inherit it."""
    for key, value in SERVE_ENV.items():
        environ.setdefault(key, value)
    return {key: environ[key] for key in SERVE_ENV}
