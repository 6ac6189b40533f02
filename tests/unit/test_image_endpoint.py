"""POST /v1/score/image over a saved image detector: raw and base64 uploads are scored like
the detector scores them, and every rejected upload is a 4xx in the API's error body that
says why."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from adrec.data.images import prepare_image
from adrec.detectors import make_detector
from adrec.serving.http import create_api
from adrec.serving.image_api import add_image_route, image_scorer

SIZE = 32
MAX_BYTES = 4096


def photo(seed=0, width=48, height=40, fmt="PNG", bright=False) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(90, 150, (4, 4, 3)).astype(np.uint8)
    im = Image.fromarray(coarse).resize((width, height), Image.BILINEAR)
    if bright:
        a = np.asarray(im).copy()
        a[10:24, 10:24] = 255
        im = Image.fromarray(a)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.set_num_threads(1)
    images = np.stack([prepare_image(Image.open(io.BytesIO(photo(s))), SIZE) for s in range(24)])
    det = make_detector("patchcore", coreset_ratio=0.5).fit(images[:18], images[18:])
    path = tmp_path_factory.mktemp("image_detector") / "patchcore"
    det.save(path)
    return det, path


@pytest.fixture(scope="module")
def client(saved):
    async def recommend(request):  # not under test here
        raise AssertionError("no recommendation expected")

    async def health() -> dict:
        return {}

    app = create_api(recommend, health)
    return TestClient(add_image_route(app, image_scorer(saved[1], MAX_BYTES), MAX_BYTES))


def test_a_raw_upload_is_scored_as_the_saved_detector_scores_it(saved, client):
    det, _ = saved
    data = photo(seed=100)
    r = client.post("/v1/score/image", content=data, headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = det.decision_function(prepare_image(Image.open(io.BytesIO(data)), SIZE)[None])
    assert body["score"] == pytest.approx(float(expected[0]), rel=1e-5)
    assert body["threshold"] == pytest.approx(det.threshold_)
    assert body["verdict"] in ("normal", "anomalous")
    assert (body["width"], body["height"]) == (48, 40)
    png = base64.b64decode(body["heatmap_png_base64"])
    assert Image.open(io.BytesIO(png)).size == (SIZE, SIZE)


def test_base64_json_upload_gives_the_same_answer(client):
    data = photo(seed=101, bright=True)
    raw = client.post("/v1/score/image", content=data, headers={"content-type": "image/png"})
    text = "data:image/png;base64," + base64.b64encode(data).decode()
    as_json = client.post("/v1/score/image", json={"image": text})
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["score"] == pytest.approx(raw.json()["score"])
    assert raw.json()["verdict"] == "anomalous"


@pytest.mark.parametrize(
    "kwargs, status, message",
    [
        ({"content": b"", "headers": {"content-type": "image/png"}}, 400, "empty"),
        ({"json": {"image": "not base64 !"}}, 400, "base64"),
        ({"json": {"picture": "abc"}}, 400, '{"image"'),
        ({"json": {"image": 3}}, 400, "base64 string"),
        (
            {"content": b"hello, not an image", "headers": {"content-type": "image/png"}},
            415,
            "image",
        ),
        ({"content": photo(5)[:60], "headers": {"content-type": "image/png"}}, 422, "corrupt"),
        ({"content": b"\x00" * (MAX_BYTES + 1)}, 413, "over the limit"),
    ],
)
def test_rejected_uploads_are_4xx_that_say_why(client, kwargs, status, message):
    r = client.post("/v1/score/image", **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["fields"] == "body"
    assert message in body["detail"][0]["msg"]


def test_a_non_image_detector_is_refused(tmp_path):
    rows = np.random.default_rng(0).normal(size=(50, 3))
    det = make_detector("iforest", random_state=0).fit(rows)
    det.save(tmp_path / "iforest")
    with pytest.raises(ValueError, match="not an image detector"):
        image_scorer(tmp_path / "iforest")


class _Handle:
    """A DeploymentHandle stand-in: `handle.score.remote(data)` awaits the replica's method."""

    def __init__(self, replica):
        self.score = self
        self.replica = replica

    async def remote(self, data: bytes) -> dict:
        return self.replica.score(data)


def test_the_serve_ingress_routes_uploads_to_its_image_scorer(saved):
    """The Serve graph's ingress and ImageScorer deployment, called in process: the same
    answers and the same 4xx as the plain route."""
    from adrec.distributed.serve_graph import ImageScorer, Ingress

    det, path = saved
    scorer = ImageScorer.func_or_class(str(path))
    # The class as written (serve.ingress wraps it in a subclass that starts a server).
    cls = [c for c in Ingress.func_or_class.__mro__ if c.__name__ == "Ingress"][-1]
    ingress = cls(None, None, image_scorer=_Handle(scorer))
    client = TestClient(ingress.__serve_build_asgi_app__())
    data = photo(seed=102)
    r = client.post("/v1/score/image", content=data, headers={"content-type": "image/jpeg"})
    assert r.status_code == 200, r.text
    expected = det.decision_function(prepare_image(Image.open(io.BytesIO(data)), SIZE)[None])
    assert r.json()["score"] == pytest.approx(float(expected[0]), rel=1e-5)
    bad = client.post("/v1/score/image", content=b"text", headers={"content-type": "image/png"})
    assert bad.status_code == 415 and "not an image" in bad.json()["detail"][0]["msg"]


def test_app_args_take_an_image_detector():
    from adrec.serving.args import AppArgs

    assert AppArgs(run_dir="runs/demo").image_detector is None
    assert AppArgs(run_dir="r", image_detector="models/patchcore").image_detector
