"""An uploaded image (bytes, or base64 text) -> score, threshold, verdict and heatmap PNG,
for the HTTP endpoint to call (no Ray, no web framework here).

Every rejection is an UploadError whose `status` is the HTTP status it calls for: 400 for an
empty body or bad base64, 413 for an upload over `max_bytes` or an image over `max_pixels`
(a decompression bomb: a small file that decodes to a huge image), 415 for bytes that are
not an image Pillow can read, 422 for an image whose data is truncated or corrupt."""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from adrec.data.images import prepare_image
from adrec.detectors.image.base import ImageDetector
from adrec.detectors.image.overlay import overlay, png_bytes

MAX_BYTES = 10 * 2**20  # 10 MiB
MAX_PIXELS = 40_000_000  # about 6,300 x 6,300


class UploadError(ValueError):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ImageVerdict:
    detector: str
    score: float
    threshold: float
    calibrated: float  # in [0, 1], 0.5 at the threshold
    anomalous: bool  # score >= threshold
    width: int  # of the upload
    height: int
    heatmap_png: bytes | None  # the map over the image at the detector's input size
    map_range: tuple[float, float] | None  # the map values drawn black and pale yellow

    def to_dict(self) -> dict:
        """JSON-ready, the PNG as base64."""
        png = None if self.heatmap_png is None else base64.b64encode(self.heatmap_png).decode()
        return {
            "detector": self.detector, "score": self.score, "threshold": self.threshold,
            "calibrated": self.calibrated, "verdict": "anomalous" if self.anomalous else "normal",
            "width": self.width, "height": self.height, "heatmap_png_base64": png,
            "map_range": None if self.map_range is None else list(self.map_range),
        }  # fmt: skip


def decode_base64(text: str | bytes, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a base64 upload (a `data:image/...;base64,` prefix is accepted)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    text = text.strip()
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) > 4 * (max_bytes // 3 + 1):
        raise UploadError(f"upload is larger than {max_bytes} bytes", 413)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UploadError(f"not valid base64: {exc}", 400) from None


def read_upload(
    data: bytes, size: int, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, tuple[int, int]]:
    """The upload as one normalised image [3, size, size] and its original (width, height)."""
    if not data:
        raise UploadError("the upload is empty", 400)
    if len(data) > max_bytes:
        raise UploadError(f"upload of {len(data)} bytes is over the limit of {max_bytes}", 413)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:  # reads the header only
                width, height = im.size
                if width * height > max_pixels:
                    raise UploadError(
                        f"image of {width}x{height} pixels is over the limit of {max_pixels}", 413
                    )
                im.load()
                return prepare_image(im, size), (width, height)
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadError(f"image too large to decode: {exc}", 413) from None
    except UnidentifiedImageError:
        raise UploadError(
            "the upload is not an image (expected PNG, JPEG, BMP, GIF, TIFF or WebP)", 415
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadError(f"the image is truncated or corrupt: {exc}", 422) from None


def score_upload(
    detector: ImageDetector,
    data: bytes,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    heatmap: bool = True,
) -> ImageVerdict:
    """Score one uploaded image with a fitted image detector. The image is resized to the
    detector's input size; the heatmap (where the method gives maps) is drawn on one colour
    scale from the map's minimum to the larger of its maximum and the detector's threshold,
    so a normal image's map stays dark where the score is the largest map value."""
    if not isinstance(detector, ImageDetector) or not detector.is_fitted:
        raise TypeError("score_upload needs a fitted image detector")
    size = detector.image_size_
    if size[0] != size[1]:
        raise ValueError(f"the detector was fitted on non-square {size} images")
    image, (width, height) = read_upload(data, size[0], max_bytes, max_pixels)
    batch = image[None]
    png, span = None, None
    if heatmap and detector.has_maps:
        scores, maps = detector.score_and_map(batch)
        low, high = float(maps[0].min()), max(float(maps[0].max()), detector.threshold_)
        png, span = png_bytes(overlay(image, maps[0], low, high)), (low, high)
    else:
        scores = detector.decision_function(batch)
    score = float(scores[0])
    return ImageVerdict(
        detector=detector.name,
        score=score,
        threshold=float(detector.threshold_),
        calibrated=float(detector.calibrator_.transform(scores)[0]),
        anomalous=score >= detector.threshold_,
        width=width,
        height=height,
        heatmap_png=png,
        map_range=span,
    )
