"""The same API in one plain process (FastAPI + uvicorn, no Ray): for a single machine, and
the reference the Serve graph is measured against (benchmarks/serve_load.py).

    ADREC_RUN_DIR=runs/demo uvicorn --factory adrec.serving.plain:app_from_env
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from adrec.serving.http import API_INFO, error_response, install, json_body
from adrec.serving.models import ERROR_RESPONSES, RecommendRequest, RecommendResponse
from adrec.serving.service import RecommendService, RequestError


def create_app(service: RecommendService, max_body_bytes: int | None = None) -> FastAPI:
    app = FastAPI(**API_INFO)
    install(app, **({"max_body_bytes": max_body_bytes} if max_body_bytes else {}))

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", **service.info()}

    @app.post("/v1/recommend", response_model=RecommendResponse, responses=ERROR_RESPONSES)
    def recommend(request: RecommendRequest):
        try:
            return json_body(service.recommend(request))
        except RequestError as exc:
            return error_response(422, [exc.problem()])

    return app


def app_from_env() -> FastAPI:
    run_dir = os.environ.get("ADREC_RUN_DIR")
    if not run_dir:
        raise RuntimeError("set ADREC_RUN_DIR to a trained run directory")
    return create_app(RecommendService.load(run_dir))
