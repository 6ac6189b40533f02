"""The same API in one plain process (FastAPI + uvicorn, no Ray): for a single machine, and
the reference the Serve graph is measured against (benchmarks/serve_load.py).

    ADREC_RUN_DIR=runs/demo uvicorn --factory adrec.serving.plain:app_from_env

With ADREC_IMAGE_DETECTOR set to a saved image detector it also serves POST /v1/score/image
(adrec.serving.image_api).

Each request is answered alone, in uvicorn's thread pool (as FastAPI runs a sync endpoint).
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from adrec.dashboard import mount_dashboard
from adrec.serving.http import create_api
from adrec.serving.image_api import ScoreImage, add_image_route, image_scorer
from adrec.serving.models import MAX_BODY_BYTES, RecommendRequest
from adrec.serving.service import RecommendService


def create_app(
    service: RecommendService,
    max_body_bytes: int = MAX_BODY_BYTES,
    score_image: ScoreImage | None = None,
) -> FastAPI:
    async def recommend(request: RecommendRequest) -> bytes:
        return await run_in_threadpool(service.recommend, request)

    async def health() -> dict:
        return service.info()

    app = create_api(recommend, health, max_body_bytes)
    return app if score_image is None else add_image_route(app, score_image)


def app_from_env() -> FastAPI:
    run_dir = os.environ.get("ADREC_RUN_DIR")
    if not run_dir:
        raise RuntimeError("set ADREC_RUN_DIR to a trained run directory")
    service = RecommendService.load(run_dir)
    image_detector = os.environ.get("ADREC_IMAGE_DETECTOR")
    score_image = image_scorer(image_detector) if image_detector else None
    app = create_app(service, score_image=score_image)
    return mount_dashboard(app, run_dir, engine=service.engine)
