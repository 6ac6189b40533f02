"""Image folders in the MVTec AD layout, as arrays the image detectors read.

    <root>/train/good/*.{png,jpg}          normal training images
    <root>/test/<defect or good>/*         test images; every folder but good is anomalous
    <root>/ground_truth/<defect>/<name>.png   defect masks (also <name>_mask.png, as MVTec)

Images are resized (bilinear) to `size` x `size`, scaled to [0, 1] and normalised with the
ImageNet mean and std the pretrained backbone expects: float32 [n, 3, size, size]."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass
class ImageSplit:
    train: np.ndarray  # [n, 3, s, s] normal images
    test: np.ndarray  # [m, 3, s, s]
    labels: np.ndarray  # [m] 0 good, 1 defective
    masks: np.ndarray  # [m, s, s] bool defect pixels (all False for good images)
    test_names: list[str]


def load_image(path: str | Path, size: int) -> np.ndarray:
    """One RGB image as a normalised float32 [3, size, size] array."""
    with Image.open(path) as im:
        rgb = im.convert("RGB").resize((size, size), Image.BILINEAR)
    x = np.asarray(rgb, np.float32).transpose(2, 0, 1) / 255.0
    return (x - IMAGENET_MEAN) / IMAGENET_STD


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)


def _mask(root: Path, defect: str, image: Path, size: int) -> np.ndarray:
    for name in (f"{image.stem}.png", f"{image.stem}_mask.png"):
        path = root / "ground_truth" / defect / name
        if path.exists():
            with Image.open(path) as im:
                return np.asarray(im.convert("L").resize((size, size), Image.NEAREST)) > 127
    raise FileNotFoundError(f"no mask for {defect}/{image.name} under {root / 'ground_truth'}")


def load_mvtec_category(root: str | Path, size: int = 224) -> ImageSplit:
    """The train and test images of one MVTec-layout category, with labels and masks."""
    root = Path(root)
    train_dir, test_dir = root / "train" / "good", root / "test"
    if not train_dir.is_dir() or not test_dir.is_dir():
        raise FileNotFoundError(f"{root} lacks train/good/ or test/ (the MVTec AD layout)")
    train = [load_image(p, size) for p in _images(train_dir)]
    test, labels, masks, names = [], [], [], []
    for folder in sorted(d for d in test_dir.iterdir() if d.is_dir()):
        for path in _images(folder):
            good = folder.name == "good"
            test.append(load_image(path, size))
            labels.append(0 if good else 1)
            masks.append(
                np.zeros((size, size), bool) if good else _mask(root, folder.name, path, size)
            )
            names.append(f"{folder.name}/{path.name}")
    if not train or not test:
        raise ValueError(f"{root} has no training or no test images")
    return ImageSplit(np.stack(train), np.stack(test), np.array(labels), np.stack(masks), names)
