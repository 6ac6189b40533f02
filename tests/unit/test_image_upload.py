"""Uploaded bytes -> score, threshold, verdict and heatmap PNG (what the image endpoint
calls), with the clear rejections a 4xx response reports; and the overlays."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from adrec.data.images import normalize, prepare_image, to_uint8
from adrec.detectors import detector_class
from adrec.detectors.image.overlay import colorize, overlay, save_overlays
from adrec.detectors.image.upload import (
    ImageVerdict,
    UploadError,
    decode_base64,
    read_upload,
    score_upload,
)

SIZE = 32


def photo(width=48, height=40, seed=0, fmt="PNG", bright=False) -> bytes:
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


def as_images(uploads: list[bytes]) -> np.ndarray:
    return np.stack([prepare_image(Image.open(io.BytesIO(u)), SIZE) for u in uploads])


@pytest.fixture(scope="module")
def patchcore():
    torch.set_num_threads(1)
    normal = as_images([photo(seed=s) for s in range(24)])
    return detector_class("patchcore")(coreset_ratio=0.5).fit(normal[:18], normal[18:])


def test_an_upload_scores_like_the_same_image_through_the_detector(patchcore):
    for fmt in ("PNG", "JPEG"):
        data = photo(seed=40, fmt=fmt)
        verdict = score_upload(patchcore, data)
        expected = patchcore.decision_function(as_images([data]))[0]
        assert verdict.score == pytest.approx(expected, rel=1e-6)
        assert verdict.threshold == patchcore.threshold_
        assert verdict.anomalous == (verdict.score >= verdict.threshold)
        assert (verdict.calibrated >= 0.5) == verdict.anomalous
        assert (verdict.width, verdict.height) == (48, 40)
        heat = Image.open(io.BytesIO(verdict.heatmap_png))
        assert heat.format == "PNG" and heat.size == (SIZE, SIZE)


def test_a_bright_square_is_anomalous_and_hot(patchcore):
    verdict = score_upload(patchcore, photo(seed=41, bright=True))
    assert verdict.anomalous and verdict.calibrated > 0.5
    low, high = verdict.map_range
    assert high > verdict.threshold and low < high
    d = verdict.to_dict()
    assert d["verdict"] == "anomalous" and d["score"] == verdict.score
    assert base64.b64decode(d["heatmap_png_base64"]) == verdict.heatmap_png


def test_base64_uploads_with_or_without_a_data_url_prefix(patchcore):
    data = photo(seed=42)
    text = base64.b64encode(data).decode()
    assert decode_base64(text) == data
    assert decode_base64(f"data:image/png;base64,{text}") == data
    with pytest.raises(UploadError, match="base64") as bad:
        decode_base64("not*base64!")
    assert bad.value.status == 400
    with pytest.raises(UploadError) as big:
        decode_base64("A" * 4000, max_bytes=1000)
    assert big.value.status == 413


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"", 400, "empty"),
        (b"%PDF-1.4 not an image at all", 415, "not an image"),
        (photo()[:200], 422, "truncated or corrupt"),
    ],
)
def test_bad_uploads_say_why(patchcore, data, status, message):
    with pytest.raises(UploadError, match=message) as err:
        score_upload(patchcore, data)
    assert err.value.status == status


def test_oversized_uploads_are_413(patchcore):
    data = photo()
    with pytest.raises(UploadError, match="over the limit") as err:
        score_upload(patchcore, data, max_bytes=len(data) - 1)
    assert err.value.status == 413
    # a decompression bomb: a tiny PNG that decodes to many pixels
    buf = io.BytesIO()
    Image.new("RGB", (3000, 3000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 100_000
    with pytest.raises(UploadError, match="3000x3000 pixels") as err:
        score_upload(patchcore, buf.getvalue(), max_pixels=1_000_000)
    assert err.value.status == 413


def test_a_detector_without_maps_gives_no_heatmap():
    normal = as_images([photo(seed=s) for s in range(12)])
    det = detector_class("conv_svdd")(**detector_class("conv_svdd").get_test_params())
    det.fit(normal)
    verdict = score_upload(det, photo(seed=50))
    assert verdict.heatmap_png is None and verdict.map_range is None
    assert isinstance(verdict, ImageVerdict)
    with pytest.raises(TypeError, match="fitted image detector"):
        score_upload(detector_class("conv_svdd")(), photo())


def test_read_upload_resizes_grey_and_palette_images_to_rgb():
    for mode in ("L", "P", "RGBA"):
        buf = io.BytesIO()
        Image.new(mode, (20, 30)).save(buf, format="PNG")
        image, size = read_upload(buf.getvalue(), 16)
        assert image.shape == (3, 16, 16) and size == (20, 30)


def test_normalize_round_trips_and_overlays_use_one_scale(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype(np.uint8)
    x = normalize(rgb)
    assert x.shape == (2, 3, 8, 8)
    assert np.array_equal(to_uint8(x[1]), rgb[1])
    heat = np.linspace(0, 1, 64).reshape(8, 8)
    colours = colorize(heat, 0.0, 1.0)
    assert tuple(colours[0, 0]) == (0, 0, 4) and tuple(colours[-1, -1]) == (252, 255, 164)
    assert colorize(heat, 2.0, 3.0).max() <= 4  # all below `low`: black
    assert overlay(x[0], heat).shape == (8, 8, 3)
    paths = save_overlays(x, np.stack([heat, heat * 0]), tmp_path, ["good/0.png", "cut/1.png"])
    assert [p.name for p in paths] == ["good_0.png", "cut_1.png"]
    hot, cold = (np.asarray(Image.open(p)) for p in paths)
    assert hot.sum() > cold.sum()  # one colour scale: the zero map stays dark
