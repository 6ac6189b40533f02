"""The served graph on Ray Serve: Ingress (FastAPI) -> Detector -> Recommender.

The ingress serves the API (adrec.serving.http.create_api, the plain process's API too): it
parses and validates each request into a compact Query (arrays; no model needed) and hands it
to a continuous batcher (adrec.serving.batching). Each batch crosses the graph as one call
per deployment: the Detector builds every user's History once and scores the behaviour
windows in one detector call; its DeploymentResponse is passed straight into the
Recommender's call, so the Recommender receives the Histories and the anomaly scores without
a round trip through the ingress and without parsing the requests or building the Histories
again. The Recommender runs the sources once for the batch (one sequential-model forward),
ranks each request with its own k and returns the response bodies already encoded; the
ingress sends those bytes. Batches that wait at a model replica together are merged into
one call (`@serve.batch`).

Requests are idempotent: when a replica dies under a batch (ray.kill, a crashed node), the
ingress sends the batch again, once, and the router picks a live replica.

Serve's throughput mode (adrec.serving.cluster_env: direct ingress, gRPC between
deployments) is a setting of the cluster, not of this application.

    serve run serve_apps.recommend_app:build_app run_dir=runs/demo max_batch_size=32
"""

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import torch
from ray import serve
from ray.exceptions import RayActorError, WorkerCrashedError
from ray.serve.handle import DeploymentHandle

from adrec.dashboard import mount_dashboard
from adrec.distributed.serve_metrics import live_metrics
from adrec.serving.args import DEFAULT_MAX_BATCH_SIZE, AppArgs
from adrec.serving.batching import Batcher
from adrec.serving.http import create_api
from adrec.serving.image_api import add_image_route
from adrec.serving.models import MAX_BODY_BYTES, RecommendRequest
from adrec.serving.service import RecommendService, query_of

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


@serve.deployment(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=8)
class ImageScorer:
    """A saved image detector scoring uploads for POST /v1/score/image (in the graph when
    AppArgs.image_detector is set). A rejected upload comes back as {"status", "message"}
    rather than raised, so the ingress answers its 4xx without unwrapping a Ray error."""

    def __init__(self, path: str):
        from adrec.detectors.image.base import ImageDetector
        from adrec.detectors.registry import load_detector

        torch.set_num_threads(1)
        self.detector = load_detector(path)
        if not isinstance(self.detector, ImageDetector):
            raise ValueError(f"{path} holds {self.detector.name!r}, not an image detector")

    def score(self, data: bytes) -> dict:
        from adrec.detectors.image.upload import UploadError, score_upload

        try:
            return {"verdict": score_upload(self.detector, data).to_dict()}
        except UploadError as exc:
            return {"status": exc.status, "message": str(exc)}


def replica_died(exc: BaseException) -> bool:
    """Whether a handle call failed because a replica (or its worker) died: Ray wraps the
    error once per hop (an upstream replica's death reaches a chained call as a
    RayServeException caused by it), so look through the causes."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, RayActorError | WorkerCrashedError):
            return True
        exc = getattr(exc, "cause", None) or exc.__cause__
        seen += 1
    return False


async def once_more_if_a_replica_dies(call: Callable[[], Awaitable], on_retry=None):
    """`await call()`, and once more if it failed because a replica died under it (the
    router has by then taken the dead replica out, so the second try goes to a live one).
    Only for idempotent calls."""
    try:
        return await call()
    except Exception as exc:
        if not replica_died(exc):
            raise
        logger.warning("a replica died under a request; sending it again: %s", exc)
        if on_retry is not None:
            on_retry()
    return await call()


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)
@serve.ingress()
class Ingress:
    """The API (adrec.serving.http.create_api, built per replica with its settings) over
    the batcher that sends the waiting requests through the model deployments together."""

    def __init__(
        self,
        detector: DeploymentHandle,
        recommender: DeploymentHandle,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        batch_wait_timeout_s: float = 0.0,
        max_batches_in_flight: int = 2,
        max_body_bytes: int = MAX_BODY_BYTES,
        image_scorer: DeploymentHandle | None = None,
    ):
        self.detector = detector
        self.recommender = recommender
        self.image_scorer = image_scorer
        self.batcher = Batcher(self._send, max_batch_size, max_batches_in_flight,
                               batch_wait_timeout_s)  # fmt: skip
        self.max_body_bytes = max_body_bytes
        self.retried = 0

    def __serve_build_asgi_app__(self):
        api = create_api(self._recommend, self._health, self.max_body_bytes)
        if self.image_scorer is not None:
            add_image_route(api, self._score_image)
        # The dashboard at /dashboard/ over the detector's run (asked on its first request),
        # with the Serve application's own metrics.
        counters, view = live_metrics()
        return mount_dashboard(api, run_dir=self._health, live=counters, live_view=view)

    async def _recommend(self, request: RecommendRequest) -> bytes:
        return await self.batcher.submit(query_of(request))

    async def _score_image(self, data: bytes) -> dict:
        from adrec.detectors.image.upload import UploadError

        out = await self.image_scorer.score.remote(data)
        if "status" in out:
            raise UploadError(out["message"], out["status"])
        return out["verdict"]

    async def _health(self) -> dict:
        return await self.detector.info.remote()

    async def _send(self, queries: list) -> list:
        """One batch through the graph; sent once more if a replica died under it (the
        requests are idempotent)."""

        async def through_the_graph():
            prepared = self.detector.prepare.remote(queries)
            return await self.recommender.answer.remote(prepared)

        return await once_more_if_a_replica_dies(through_the_graph, self._count_retry)

    def _count_retry(self) -> None:
        self.retried += 1

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
        ImageScorer.bind(args.image_detector) if args.image_detector else None,
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


def undeploy(name: str = "adrec", stop_serve: bool = True) -> None:
    """Remove the application `name`. stop_serve: stop Serve itself too (its controller and
    proxies), for a cluster this process started; on a cluster it joined, other teams'
    applications keep running, so only this one is deleted."""
    if stop_serve:
        serve.shutdown()
    else:
        serve.delete(name)
