"""benchmarks/train_overhead.py without Ray: the plain loop of both models on tiny data, the
steady / first epoch summary and the report table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    path = ROOT / "benchmarks/train_overhead.py"
    spec = importlib.util.spec_from_file_location("bench_train_overhead", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plain_loops_and_report(bench):
    cfgs = {
        "lstm_ae": {"model": "lstm_ae", "features": 6, "hidden": 8, "latent": 2},
        "sasrec": {"model": "sasrec", "n_items": 50, "max_len": 8, "dim": 16, "layers": 1},
    }
    data = {"lstm_ae": bench.lstm_data(40, 5, 6), "sasrec": bench.sasrec_data(30, 8, 50)}
    runs = {}
    for name, cfg in cfgs.items():
        r = bench.plain({**cfg, "epochs": 3, "batch": 16, "seed": 0}, data[name])
        assert len(r["epochs_s"]) == len(r["epochs_cpu_s"]) == 3
        s = bench.summarise(r)
        assert s["first_epoch_s"] == r["epochs_s"][0]
        assert min(r["epochs_s"][1:]) <= s["steady_epoch_s"] <= max(r["epochs_s"][1:])
        runs[name] = {"plain": s, "ray 1 worker, stream": s, "ray 2 workers, stream": s}
    result = {"command": "c", "machine": "m", "torch": "t", "epochs": 3, "gpu": "not measured",
              "data": {"lstm_ae": "a", "sasrec": "b"}, "runs": runs}  # fmt: skip
    md = bench.render(result)
    two = [line for line in md.splitlines() if "ray 2 workers" in line]
    assert len(two) == 2 and all(line.endswith("| 1.00x | 1.00x | 1.00x |") for line in two)
    assert "| lstm_ae | a | plain |" in md
