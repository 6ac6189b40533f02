"""The served graph on Ray Serve: Ingress (FastAPI) -> Detector -> Recommender.

The ingress parses and validates the request and turns it into a compact Query (arrays, no
model needed). The detector builds the user's History once and scores the behaviour window;
its DeploymentResponse is passed straight into the recommender's call, so the recommender
receives the History and the anomaly score without a round trip through the ingress and
without parsing the request or building the History again. Both model deployments batch
(`@serve.batch`): the requests waiting at a replica are scored together, one detector call
and one sequential-model forward per batch, each request ranked with its own k. The
recommender returns the response body already encoded; the ingress sends those bytes.

Requests are idempotent: when a replica dies under a request (ray.kill, a crashed node), the
ingress sends it again, once, and the router picks a live replica.

    serve run serve_apps.recommend_app:build_app run_dir=runs/demo max_batch_size=32
"""

# No `from __future__ import annotations` here: FastAPI reads the ingress method's
# annotations at run time, and Serve's class-based ingress does not resolve string
# annotations (the request body would become a query parameter).

import logging
from pathlib import Path

import torch
from fastapi import FastAPI
from ray import serve
from ray.exceptions import RayActorError, WorkerCrashedError
from ray.serve.handle import DeploymentHandle

from adrec.serving.args import DEFAULT_MAX_BATCH_SIZE, AppArgs
from adrec.serving.batching import Batcher
from adrec.serving.http import API_INFO, error_response, install, json_body
from adrec.serving.models import (
    ERROR_RESPONSES,
    MAX_BODY_BYTES,
    RecommendRequest,
    RecommendResponse,
)
from adrec.serving.service import RecommendService, RequestError, query_of

logger = logging.getLogger("ray.serve")


def _total(batches: list) -> int:
    return sum(len(b) for b in batches)


def _split(flat: list, batches: list) -> list[list]:
    out, i = [], 0
    for b in batches:
        out.append(flat[i : i + len(b)])
        i += len(b)
    return out


class _Model:
    """A model deployment: its method takes a batch (a list) of the ingress's requests, and
    batches that wait at the replica at the same time are merged into one call."""

    def __init__(self, run_dir: str, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE):
        torch.set_num_threads(1)
        self.run_dir = run_dir
        self.service = RecommendService.load(run_dir)
        self.calls = 0
        self.requests = 0
        self._merged().set_max_batch_size(max_batch_size)

    def batch_stats(self) -> dict:
        """Model calls and requests so far (a call may hold several ingress batches)."""
        mean = self.requests / self.calls if self.calls else 0.0
        return {"batches": self.calls, "requests": self.requests, "mean": round(mean, 2)}

    def _count(self, batches: list) -> None:
        self.calls += 1
        self.requests += _total(batches)


_MERGE = {
    "max_batch_size": DEFAULT_MAX_BATCH_SIZE,
    "batch_wait_timeout_s": 0.0,
    "batch_size_fn": _total,
}


@serve.deployment(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=16)
class Detector(_Model):
    def _merged(self):
        return self.prepare

    def info(self) -> dict:
        return {"run_dir": self.run_dir, **self.service.info()}

    @serve.batch(**_MERGE)
    async def prepare(self, batches: list[list]) -> list[list]:
        """Queries -> Prepared (History, ignored events, anomaly) or RequestError, for every
        batch waiting: one detector call over all of them."""
        self._count(batches)
        return _split(self.service.prepare([q for b in batches for q in b]), batches)


@serve.deployment(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=16)
class Recommender(_Model):
    def _merged(self):
        return self.answer

    @serve.batch(**_MERGE)
    async def answer(self, batches: list[list]) -> list[list]:
        """Prepared -> the response body (JSON bytes), or the RequestError passed on: one
        pass of the sources (one sequential-model forward) over every batch waiting."""
        self._count(batches)
        return _split(self.service.answer([p for b in batches for p in b]), batches)


api = FastAPI(**API_INFO)
install(api)


def replica_died(exc: BaseException) -> bool:
    """Whether a handle call failed because a replica (or its worker) died: Ray wraps the
    error once per hop, so look through the causes."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, RayActorError | WorkerCrashedError):
            return True
        exc = getattr(exc, "cause", None) or exc.__cause__
        seen += 1
    return False


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)
@serve.ingress(api)
class Ingress:
    def __init__(
        self,
        detector: DeploymentHandle,
        recommender: DeploymentHandle,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        batch_wait_timeout_s: float = 0.0,
        max_batches_in_flight: int = 2,
        max_body_bytes: int = MAX_BODY_BYTES,
    ):
        self.detector = detector
        self.recommender = recommender
        self.batcher = Batcher(self._send, max_batch_size, max_batches_in_flight,
                               batch_wait_timeout_s)  # fmt: skip
        api.state.max_body_bytes = max_body_bytes
        self.retried = 0

    @api.get("/healthz")
    async def healthz(self) -> dict:
        return {"status": "ok", **(await self.detector.info.remote())}

    @api.post("/v1/recommend", response_model=RecommendResponse, responses=ERROR_RESPONSES)
    async def recommend(self, request: RecommendRequest):
        try:
            return json_body(await self.batcher.submit(query_of(request)))
        except RequestError as exc:
            return error_response(422, [exc.problem()])

    async def _send(self, queries: list) -> list:
        """One batch through the graph; sent once more if a replica died under it (the
        requests are idempotent)."""
        for attempt in (1, 2):
            try:
                prepared = self.detector.prepare.remote(queries)
                return await self.recommender.answer.remote(prepared)
            except Exception as exc:
                if attempt == 2 or not replica_died(exc):
                    raise
                self.retried += 1
                logger.warning("a replica died under %d requests; sending them again: %s",
                               len(queries), exc)  # fmt: skip

    def batch_stats(self) -> dict:
        return {**self.batcher.stats(), "retried_batches": self.retried}


def build_app(args: AppArgs | dict) -> serve.Application:
    args = AppArgs.model_validate(args)

    def replicas(n: int | None) -> dict:
        return {"num_replicas": n} if n else {}

    models = {"max_ongoing_requests": args.model_max_ongoing_requests}
    detector = Detector.options(**models, **replicas(args.detector_replicas))
    recommender = Recommender.options(**models, **replicas(args.recommender_replicas))
    ingress = Ingress.options(
        max_ongoing_requests=args.max_ongoing_requests, **replicas(args.ingress_replicas)
    )
    return ingress.bind(
        detector.bind(args.run_dir, args.max_batch_size),
        recommender.bind(args.run_dir, args.max_batch_size),
        args.max_batch_size,
        args.batch_wait_timeout_s,
        args.max_batches_in_flight,
        args.max_body_bytes,
    )


def deploy(
    run_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str = "adrec",
    **options,
) -> str:
    """Start Serve's HTTP proxy and deploy a run on the connected cluster; returns the
    proxy's URL (see direct_urls for the ingress replicas' own ports). `options`: the other
    AppArgs (replicas, max_ongoing_requests, batch size and wait, ...)."""
    args = AppArgs(run_dir=str(Path(run_dir).resolve()), **options)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(args), name=name, route_prefix="/")
    return f"http://{host}:{port}"


def direct_urls(name: str = "adrec", host: str = "127.0.0.1") -> list[str]:
    """URLs of the ingress replicas' own HTTP servers where Serve runs with direct ingress
    (RAY_SERVE_THROUGHPUT_OPTIMIZED=1 when the cluster started; adrec.serving.cluster_env),
    else []. Asks the Serve controller for the application's targets (an alpha API)."""
    import ray
    from ray.serve._private.constants import SERVE_CONTROLLER_NAME, SERVE_NAMESPACE

    try:
        controller = ray.get_actor(SERVE_CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
        groups = ray.get(controller.get_target_groups.remote(name), timeout=30)
    except Exception:  # noqa: BLE001 - no controller, an older Ray: no direct ingress
        return []
    return [
        f"http://{host}:{t.port}"
        for g in groups
        if getattr(g, "ingress_deployment_name", None) and g.app_name == name
        for t in g.targets
        if t.name.startswith("SERVE_REPLICA::")
    ]


def undeploy() -> None:
    serve.shutdown()
