"""Image anomaly detection: every image detector on three sets, in one run.

OMP_NUM_THREADS=1 uv run --group bench python benchmarks/images.py [--quick]
    [--sets hazelnut,digits,textures] [--out reports/images]

- hazelnut: ../shared/data/hazelnut-toy at 224 px (28 normal training photographs, 23 test
  of which 17 with painted colour defects and masks).
- digits: scikit-learn's 8x8 digits upsampled to 32 px as ten one-class tasks (each digit
  normal in turn: 100 training images of it, its ~80 others and 20 of every other digit in
  the test set); the mean over the ten. No masks.
- textures: crops (64 px) of scikit-image's brick, grass and gravel; anomalies are the same
  texture with a 12-24 px patch of another texture pasted in, rescaled to the brightness and
  contrast it replaces, with masks; three tasks (one per normal texture), the mean.

Every detector is fitted on 80% of the training images and thresholded (99th percentile)
on the other 20%. The backbone methods (padim, patchcore, spade, cutpaste, fastflow) start
from the offline ImageNet MobileNetV2 (../shared/data/weights); conv_ae, conv_vae, conv_svdd
and anogan train from scratch. Reported: image AUROC, pixel AUROC where the set has masks
and the method maps, fit and score seconds (score = image scores and maps together), images
per second when scoring; the PatchCore memory bank against its coreset ratio, and AnoGAN's
scoring time against its latent-search steps, both on hazelnut at 224 px. Also writes PNG
overlays of the hazelnut test maps. Torch runs on one thread; the machine's load is in the
report (on a shared machine wall times swing; CPU seconds are beside them)."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer
from sklearn.metrics import roc_auc_score

from adrec.data.images import (
    TEXTURES,
    ImageSplit,
    digits_one_class,
    load_mvtec_category,
    texture_set,
)
from adrec.detectors import make_detector
from adrec.detectors.image.overlay import save_overlays
from adrec.metrics.detection import detection_report

WEIGHTS = Path("../shared/data/weights/mobilenet_v2_features_imagenet.pth")
HAZELNUT = Path("../shared/data/hazelnut-toy")
MODELS = ("padim", "patchcore", "spade", "cutpaste", "fastflow", "conv_ae", "conv_vae",
          "conv_svdd", "anogan")  # fmt: skip
BACKBONED = {"padim", "patchcore", "spade", "cutpaste", "fastflow"}
SETS = ("hazelnut", "digits", "textures")


def model_params(name: str, set_name: str, weights: Path, quick: bool) -> dict:
    """Per-set training lengths: hazelnut images are 224 px (slow to train on), the others
    32 or 64 px. CutPaste's patch is half the image side at most."""
    p: dict = {"weights": str(weights)} if name in BACKBONED else {}
    epochs = {"hazelnut": 15, "digits": 30, "textures": 30}[set_name]
    if name in ("cutpaste", "fastflow"):
        p["epochs"] = 20 if set_name != "hazelnut" else 15
    elif name in ("conv_ae", "conv_vae", "conv_svdd"):
        p["epochs"] = epochs
    elif name == "anogan":
        p["epochs"] = {"hazelnut": 15, "digits": 50, "textures": 50}[set_name]
        p["search_steps"] = {"hazelnut": 25, "digits": 100, "textures": 100}[set_name]
    if name == "cutpaste":
        p["patch_size"] = {"hazelnut": 32, "digits": 16, "textures": 32}[set_name]
    if quick and "epochs" in p:
        p["epochs"] = 2
        if name == "anogan":
            p["search_steps"] = 5
    return p


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def evaluate(name: str, params: dict, split: ImageSplit, overlays: Path | None = None) -> dict:
    n_fit = round(0.8 * len(split.train))
    fit, calib = split.train[:n_fit], split.train[n_fit:]
    w0, c0 = time.perf_counter(), _cpu()
    det = make_detector(name, **params).fit(fit, calib)
    w1, c1 = time.perf_counter(), _cpu()
    if det.has_maps:
        scores, maps = det.score_and_map(split.test)
    else:
        scores, maps = det.decision_function(split.test), None
    w2, c2 = time.perf_counter(), _cpu()
    row = {
        "detector": name,
        **detection_report(split.labels, scores, det.threshold_),
        "pixel_auroc": None,
        "fit_seconds": round(w1 - w0, 2),
        "fit_cpu_seconds": round(c1 - c0, 2),
        "score_seconds": round(w2 - w1, 2),
        "score_cpu_seconds": round(c2 - c1, 2),
        "images_per_second": round(len(split.test) / max(w2 - w1, 1e-9), 2),
    }
    if maps is not None and split.masks is not None:
        row["pixel_auroc"] = float(roc_auc_score(split.masks.ravel(), maps.ravel()))
    if maps is not None and overlays is not None:
        save_overlays(split.test, maps, overlays / name, split.test_names)
    return row


def _mean_rows(rows_per_task: list[list[dict]]) -> list[dict]:
    """The mean over tasks of each detector's numbers (and the per-task AUROCs)."""
    out = []
    for per_model in zip(*rows_per_task, strict=True):
        keys = ("auroc", "auprc", "best_f1", "f1_at_threshold", "pixel_auroc", "fit_seconds",
                "fit_cpu_seconds", "score_seconds", "score_cpu_seconds",
                "images_per_second")  # fmt: skip
        row = {"detector": per_model[0]["detector"]}
        for k in keys:
            vals = [r[k] for r in per_model if r.get(k) is not None]
            row[k] = float(np.mean(vals)) if vals else None
        row["auroc_per_task"] = [round(r["auroc"], 4) for r in per_model]
        row["auroc_min"] = float(min(r["auroc"] for r in per_model))
        out.append(row)
    return out


def run_set(set_name: str, models, weights, quick, overlays, log, only=None) -> dict:
    """One set; `only` (texture names or digits) keeps those of its tasks."""
    if set_name == "hazelnut":
        tasks = [("hazelnut", lambda: load_mvtec_category(HAZELNUT, 224))]
    elif set_name == "digits":
        digits = [d for d in (range(2) if quick else range(10)) if not only or str(d) in only]
        tasks = [(f"digit {d}", lambda d=d: digits_one_class(d, 32)) for d in digits]
    else:
        textures = [t for t in (TEXTURES[:1] if quick else TEXTURES) if not only or t in only]
        tasks = [(t, lambda t=t: texture_set(t, 64)) for t in textures]
    if not tasks:
        raise typer.BadParameter(f"--tasks {','.join(only or ())} leaves no task in {set_name}")
    tasks = [(name, load()) for name, load in tasks]
    per_task = []
    for task, split in tasks:
        rows = []
        for name in models:
            row = evaluate(name, model_params(name, set_name, weights, quick), split,
                           overlays if set_name == "hazelnut" else None)  # fmt: skip
            rows.append(row)
            log(f"{set_name} / {task} / {name}: AUROC {row['auroc']:.3f}, pixel "
                f"{_fmt(row['pixel_auroc'])}, fit {row['fit_seconds']} s, "
                f"score {row['score_seconds']} s")  # fmt: skip
        per_task.append(rows)
    split = tasks[0][1]
    return {
        "set": set_name,
        "tasks": [t for t, _ in tasks],
        "image_size": int(split.train.shape[-1]),
        "n_train": int(len(split.train)),
        "n_test": int(len(split.test)),
        "n_anomalous": int(split.labels.sum()),
        "rows": _mean_rows(per_task),
    }


def coreset_sweep(weights: Path, quick: bool, log) -> list[dict]:
    """PatchCore on hazelnut at 224 px: memory-bank size, fit and score time, AUROCs."""
    split = load_mvtec_category(HAZELNUT, 224)
    rows = []
    for ratio in (0.01, 0.1) if quick else (0.01, 0.02, 0.05, 0.1, 0.25, 1.0):
        params = {"weights": str(weights), "coreset_ratio": ratio, "max_bank": 10**7}
        row = evaluate("patchcore", params, split)
        det = make_detector("patchcore", **params).fit(split.train[:22], split.train[22:])
        row = {"coreset_ratio": ratio, "bank_size": int(det.model_.memory.bank.shape[0]),
               "bank_mib": round(det.model_.memory.bank.numel() * 4 / 2**20, 2),
               **{k: row[k] for k in ("auroc", "pixel_auroc", "fit_seconds", "score_seconds",
                                      "images_per_second")}}  # fmt: skip
        rows.append(row)
        log(f"coreset {ratio}: {row}")
    return rows


def anogan_search_sweep(weights: Path, quick: bool, log) -> list[dict]:
    """One AnoGAN fitted on hazelnut at 224 px, scored with more and more latent-search
    steps: scoring time per image is linear in the steps."""
    split = load_mvtec_category(HAZELNUT, 224)
    params = model_params("anogan", "hazelnut", weights, quick)
    det = make_detector("anogan", **params).fit(split.train[:22], split.train[22:])
    rows = []
    for steps in (0, 5) if quick else (0, 10, 25, 50):
        det.model_.search_steps = steps
        w0 = time.perf_counter()
        scores = det.decision_function(split.test)
        seconds = time.perf_counter() - w0
        rows.append({"search_steps": steps,
                     "seconds_per_image": round(seconds / len(split.test), 3),
                     "auroc": float(roc_auc_score(split.labels, scores))})  # fmt: skip
        log(f"anogan search {steps}: {rows[-1]}")
    return rows


def _fmt(v, digits=3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def report_markdown(result: dict) -> str:
    lines = [
        "# Image detectors",
        "",
        f"Command: `{result['command']}`; {result['machine']}; torch threads 1; load average "
        f"at start {result['load_average_start']}, at end {result['load_average_end']}; "
        f"{result['total_minutes']} minutes in all.",
        "",
    ]
    for s in result["sets"]:
        many = len(s["tasks"]) > 1
        lines += [
            f"## {s['set']} ({s['image_size']} px; {s['n_train']} training images, "
            f"{s['n_test']} test of which {s['n_anomalous']} anomalous"
            + (f"; mean over {len(s['tasks'])} tasks" if many else "") + ")",
            "",
            "| detector | image AUROC | " + ("worst task | " if many else "")
            + "AUPRC | F1 at threshold | pixel AUROC | fit s (CPU s) | score s | images/s |",
            "|---|---|" + ("---|" if many else "") + "---|---|---|---|---|---|",
        ]  # fmt: skip
        for r in sorted(s["rows"], key=lambda r: -r["auroc"]):
            lines.append(
                f"| {r['detector']} | {_fmt(r['auroc'])} | "
                + (f"{_fmt(r['auroc_min'])} | " if many else "")
                + f"{_fmt(r['auprc'])} | {_fmt(r['f1_at_threshold'])} | "
                f"{_fmt(r['pixel_auroc'])} | {_fmt(r['fit_seconds'], 1)} "
                f"({_fmt(r['fit_cpu_seconds'], 1)}) | {_fmt(r['score_seconds'], 1)} | "
                f"{_fmt(r['images_per_second'], 1)} |"
            )  # fmt: skip
        lines.append("")
    if result.get("coreset"):
        lines += ["## PatchCore memory bank against coreset ratio (hazelnut, 224 px)", "",
                  "| coreset ratio | bank patches | bank MiB | image AUROC | pixel AUROC | fit s | "
                  "score s | images/s |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in result["coreset"]:
            lines.append(
                f"| {r['coreset_ratio']} | {r['bank_size']} | {r['bank_mib']} | "
                f"{_fmt(r['auroc'])} | {_fmt(r['pixel_auroc'])} | {r['fit_seconds']} | "
                f"{r['score_seconds']} | {r['images_per_second']} |"
            )
        lines.append("")
    if result.get("anogan_search"):
        lines += ["## AnoGAN scoring time against latent-search steps (hazelnut, 224 px)", "",
                  "| search steps | seconds per image | image AUROC |",
                  "|---|---|---|"]  # fmt: skip
        for r in result["anogan_search"]:
            lines.append(f"| {r['search_steps']} | {r['seconds_per_image']} | {_fmt(r['auroc'])} |")
        lines.append("")
    return "\n".join(lines)


def main(
    quick: Annotated[bool, typer.Option(help="Two epochs, fewer tasks: a smoke run.")] = False,
    sets: Annotated[str, typer.Option(help="Comma-separated: hazelnut,digits,textures.")] = (
        ",".join(SETS)
    ),
    models: Annotated[str, typer.Option(help="Comma-separated detectors.")] = ",".join(MODELS),
    weights: Annotated[Path, typer.Option(help="MobileNetV2 features state_dict.")] = WEIGHTS,
    sweeps: Annotated[
        bool, typer.Option(help="PatchCore coreset and AnoGAN search sweeps.")
    ] = True,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("reports/images"),
    tasks: Annotated[
        str | None,
        typer.Option(help="Comma-separated tasks to keep: textures (brick) or digits (3)."),
    ] = None,
) -> None:
    torch.set_num_threads(1)
    start, load_start = time.perf_counter(), os.getloadavg()[0]
    out.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:7.0f} s] {msg}", flush=True)

    chosen = [m.strip() for m in models.split(",") if m.strip()]
    result = {
        "command": "OMP_NUM_THREADS=1 uv run --group bench python benchmarks/images.py"
        + (" --quick" if quick else "")
        + (f" --sets {sets}" if sets != ",".join(SETS) else "")
        + (f" --models {models}" if models != ",".join(MODELS) else "")
        + ("" if sweeps else " --no-sweeps")
        + (f" --tasks {tasks}" if tasks else ""),
        "machine": f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}",
        "load_average_start": round(load_start, 1),
        "sets": [],
    }
    for set_name in [s.strip() for s in sets.split(",") if s.strip()]:
        if set_name not in SETS:
            raise typer.BadParameter(f"unknown set {set_name!r}; choose from {SETS}")
        only = {t.strip() for t in tasks.split(",") if t.strip()} if tasks else None
        result["sets"].append(
            run_set(set_name, chosen, weights, quick, out / "overlays", log, only)
        )
        (out / "images.json").write_text(json.dumps(result, indent=2))
    if sweeps:
        result["coreset"] = coreset_sweep(weights, quick, log)
        result["anogan_search"] = anogan_search_sweep(weights, quick, log)
    result["load_average_end"] = round(os.getloadavg()[0], 1)
    result["total_minutes"] = round((time.perf_counter() - start) / 60, 1)
    (out / "images.json").write_text(json.dumps(result, indent=2))
    (out / "images.md").write_text(report_markdown(result) + "\n")
    print(report_markdown(result))


if __name__ == "__main__":
    typer.run(main)
