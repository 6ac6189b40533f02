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

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from adrec.dashboard.data import RunData
from adrec.dashboard.live import LiveMetrics, LiveMetricsMiddleware
from adrec.dashboard.page import STATIC, STATIC_FILES, page_html

PREFIX = "/dashboard"


RunDirSource = str | Path | Callable[[], Awaitable]

# Every status a view answers is in the OpenAPI document (the API's fuzz tests check it).
_NOT_ATTACHED = {
    404: {"description": "The run directory has no batch scores (scores.parquet) to show"},
    503: {"description": "No run directory is attached yet"},
}
_NO_USER = {
    404: {"description": "The run scored no window of this user, or it has no batch scores"}
}
_COMPUTING = {
    202: {"description": "The accuracy is being computed; ask again"},
    500: {"description": "The accuracy could not be computed from this run"},
}


class Dashboard:
    """What the router serves: a run's data and a source of live numbers (an object with
    `snapshot() -> dict`), if any. The run directory may be given later (`attach`) or as an
    async callable that returns it (or a dict with "run_dir", such as a Serve detector's
    info), resolved on the first request: for an app built before it knows its run."""

    def __init__(self, data: RunData | None = None, live=None):
        self.data = data
        self.live = live
        self._warming = None
        self._source: Callable[[], Awaitable] | None = None
        self._options: dict = {}
        self._resolving = asyncio.Lock()
        self.unavailable: str | None = None  # why the attached run has nothing to show

    def attach(
        self, run_dir: str | Path, logs=None, engine=None, warm: bool = True
    ) -> RunData | None:
        """Attach a run; one without batch scores (a run saved from Python, not `adrec
        train`) leaves the dashboard answering 404 with the reason, and the app it is
        mounted on serving as before."""
        try:
            self.data = RunData(run_dir, logs, engine)
        except FileNotFoundError:
            self.unavailable = (
                "the run directory has no batch scores (scores.parquet): `adrec train` "
                "writes them, `adrec score` writes them for a run saved otherwise"
            )
            return None
        self.unavailable = None
        if warm:
            self._warming = self.data.warm()
        return self.data

    def attach_later(self, source: Callable[[], Awaitable], **options) -> None:
        self._source, self._options = source, options

    async def run(self) -> RunData:
        if self.data is None and self._source is not None:
            async with self._resolving:
                if self.data is None:
                    found = await self._source()
                    run_dir = found["run_dir"] if isinstance(found, dict) else found
                    await run_in_threadpool(self.attach, run_dir, **self._options)
        if self.data is None and self.unavailable:
            raise HTTPException(404, detail=self.unavailable)
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

    # The views read files and compute: in the thread pool, never on the event loop.
    @router.get("/api/summary", summary="The run: detector, threshold, blend, data report",
                responses=_NOT_ATTACHED)  # fmt: skip
    async def summary() -> dict:
        return await run_in_threadpool((await dashboard.run()).summary)

    @router.get("/api/population", summary="Per day: users flagged, recall, false alarms",
                responses=_NOT_ATTACHED)  # fmt: skip
    async def population() -> dict:
        return await run_in_threadpool((await dashboard.run()).population)

    @router.get("/api/users", summary="Users whose id contains q, most anomalous first",
                responses=_NOT_ATTACHED)  # fmt: skip
    async def users(q: str = Query("", max_length=256), limit: int = Query(50, ge=1, le=500),
                    offset: int = Query(0, ge=0)) -> dict:  # fmt: skip
        return await run_in_threadpool((await dashboard.run()).users, q, limit, offset)

    @router.get("/api/users/{user_id:path}", summary="One user's scores, episodes and weights",
                responses={**_NO_USER, **_NOT_ATTACHED})  # fmt: skip
    async def user(user_id: str) -> dict:
        data = await dashboard.run()
        if not await run_in_threadpool(data.has_user, user_id):
            raise HTTPException(404, detail=f"no scored windows for user {user_id!r}")
        return await run_in_threadpool(data.user, user_id)

    @router.get("/api/accuracy", summary="NDCG@10 / HR@10 per period (202 while computing)",
                responses={**_COMPUTING, **_NOT_ATTACHED})  # fmt: skip
    async def accuracy():
        data = await dashboard.run()
        result = await run_in_threadpool(data.accuracy, False)
        if result is not None:
            return result
        if dashboard._warming is None or not dashboard._warming.is_alive():
            if data.accuracy_error:
                raise HTTPException(500, detail=f"the accuracy could not be computed: "
                                    f"{data.accuracy_error}")  # fmt: skip
            dashboard._warming = data.warm()
        return JSONResponse({"status": "computing"}, status_code=202)

    @router.get("/api/live", summary="Requests, latency percentiles, anomalous share")
    async def live() -> dict:
        if dashboard.live is None:
            return {"source": None, "note": "this app keeps no live metrics"}
        return await run_in_threadpool(dashboard.live.snapshot)

    return router


def mount_dashboard(
    app: FastAPI,
    run_dir: RunDirSource | None = None,
    logs: str | Path | None = None,
    engine=None,
    live: bool | LiveMetrics | object | None = True,
    warm: bool = True,
    live_view: object | None = None,
) -> FastAPI:
    """Serve the dashboard of `run_dir` on `app` at /dashboard/ (returns the app).

    `run_dir`: a run directory, or an async callable returning it (or a dict holding
    "run_dir"), awaited on the first request. `live`: True counts the app's own recommend
    requests in new LiveMetrics, a LiveMetrics instance counts them there (both through the
    LiveMetricsMiddleware); any other object with `snapshot()` is shown as it is; None shows
    no live numbers. `live_view`: an object with `snapshot()` shown instead of the counters
    (the Serve graph shows the application's own metrics: distributed.serve_metrics)."""
    dashboard = Dashboard()
    if live is True:
        live = LiveMetrics()
    if isinstance(live, LiveMetrics):
        app.add_middleware(LiveMetricsMiddleware, metrics=live)
    live = live_view if live_view is not None else live
    dashboard.live = live or None
    if callable(run_dir):
        dashboard.attach_later(run_dir, logs=logs, engine=engine, warm=warm)
    elif run_dir is not None:
        dashboard.attach(run_dir, logs, engine, warm)
    app.include_router(dashboard_router(dashboard))
    app.state.adrec_dashboard = dashboard
    return app
