"""Image detectors over patch features of a pretrained CNN: PaDiM (a Gaussian per patch
position) and PatchCore (a memory bank of normal patches). Inputs are [n, 3, H, W] images,
ImageNet-normalised (adrec.data.images loads them so)."""

from adrec.detectors.image.padim import PaDiMDetector
from adrec.detectors.image.patch_detector import ImagePatchDetector
from adrec.detectors.image.patchcore import PatchCoreDetector

__all__ = ["ImagePatchDetector", "PaDiMDetector", "PatchCoreDetector"]
