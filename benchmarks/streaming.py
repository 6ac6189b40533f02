"""Per-event latency of real-time behaviour scoring (adrec.detectors.streaming.StreamingScorer)
against the window update alone, side by side in one run.

OMP_NUM_THREADS=1 uv run python benchmarks/streaming.py [--events 20000] [--out reports/streaming]

Events of random users (1000 known users, a cap of 500 held at once, so evictions happen) are
streamed one by one; each call updates the user's bounded window and scores it. Writes
streaming.md and streaming.json."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import torch
import typer

from adrec.data.behavior import WindowSpec
from adrec.detectors import make_detector
from adrec.detectors.streaming import StreamingScorer


def _events(spec: WindowSpec, n: int, n_users: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.uniform(0, 60 * 86400, n))
    times = pd.Timestamp(spec.origin) + pd.to_timedelta(seconds, unit="s")
    users = rng.integers(0, n_users, n).tolist()
    cats = rng.choice(spec.categories, n).tolist()
    values = rng.exponential(5.0, n).tolist()
    return list(zip(users, times, cats, values, strict=True))


def main(
    events: Annotated[int, typer.Option(min=100, help="Events to stream.")] = 20_000,
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("reports/streaming"),
) -> None:
    torch.set_num_threads(1)
    spec = WindowSpec(tuple(f"c{i}" for i in range(8)), "2026-01-01", window_days=7)
    rng = np.random.default_rng(0)
    train = rng.normal(0, 0.3, size=(2000, 7, spec.n_features)).astype(np.float32)
    profile = np.r_[np.full(8, 1 / 8), np.full(4, 0.25), 1.0, 2.0]
    profiles = {u: profile for u in range(1000)}
    stream = _events(spec, events, 1000, seed=1)
    detectors = {
        "window_features(pca)": make_detector("window_features", base="pca"),
        "window_features(iforest)": make_detector("window_features", base="iforest"),
        "lstm_ae": make_detector("lstm_ae", epochs=1),
    }
    rows = []
    for label, det in detectors.items():
        det.fit(train)
        scorer = StreamingScorer(det, spec, profiles, max_users=500)
        lat = np.empty(len(stream))
        for i, e in enumerate(stream):
            t0 = time.perf_counter()
            scorer.update(*e)
            lat[i] = time.perf_counter() - t0
        window_only = StreamingScorer(det, spec, profiles, max_users=500)
        window_only._score = lambda window: None  # the same updates without the detector
        t0 = time.perf_counter()
        for e in stream:
            window_only.update(*e)
        update_us = (time.perf_counter() - t0) / len(stream) * 1e6
        us = lat * 1e6
        rows.append(
            {
                "detector": label,
                "median_us": float(np.median(us)),
                "p99_us": float(np.percentile(us, 99)),
                "mean_us": float(us.mean()),
                "window_update_only_us": update_us,
                "users_held": len(scorer),
            }
        )
        typer.echo(
            f"{label:26s} median {rows[-1]['median_us']:.0f} us  p99 "
            f"{rows[-1]['p99_us']:.0f} us  window update alone {update_us:.0f} us"
        )
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "events": events,
        "users": 1000,
        "max_users": 500,
        "window_days": 7,
        "features": spec.n_features,
        "threads": 1,
        "python": platform.python_version(),
    }
    (out / "streaming.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        "# Streaming scoring latency",
        "",
        f"{json.dumps(meta)}",
        "",
        "| detector | median µs | p99 µs | window update alone µs |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['detector']} | {r['median_us']:.0f} | {r['p99_us']:.0f} | "
        f"{r['window_update_only_us']:.0f} |"
        for r in rows
    ]
    (out / "streaming.md").write_text("\n".join(lines) + "\n")
    typer.echo(f"report: {out}/streaming.md")


if __name__ == "__main__":
    typer.run(main)
