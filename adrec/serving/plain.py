"""The same API in one plain process (FastAPI + uvicorn, no Ray): for a single machine, and
the reference the Serve graph is measured against (benchmarks/serve_load.py).

    ADREC_RUN_DIR=runs/demo uvicorn --factory adrec.serving.plain:app_from_env

Each request is answered alone, in uvicorn's thread pool (as FastAPI runs a sync endpoint).
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from adrec.dashboard import mount_dashboard
from adrec.serving.http import create_api
from adrec.serving.models import MAX_BODY_BYTES, RecommendRequest
from adrec.serving.service import RecommendService


def create_app(service: RecommendService, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    async def recommend(request: RecommendRequest) -> bytes:
        return await run_in_threadpool(service.recommend, request)

    async def health() -> dict:
        return service.info()

    return create_api(recommend, health, max_body_bytes)


def app_from_env() -> FastAPI:
    run_dir = os.environ.get("ADREC_RUN_DIR")
    if not run_dir:
        raise RuntimeError("set ADREC_RUN_DIR to a trained run directory")
    service = RecommendService.load(run_dir)
    return mount_dashboard(create_app(service), run_dir, engine=service.engine)
