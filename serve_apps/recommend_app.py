"""The served graph: Ingress (FastAPI) -> BehaviorDetector -> Recommender.

The detector's DeploymentResponse is passed straight into the recommender's call, so its
anomaly score is an input of the recommender without a round trip through the ingress.

    serve run serve_apps.recommend_app:build_app run_dir=runs/demo
"""

from pathlib import Path

import pandas as pd
import torch
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from ray import serve
from ray.serve.handle import DeploymentHandle

from adrec.api import RecommendRequest, RecommendResponse
from adrec.artifacts import load_recommender, load_scorer
from adrec.errors import BadEventsError, UnknownUserError


def _frame(events: list[dict]) -> pd.DataFrame:
    return pd.DataFrame.from_records(events)


@serve.deployment(ray_actor_options={"num_cpus": 0.5})
class BehaviorDetector:
    def __init__(self, run_dir: str):
        torch.set_num_threads(1)
        self.scorer = load_scorer(run_dir)
        self.run_dir = run_dir

    def info(self) -> dict:
        return {
            "run_dir": self.run_dir,
            "users": len(self.scorer.profiles),
            "detector": self.scorer.detector.name,
            "threshold": self.scorer.detector.threshold_,
        }

    def score(self, user_id: int, events: list[dict]) -> dict:
        return self.scorer.score(user_id, _frame(events))


@serve.deployment(ray_actor_options={"num_cpus": 0.5})
class Recommender:
    def __init__(self, run_dir: str):
        torch.set_num_threads(1)
        self.engine = load_recommender(run_dir)

    def recommend(self, user_id: int, events: list[dict], k: int, anomaly: dict) -> dict:
        result = self.engine.recommend(user_id, _frame(events), anomaly["calibrated"], k)
        return {
            "user_id": user_id,
            "anomaly": {
                key: anomaly[key] for key in ("score", "calibrated", "threshold", "is_anomalous")
            },
            "weights": result["weights"],
            "emerging_categories": result["emerging_categories"],
            "items": result["items"],
            "ignored_events": {
                "unknown_category": anomaly["unknown_category_events"],
                "unknown_item": result["unknown_item_events"],
            },
        }


api = FastAPI(
    title="adrec",
    description="Anomaly-aware recommendations: a user's behaviour is scored against their own "
    "normal, and the score moves the blend of long-term and new-direction candidates.",
    version="1",
)


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

    @api.post("/v1/recommend", response_model=RecommendResponse)
    async def recommend(self, request: RecommendRequest) -> dict:
        events = request.event_records()
        anomaly = self.detector.score.remote(request.user_id, events)
        try:
            return await self.recommender.recommend.remote(
                request.user_id, events, request.k, anomaly
            )
        except Exception as exc:  # noqa: BLE001 - mapped to 4xx below or re-raised
            cause = _cause(exc)
            if isinstance(cause, UnknownUserError):
                raise HTTPException(404, detail=f"user_id: {cause}") from None
            if isinstance(cause, BadEventsError):
                raise HTTPException(422, detail=f"events: {cause}") from None
            raise


class AppArgs(BaseModel):
    run_dir: str = Field(description="A trained run directory (adrec train / adrec demo)")
    detector_replicas: int | None = Field(
        None, ge=1, description="Fixed replica count; leave unset to use the config's autoscaling"
    )
    recommender_replicas: int | None = Field(None, ge=1)


def build_app(args: AppArgs | dict) -> serve.Application:
    args = AppArgs.model_validate(args)
    detector, recommender = BehaviorDetector, Recommender
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
