"""POST /v1/score/image through the Serve graph on a local cluster: the ingress hands the
upload to its ImageScorer deployment; the answer equals the saved detector's own score, and
a rejected upload comes back as the 4xx that says why."""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from PIL import Image

APP = "adrec-image-test"
PREFIX = "/image-test"
SIZE = 32


def _photo(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(90, 150, (4, 4, 3)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(coarse).resize((48, 40), Image.BILINEAR).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def served(ray_cluster, small_run, tmp_path_factory):
    from ray import serve
    from test_serving_graph import _free_port, _serve_port

    from adrec.data.images import prepare_image
    from adrec.detectors import make_detector
    from adrec.distributed.serve_graph import build_app

    images = np.stack([prepare_image(Image.open(io.BytesIO(_photo(s))), SIZE) for s in range(24)])
    det = make_detector("patchcore", coreset_ratio=0.5).fit(images[:18], images[18:])
    path = tmp_path_factory.mktemp("image_detector") / "patchcore"
    det.save(path)
    run_dir = small_run
    serve.start(http_options={"host": "127.0.0.1", "port": _free_port()})  # kept if started
    serve.run(
        build_app({"run_dir": str(run_dir), "image_detector": str(path)}),
        name=APP,
        route_prefix=PREFIX,
    )
    yield det, f"http://127.0.0.1:{_serve_port()}{PREFIX}/v1/score/image"
    serve.delete(APP)


def test_an_upload_through_serve_is_scored_as_the_detector_scores_it(served):
    from adrec.data.images import prepare_image

    det, url = served
    data = _photo(100)
    r = requests.post(url, data=data, headers={"content-type": "image/png"}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = det.decision_function(prepare_image(Image.open(io.BytesIO(data)), SIZE)[None])
    assert body["score"] == pytest.approx(float(expected[0]), rel=1e-5)
    assert body["verdict"] in ("normal", "anomalous") and body["heatmap_png_base64"]


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"data": b"not an image", "headers": {"content-type": "image/png"}}, 415),
        ({"json": {"image": "not base64 !"}}, 400),
        ({"data": b"", "headers": {"content-type": "image/png"}}, 400),
    ],
)
def test_rejected_uploads_through_serve_are_4xx(served, kwargs, status):
    _, url = served
    r = requests.post(url, timeout=60, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["fields"] == "body"
