"""The same API in one plain process (FastAPI + uvicorn, no Ray): for a single machine, and
the reference the Serve graph is measured against.

    uvicorn --factory adrec.serving.plain:app_from_env   (ADREC_RUN_DIR=runs/demo)
"""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException

from adrec.dashboard import mount_dashboard
from adrec.errors import BadEventsError
from adrec.serving.http import API_INFO, install_error_handlers
from adrec.serving.models import ERROR_RESPONSES, RecommendRequest, RecommendResponse
from adrec.serving.service import RecommendService


def create_app(service: RecommendService) -> FastAPI:
    app = install_error_handlers(FastAPI(**API_INFO))

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", **service.info()}

    @app.post("/v1/recommend", response_model=RecommendResponse, responses=ERROR_RESPONSES)
    def recommend(request: RecommendRequest) -> dict:
        try:
            return service.recommend(request)
        except BadEventsError as exc:
            raise HTTPException(422, detail=str(exc)) from None

    return app


def app_from_env() -> FastAPI:
    run_dir = os.environ.get("ADREC_RUN_DIR")
    if not run_dir:
        raise RuntimeError("set ADREC_RUN_DIR to a trained run directory")
    service = RecommendService.load(run_dir)
    return mount_dashboard(create_app(service), run_dir, engine=service.engine)
