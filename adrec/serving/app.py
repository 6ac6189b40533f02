"""The served graph on Ray Serve: Ingress (FastAPI) -> Detector -> Recommender.

The detector deployment scores the user's behaviour window; its DeploymentResponse is passed
straight into the recommender's call, so the anomaly score is an input of the recommender
without a round trip through the ingress. Both load the same run directory through
adrec.serving.service, the code a plain process would serve too.

    serve run serve_apps.recommend_app:build_app run_dir=runs/demo
"""

# No `from __future__ import annotations` here: Serve's class-based FastAPI ingress must see
# the request model itself, not its name, or the body is taken for a query parameter (422).
from pathlib import Path

import torch
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from ray import serve
from ray.serve.handle import DeploymentHandle

from adrec.dashboard import mount_dashboard
from adrec.dashboard.serve_metrics import detector_info
from adrec.errors import BadEventsError
from adrec.serving.http import API_INFO, install_error_handlers
from adrec.serving.models import ERROR_RESPONSES, RecommendRequest, RecommendResponse
from adrec.serving.service import RecommendService


@serve.deployment(ray_actor_options={"num_cpus": 0.5})
class Detector:
    def __init__(self, run_dir: str):
        torch.set_num_threads(1)
        self.service = RecommendService.load(run_dir)
        self.run_dir = run_dir

    def info(self) -> dict:
        return {"run_dir": self.run_dir, **self.service.info()}

    def score(self, request: RecommendRequest) -> dict:
        return self.service.anomaly(request)


@serve.deployment(ray_actor_options={"num_cpus": 0.5})
class Recommender:
    def __init__(self, run_dir: str):
        torch.set_num_threads(1)
        self.service = RecommendService.load(run_dir)

    def recommend(self, request: RecommendRequest, anomaly: dict) -> dict:
        return self.service.recommend(request, anomaly)


api = install_error_handlers(FastAPI(**API_INFO))
# The dashboard at /dashboard/ over the detector's run, with the Serve application's metrics.
mount_dashboard(api, run_dir=detector_info, live="serve")


def _cause(exc: BaseException) -> BaseException:
    """The exception first raised inside a deployment: Ray wraps it once per hop."""
    while getattr(exc, "cause", None) is not None:
        exc = exc.cause
    return exc


@serve.deployment(ray_actor_options={"num_cpus": 0.25})
@serve.ingress(api)
class Ingress:
    def __init__(self, detector: DeploymentHandle, recommender: DeploymentHandle):
        self.detector = detector
        self.recommender = recommender

    @api.get("/healthz")
    async def healthz(self) -> dict:
        return {"status": "ok", **(await self.detector.info.remote())}

    @api.post("/v1/recommend", response_model=RecommendResponse, responses=ERROR_RESPONSES)
    async def recommend(self, request: RecommendRequest) -> dict:
        anomaly = self.detector.score.remote(request)
        try:
            return await self.recommender.recommend.remote(request, anomaly)
        except Exception as exc:  # noqa: BLE001 - a request error becomes a 422, else re-raised
            cause = _cause(exc)
            if isinstance(cause, BadEventsError):
                raise HTTPException(422, detail=str(cause)) from None
            raise


class AppArgs(BaseModel):
    run_dir: str = Field(description="A trained run directory (adrec train / adrec demo)")
    detector_replicas: int | None = Field(
        None, ge=1, description="Fixed replica count; leave unset to use the config's autoscaling"
    )
    recommender_replicas: int | None = Field(None, ge=1)


def build_app(args: AppArgs | dict) -> serve.Application:
    args = AppArgs.model_validate(args)
    detector, recommender = Detector, Recommender
    if args.detector_replicas:
        detector = detector.options(num_replicas=args.detector_replicas)
    if args.recommender_replicas:
        recommender = recommender.options(num_replicas=args.recommender_replicas)
    return Ingress.bind(detector.bind(args.run_dir), recommender.bind(args.run_dir))


def deploy(
    run_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, name: str = "adrec"
) -> str:
    """Start Serve's HTTP proxy and deploy a run on the connected cluster; returns the URL."""
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app({"run_dir": str(Path(run_dir).resolve())}), name=name, route_prefix="/")
    return f"http://{host}:{port}"


def undeploy() -> None:
    serve.shutdown()
