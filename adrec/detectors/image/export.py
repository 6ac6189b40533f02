"""PaDiM and PatchCore as TorchScript: one file holding the backbone, the fitted statistics
or memory bank and the map post-processing, loadable without adrec
(`torch.jit.load(path)(images) -> (scores [n], maps [n, H, W])`). The scripted module runs
the very modules the detector scores with, so its scores equal eager mode's (the round-trip
test checks within 1e-4). The threshold and calibration stay in the detector's JSON.

torch.jit.script is deprecated in recent PyTorch releases (it still works, and is what
"TorchScript" means); ONNX would need the onnx package, which the lock does not hold."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from adrec.detectors.image.base import ImageDetector

EXPORTABLE = ("padim", "patchcore")


class _Scorer(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.score_and_map(images)


def to_torchscript(detector: ImageDetector) -> torch.jit.ScriptModule:
    if detector.name not in EXPORTABLE:
        raise TypeError(f"TorchScript export supports {EXPORTABLE}, not {detector.name!r}")
    detector._require_fitted()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "torch.jit.script is deprecated"
        return torch.jit.script(_Scorer(detector.model_).eval())


def export_torchscript(detector: ImageDetector, path: str | Path) -> Path:
    """Write the fitted detector's scoring module to `path` (a .pt TorchScript archive)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scripted = to_torchscript(detector)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted.save(str(path))
    return path


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu")
