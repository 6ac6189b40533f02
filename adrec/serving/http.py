"""What every HTTP front end of adrec shares: the API's description and error handling.

A validation error answers 422 with, per problem, where it is (`loc`, e.g. ["body",
"events", 3, "value"]) and what is wrong, without echoing the input back: the input may be
large, or hold numbers (NaN, Infinity) that JSON cannot carry."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

API_INFO = {
    "title": "adrec",
    "description": "Anomaly-aware recommendations: a user's recent behaviour is scored against "
    "their own past, and the score moves the blend of long-term and new-direction candidates.",
    "version": "2",
}


def _problem(error: dict) -> dict:
    return {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")),
            "type": str(error.get("type", ""))}  # fmt: skip


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_problem(e) for e in exc.errors()]
    where = "; ".join(".".join(str(p) for p in e["loc"][1:]) or "body" for e in errors[:5])
    return JSONResponse({"detail": errors, "fields": where}, status_code=422)


def install_error_handlers(app: FastAPI) -> FastAPI:
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app
