"""`POST /v1/score/image`: one uploaded image -> score, threshold, verdict and heatmap PNG
(adrec.detectors.image.upload does the work; this module is only the route).

The body is the image itself (any image Content-Type, e.g. `image/png`, or
`application/octet-stream`), or JSON `{"image": "<base64>"}` (a `data:image/...;base64,`
prefix is accepted). The answer is ImageVerdict.to_dict(): `detector`, `score`,
`threshold`, `calibrated` (in [0, 1], 0.5 at the threshold), `verdict` ("anomalous" or
"normal"), the upload's `width` / `height`, `heatmap_png_base64` (null for a method without
maps) and `map_range`. A rejected upload is a 4xx in the API's error body, saying why:
400 empty body, bad base64 or JSON without "image"; 413 over the byte or pixel limit; 415 not
an image; 422 a truncated or corrupt image.

Served by the plain process when ADREC_IMAGE_DETECTOR names a saved image detector
(adrec.serving.plain), and by the Serve graph's ingress over an ImageScorer deployment when
its AppArgs.image_detector does (adrec.distributed.serve_graph)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adrec.detectors.image.upload import MAX_BYTES, UploadError, decode_base64, score_upload
from adrec.serving.http import error_response

ScoreImage = Callable[[bytes], Awaitable[dict]]


def _rejected(exc: UploadError) -> JSONResponse:
    return error_response(exc.status, [{"loc": ["body"], "msg": str(exc), "type": "upload"}])


def upload_bytes(body: bytes, content_type: str, max_bytes: int = MAX_BYTES) -> bytes:
    """The image bytes of a request body: the body itself, or the base64 `image` field of a
    JSON body. Raises UploadError (400) for JSON without a base64 string under "image"."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        return body
    try:
        text = json.loads(body)["image"]
    except (ValueError, KeyError, TypeError):
        raise UploadError('a JSON body must be {"image": "<base64 image>"}', 400) from None
    if not isinstance(text, str):
        raise UploadError('"image" must be a base64 string', 400)
    return decode_base64(text, max_bytes)


def add_image_route(app: FastAPI, score: ScoreImage, max_bytes: int = MAX_BYTES) -> FastAPI:
    """Add POST /v1/score/image to `app`, answered by `score(image bytes)` -> verdict dict
    (which raises UploadError for an upload it rejects)."""

    @app.post("/v1/score/image")
    async def score_image(request: Request):
        try:
            data = upload_bytes(
                await request.body(), request.headers.get("content-type", ""), max_bytes
            )
            return await score(data)
        except UploadError as exc:
            return _rejected(exc)

    return app


def image_scorer(path: str | Path, max_bytes: int = MAX_BYTES) -> ScoreImage:
    """A `score` for add_image_route over the image detector saved at `path` (scored in a
    worker thread: a forward pass must not hold the event loop)."""
    from starlette.concurrency import run_in_threadpool

    from adrec.detectors.image.base import ImageDetector
    from adrec.detectors.registry import load_detector

    detector = load_detector(path)
    if not isinstance(detector, ImageDetector):
        raise ValueError(f"{path} holds {detector.name!r}, not an image detector")

    async def score(data: bytes) -> dict:
        verdict = await run_in_threadpool(score_upload, detector, data, max_bytes)
        return verdict.to_dict()

    return score
