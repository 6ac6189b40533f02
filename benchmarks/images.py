"""Image anomaly detection: PaDiM and PatchCore on an MVTec-layout folder, with the offline
ImageNet MobileNetV2 backbone beside the same detectors on a random backbone, in one run.

OMP_NUM_THREADS=1 uv run python benchmarks/images.py [--data ../shared/data/hazelnut-toy]
    [--size 224] [--out reports/images]

Fit on the first 80% of train/good, threshold (99th percentile) on the other 20%; image-level
AUROC, AUPRC, best F1 and F1 at that threshold, pixel-level AUROC from the ground-truth masks,
and fit / score seconds. Writes images.md and images.json."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Annotated

import torch
import typer
from sklearn.metrics import roc_auc_score

from adrec.data.images import load_mvtec_category
from adrec.detectors import make_detector
from adrec.metrics.detection import detection_report

WEIGHTS = Path("../shared/data/weights/mobilenet_v2_features_imagenet.pth")


def main(
    data: Annotated[Path, typer.Option(help="An MVTec-layout category folder.")] = Path(
        "../shared/data/hazelnut-toy"
    ),
    size: Annotated[int, typer.Option(min=32, help="Images are resized to size x size.")] = 224,
    weights: Annotated[Path, typer.Option(help="MobileNetV2 features state_dict.")] = WEIGHTS,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("reports/images"),
) -> None:
    torch.set_num_threads(1)
    split = load_mvtec_category(data, size)
    n_fit = round(0.8 * len(split.train))
    fit, calib = split.train[:n_fit], split.train[n_fit:]
    rows = []
    for backbone, path in (("ImageNet MobileNetV2", weights), ("random MobileNetV2", None)):
        for name in ("padim", "patchcore"):
            t0 = time.perf_counter()
            det = make_detector(name, weights=path).fit(fit, calib)
            t1 = time.perf_counter()
            scores = det.decision_function(split.test)
            maps = det.anomaly_map(split.test)
            t2 = time.perf_counter()
            image = detection_report(split.labels, scores, det.threshold_)
            rows.append({
                "detector": name, "backbone": backbone, **image,
                "pixel_auroc": float(roc_auc_score(split.masks.ravel(), maps.ravel())),
                "fit_seconds": round(t1 - t0, 1), "score_seconds": round(t2 - t1, 1),
            })  # fmt: skip
            print(f"{name} ({backbone}): {rows[-1]}", flush=True)
    lines = [
        f"# Image detectors on {data} ({len(fit)} fit, {len(calib)} threshold, "
        f"{len(split.test)} test images of which {int(split.labels.sum())} defective; "
        f"{size}x{size}; 1 torch thread; {platform.processor() or platform.machine()})",
        "",
        "| detector | backbone | image AUROC | image AUPRC | best F1 | F1 at the 99th-pct "
        "threshold | pixel AUROC | fit s | score s |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['detector']} | {r['backbone']} | {r['auroc']:.3f} | {r['auprc']:.3f} | "
            f"{r['best_f1']:.3f} | {r['f1_at_threshold']:.3f} | {r['pixel_auroc']:.3f} | "
            f"{r['fit_seconds']} | {r['score_seconds']} |"
            for r in rows
        ),
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "images.json").write_text(
        json.dumps({"data": str(data), "size": size, "rows": rows}, indent=2)
    )
    (out / "images.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
