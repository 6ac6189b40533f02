"""The dashboard as a FastAPI router: the page, its static assets and JSON endpoints over one
run directory, mounted on any app with one call:

    mount_dashboard(app, run_dir)        # -> GET /dashboard/ (and /dashboard/api/...)

Endpoints (all GET, under /dashboard):
    /                     the page (Chart.js, vendored under static/)
    /static/{name}        the page's script, style sheet and Chart.js
    /api/summary          the run: detector, threshold, served blend, data, detection
    /api/population       per day: users flagged, recall and false alarms; score histogram
    /api/users?q=&limit=  the user picker's search (most anomalous first)
    /api/users/{user_id}  one user's scores, episodes, events and source weights
    /api/accuracy         NDCG@10 / HR@10 per period with intervals (202 while computing)
    /api/live             requests, latency percentiles, anomalous share of the service
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from adrec.dashboard.data import RunData
from adrec.dashboard.live import LiveMetrics, LiveMetricsMiddleware
from adrec.dashboard.page import STATIC, STATIC_FILES, page_html

PREFIX = "/dashboard"


class Dashboard:
    """What the router serves: a run's data (attached now or later, e.g. once a Serve
    replica knows its run directory) and a source of live numbers (an object with
    `snapshot() -> dict`), if any."""

    def __init__(self, data: RunData | None = None, live=None):
        self.data = data
        self.live = live
        self._warming = None

    def attach(self, run_dir: str | Path, logs=None, engine=None, warm: bool = True) -> RunData:
        self.data = RunData(run_dir, logs, engine)
        if warm:
            self._warming = self.data.warm()
        return self.data

    def run(self) -> RunData:
        if self.data is None:
            raise HTTPException(503, detail="the dashboard has no run directory attached yet")
        return self.data


def dashboard_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["dashboard"])

    @router.get("", include_in_schema=False)
    def to_page() -> RedirectResponse:
        # relative, so the page's relative links work under any route prefix
        return RedirectResponse("dashboard/", status_code=307)

    @router.get("/", response_class=HTMLResponse, summary="The dashboard page")
    def page() -> HTMLResponse:
        return HTMLResponse(page_html(), headers={"Cache-Control": "no-cache"})

    @router.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, detail=f"no static file {name!r}")
        return FileResponse(STATIC / STATIC_FILES[name],
                            headers={"Cache-Control": "max-age=3600"})  # fmt: skip

    @router.get("/api/summary", summary="The run: detector, threshold, blend, data report")
    def summary() -> dict:
        return dashboard.run().summary()

    @router.get("/api/population", summary="Per day: users flagged, recall, false alarms")
    def population() -> dict:
        return dashboard.run().population()

    @router.get("/api/users", summary="Users whose id contains q, most anomalous first")
    def users(q: str = Query("", max_length=256), limit: int = Query(50, ge=1, le=500),
              offset: int = Query(0, ge=0)) -> dict:  # fmt: skip
        return dashboard.run().users(q, limit, offset)

    @router.get("/api/users/{user_id:path}", summary="One user's scores, episodes and weights")
    def user(user_id: str) -> dict:
        data = dashboard.run()
        if not data.has_user(user_id):
            raise HTTPException(404, detail=f"no scored windows for user {user_id!r}")
        return data.user(user_id)

    @router.get("/api/accuracy", summary="NDCG@10 / HR@10 per period (202 while computing)")
    def accuracy():
        data = dashboard.run()
        result = data.accuracy(compute=False)
        if result is not None:
            return result
        if dashboard._warming is None or not dashboard._warming.is_alive():
            if data.accuracy_error:
                raise HTTPException(500, detail=f"the accuracy could not be computed: "
                                    f"{data.accuracy_error}")  # fmt: skip
            dashboard._warming = data.warm()
        return JSONResponse({"status": "computing"}, status_code=202)

    @router.get("/api/live", summary="Requests, latency percentiles, anomalous share")
    def live() -> dict:
        if dashboard.live is None:
            return {"source": None, "note": "this app keeps no live metrics"}
        return dashboard.live.snapshot()

    return router


def mount_dashboard(
    app: FastAPI,
    run_dir: str | Path | None = None,
    logs: str | Path | None = None,
    engine=None,
    live: LiveMetrics | Callable | None | bool = True,
    warm: bool = True,
) -> FastAPI:
    """Serve the dashboard of `run_dir` on `app` at /dashboard (returns the app). `live`:
    True counts the app's own recommend requests (LiveMetrics middleware), or an object with
    `snapshot()`, or None. Without `run_dir`, attach one later:
    `app.state.adrec_dashboard.attach(run_dir)`."""
    dashboard = Dashboard()
    if live is True:
        live = LiveMetrics()
        app.add_middleware(LiveMetricsMiddleware, metrics=live)
    dashboard.live = live or None
    if run_dir is not None:
        dashboard.attach(run_dir, logs, engine, warm)
    app.include_router(dashboard_router(dashboard))
    app.state.adrec_dashboard = dashboard
    return app
