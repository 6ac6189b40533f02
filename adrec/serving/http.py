"""The HTTP API every front end of adrec serves (create_api): its routes, description,
error bodies and request size limit. The plain process and the Serve ingress build it with
their own way of answering, so both serve one API and one OpenAPI document.

Every 4xx body is an ErrorBody: per problem, where it is (`loc`, e.g. ["body", "events", 3,
"value"]), what is wrong and its type, and `fields`, the fields at fault in one line. The
input itself is never echoed: it may be large, or hold numbers (NaN, Infinity) that JSON
cannot carry. Long names (an unknown 1 MB field name) are cut, and at most MAX_PROBLEMS
problems are listed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from adrec.serving.models import (
    ERROR_RESPONSES,
    MAX_BODY_BYTES,
    RecommendRequest,
    RecommendResponse,
)

API_INFO = {
    "title": "adrec",
    "description": "Anomaly-aware recommendations: a user's recent behaviour is scored against "
    "their own past, and the score moves the blend of long-term and new-direction candidates.",
    "version": "2",
}
MAX_PROBLEMS = 20
_MAX_NAME = 64
_MAX_MSG = 300


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _problem(error: dict) -> dict:
    loc = [p if isinstance(p, int) else _cut(str(p), _MAX_NAME) for p in error.get("loc", ())]
    return {"loc": loc, "msg": _cut(str(error.get("msg", "")), _MAX_MSG),
            "type": _cut(str(error.get("type", "")), _MAX_NAME)}  # fmt: skip


def _where(problem: dict) -> str:
    loc = problem["loc"]
    if problem["type"] == "json_invalid" or len(loc) < 2:  # ["body", <character position>]
        return str(loc[0]) if loc else "body"
    return ".".join(str(p) for p in loc[1:])


def error_body(errors: list[dict]) -> dict:
    problems = [_problem(e) for e in errors[:MAX_PROBLEMS]]
    where = [_where(e) for e in problems]
    more = len(errors) - len(problems)
    return {"detail": problems, "fields": "; ".join(where) + (f"; and {more} more" if more else "")}


def error_response(status: int, errors: list[dict]) -> JSONResponse:
    return JSONResponse(error_body(errors), status_code=status)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(422, list(exc.errors()))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """FastAPI's own errors (a body it cannot parse: 400; no such path: 404; method: 405) in
    the API's error body."""
    where = "body" if exc.status_code in (400, 413) else "path"
    msg = str(exc.detail)
    if exc.status_code == 400 and msg == "There was an error parsing the body":
        msg = ("the body cannot be read as JSON text: it is not UTF-8, or it holds a number "
               "of more than 4300 digits or arrays nested too deep")  # fmt: skip
    body = error_body([{"loc": [where], "msg": msg, "type": "http_error"}])
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> FastAPI:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    return app


def json_body(body: bytes) -> Response:
    """A response body the service already encoded."""
    return Response(body, media_type="application/json")


class BodySizeLimit:
    """ASGI middleware: a request body over the limit is answered 413 before anything parses
    it (at once when Content-Length says so, else as soon as the streamed body passes the
    limit)."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.max_bytes
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._too_large(send, limit)
        chunks, size, last = [], 0, None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                last = message  # the client left; the app sees it after the body
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await self._too_large(send, limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return last if last is not None else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(send, limit: int) -> None:
        msg = f"the request body is larger than the limit of {limit} bytes"
        response = error_response(413, [{"loc": ["body"], "msg": msg, "type": "too_large"}])
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(response.body)).encode()),
                                (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": response.body})


def create_api(
    recommend: Callable[[RecommendRequest], Awaitable[bytes]],
    health: Callable[[], Awaitable[dict]],
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API: POST /v1/recommend answered by `recommend` (the response body as JSON bytes;
    a RequestError is a 422 naming the field), GET /healthz by `health`."""
    from adrec.serving.service import RequestError

    app = install_error_handlers(FastAPI(**API_INFO))
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", **(await health())}

    @app.post("/v1/recommend", response_model=RecommendResponse, responses=ERROR_RESPONSES)
    async def recommend_route(request: RecommendRequest):
        try:
            return json_body(await recommend(request))
        except RequestError as exc:
            return error_response(422, [exc.problem()])

    return app
