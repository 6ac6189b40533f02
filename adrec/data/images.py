"""Image sets as the arrays the image detectors read: float32 [n, 3, size, size], RGB scaled
to [0, 1] and normalised with the ImageNet mean and std the pretrained backbones expect.

- MVTec AD layout folders (`mvtec_index`, `load_mvtec_category`):

      <root>/train/good/*.{png,jpg,...}              normal training images
      <root>/test/<defect or good>/*                 test images; every folder but good is anomalous
      <root>/ground_truth/<defect>/<stem>_mask.png   defect masks, MVTec's naming (000_mask.png),
      <root>/ground_truth/<defect>/<stem>.png        or named like the image (00.png)

  The index is plain paths, so the in-process loader and the Ray Data reader
  (adrec.distributed.images) read the same files.
- scikit-learn's bundled digits as one-class tasks (`digits_one_class`).
- a texture set from scikit-image's bundled textures with pasted foreign patches and their
  masks (`texture_set`; scikit-image is in the `bench` dependency group).

No Ray here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass
class ImageSplit:
    train: np.ndarray  # [n, 3, s, s] normal images
    test: np.ndarray  # [m, 3, s, s]
    labels: np.ndarray  # [m] 0 normal, 1 anomalous
    masks: np.ndarray | None  # [m, s, s] bool anomalous pixels; None where a set has none
    test_names: list[str] = field(default_factory=list)


def normalize(rgb: np.ndarray) -> np.ndarray:
    """uint8 (or [0, 255] float) [..., H, W, 3] -> ImageNet-normalised float32 [..., 3, H, W]."""
    x = np.moveaxis(np.asarray(rgb, np.float32), -1, -3) / 255.0
    return (x - IMAGENET_MEAN) / IMAGENET_STD


def to_uint8(x: np.ndarray) -> np.ndarray:
    """The inverse of `normalize`: [3, H, W] normalised -> uint8 [H, W, 3]."""
    rgb = (np.asarray(x, np.float32) * IMAGENET_STD + IMAGENET_MEAN).clip(0, 1)
    return np.round(rgb.transpose(1, 2, 0) * 255).astype(np.uint8)


def prepare_image(image: Image.Image, size: int) -> np.ndarray:
    """A PIL image as a normalised float32 [3, size, size] array (RGB, bilinear resize)."""
    rgb = image.convert("RGB")
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.BILINEAR)
    return normalize(np.asarray(rgb))


def load_image(path: str | Path, size: int) -> np.ndarray:
    """One image file as a normalised float32 [3, size, size] array."""
    with Image.open(path) as im:
        return prepare_image(im, size)


def load_mask(path: str | Path, size: int) -> np.ndarray:
    """A mask file as bool [size, size] (pixels above 127 after nearest resizing)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("L").resize((size, size), Image.NEAREST)) > 127


@dataclass
class TestImage:
    path: Path
    defect: str  # the test sub-folder: "good" or the defect type
    mask: Path | None  # None for good images

    @property
    def label(self) -> int:
        return 0 if self.defect == "good" else 1

    @property
    def name(self) -> str:
        return f"{self.defect}/{self.path.name}"


@dataclass
class MVTecIndex:
    root: Path
    train: list[Path]
    test: list[TestImage]


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)


def _mask_path(root: Path, defect: str, image: Path) -> Path:
    for name in (f"{image.stem}_mask.png", f"{image.stem}.png"):
        path = root / "ground_truth" / defect / name
        if path.exists():
            return path
    raise FileNotFoundError(
        f"no mask for {defect}/{image.name} under {root / 'ground_truth' / defect} "
        f"(looked for {image.stem}_mask.png and {image.stem}.png)"
    )


def mvtec_index(root: str | Path, masks: bool = True) -> MVTecIndex:
    """The image and mask paths of one MVTec-layout category. masks=False indexes test
    images without masks (a set that has none; pixel metrics are then unavailable)."""
    root = Path(root)
    train_dir, test_dir = root / "train" / "good", root / "test"
    if not train_dir.is_dir() or not test_dir.is_dir():
        raise FileNotFoundError(f"{root} lacks train/good/ or test/ (the MVTec AD layout)")
    test = []
    for folder in sorted(d for d in test_dir.iterdir() if d.is_dir()):
        for path in _images(folder):
            good = folder.name == "good"
            mask = None if good or not masks else _mask_path(root, folder.name, path)
            test.append(TestImage(path, folder.name, mask))
    train = _images(train_dir)
    if not train or not test:
        raise ValueError(f"{root} has no training or no test images")
    return MVTecIndex(root, train, test)


def load_mvtec_category(root: str | Path, size: int = 224) -> ImageSplit:
    """The train and test images of one MVTec-layout category, with labels and masks."""
    index = mvtec_index(root)
    blank = np.zeros((size, size), bool)
    return ImageSplit(
        train=np.stack([load_image(p, size) for p in index.train]),
        test=np.stack([load_image(t.path, size) for t in index.test]),
        labels=np.array([t.label for t in index.test]),
        masks=np.stack([blank if t.mask is None else load_mask(t.mask, size) for t in index.test]),
        test_names=[t.name for t in index.test],
    )


def _gray_to_batch(gray: np.ndarray, size: int) -> np.ndarray:
    """[n, h, w] float in [0, 1] -> normalised [n, 3, size, size] (bilinear resize)."""
    out = []
    for g in gray:
        im = Image.fromarray(np.round(g * 255).astype(np.uint8), mode="L")
        out.append(prepare_image(im, size))
    return np.stack(out)


def digits_one_class(
    normal_digit: int,
    size: int = 32,
    n_train: int = 100,
    anomalies_per_digit: int = 20,
    seed: int = 0,
) -> ImageSplit:
    """scikit-learn's 8x8 digits (1,797 images) as a one-class task: `n_train` images of
    `normal_digit` to fit on; the test set holds its remaining images (normal) and
    `anomalies_per_digit` images of each other digit (anomalous), drawn with `seed`.
    Upsampled to size x size, grey repeated over RGB; no masks."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, target = digits.images / 16.0, digits.target
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(target == normal_digit))
    if len(normal) <= n_train:
        raise ValueError(f"digit {normal_digit} has {len(normal)} images, n_train={n_train}")
    others = [
        rng.choice(np.flatnonzero(target == d), anomalies_per_digit, replace=False)
        for d in range(10)
        if d != normal_digit
    ]
    test_idx = np.concatenate([normal[n_train:], *others])
    labels = (target[test_idx] != normal_digit).astype(np.int64)
    return ImageSplit(
        train=_gray_to_batch(images[normal[:n_train]], size),
        test=_gray_to_batch(images[test_idx], size),
        labels=labels,
        masks=None,
        test_names=[f"digit{target[i]}/{i}" for i in test_idx],
    )


TEXTURES = ("brick", "grass", "gravel")


def texture_set(
    normal: str,
    size: int = 64,
    n_train: int = 100,
    n_test: int = 50,
    patch: tuple[int, int] = (12, 24),
    seed: int = 0,
) -> ImageSplit:
    """Crops of one scikit-image texture (brick, grass or gravel; 512 x 512 grey) as normal
    images, the same texture with a square patch of another texture pasted in as anomalies,
    with masks. Training crops come from the top half of the texture, test crops from the
    bottom half (no overlap). The pasted patch (side drawn from `patch`) is rescaled to the
    mean and standard deviation of the pixels it replaces, so only its texture, not its
    brightness, gives it away. Half the test crops are anomalous."""
    import skimage.data

    if normal not in TEXTURES:
        raise ValueError(f"texture must be one of {TEXTURES}, got {normal!r}")
    rng = np.random.default_rng(seed)
    load = {name: getattr(skimage.data, name)().astype(np.float32) / 255.0 for name in TEXTURES}
    host = load[normal]
    half = host.shape[0] // 2

    def crops(n: int, rows: tuple[int, int]) -> np.ndarray:
        ys = rng.integers(rows[0], rows[1] - size + 1, n)
        xs = rng.integers(0, host.shape[1] - size + 1, n)
        return np.stack([host[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)])

    train = crops(n_train, (0, half))
    test = crops(2 * n_test, (half, host.shape[0]))
    masks = np.zeros(test.shape, bool)
    foreign = [t for t in TEXTURES if t != normal]
    names = []
    for i in range(n_test, 2 * n_test):
        source = load[foreign[i % len(foreign)]]
        side = int(rng.integers(patch[0], patch[1] + 1))
        sy, sx = rng.integers(0, source.shape[0] - side + 1, 2)
        ty, tx = rng.integers(0, size - side + 1, 2)
        piece = source[sy : sy + side, sx : sx + side]
        region = test[i, ty : ty + side, tx : tx + side]
        piece = (piece - piece.mean()) / max(piece.std(), 1e-3) * region.std() + region.mean()
        test[i, ty : ty + side, tx : tx + side] = piece.clip(0, 1)
        masks[i, ty : ty + side, tx : tx + side] = True
        names.append(f"{foreign[i % len(foreign)]}/{i}")
    labels = np.r_[np.zeros(n_test, np.int64), np.ones(n_test, np.int64)]
    return ImageSplit(
        train=_gray_to_batch(train, size),
        test=_gray_to_batch(test, size),
        labels=labels,
        masks=masks,
        test_names=[f"good/{i}" for i in range(n_test)] + names,
    )
