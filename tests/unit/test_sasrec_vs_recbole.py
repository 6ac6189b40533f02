"""benchmarks/sasrec_vs_recbole.py on a tiny MovieLens folder: per-seed and mean test metrics
(seen items kept and excluded), the ratios against a saved RecBole result, both reports, and a
validation-only sweep."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = {"max_len": 8, "dim": 8, "n_layers": 1, "dropout": 0.0, "lr": 0.01, "batch_size": 16,
        "max_epochs": 3, "patience": 2}  # fmt: skip


def _script():
    spec = importlib.util.spec_from_file_location(
        "sasrec_vs_recbole", ROOT / "benchmarks" / "sasrec_vs_recbole.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _movielens(path: Path, n_users: int = 12, n_items: int = 15) -> Path:
    rng = np.random.default_rng(0)
    path.mkdir()
    rows = [f"{u}\t{rng.integers(1, n_items + 1)}\t4\t{1000 * u + t}"
            for u in range(1, n_users + 1) for t in range(10)]  # fmt: skip
    (path / "u.data").write_text("\n".join(rows) + "\n")
    (path / "u.genre").write_text("A|0\nB|1\n")
    (path / "u.item").write_text("".join(f"{i}|item {i}|d||u|1|0\n" for i in range(1, n_items + 1)))
    return path


def test_report_beside_a_saved_recbole_result(tmp_path):
    data = _movielens(tmp_path / "ml")
    recbole = tmp_path / "recbole.json"
    recbole.write_text(json.dumps({
        "status": "ok", "ndcg@10": 0.05, "hit@10": 0.1, "train_seconds": 4000.0, "epochs": 30,
        "best_epoch": 19, "config": {"seed": 2020}, "threads": 2,
        "valid_curve": [{"epoch": 0, "valid_ndcg@10": 0.02, "loadavg": [3.0, 2.0, 1.0]}],
    }))  # fmt: skip
    out = tmp_path / "out"
    code = _script().main([
        "--data", str(data), "--seeds", "0,1", "--out-dir", str(out), "--config",
        json.dumps(TINY), "--recbole-result", str(recbole),
    ])  # fmt: skip
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    runs, summary = report["runs"], report["summary"]
    assert [r["seed"] for r in runs] == [0, 1] and report["torch_threads"] >= 1
    for r in runs:
        assert 0 <= r["test_ndcg@10_seen_kept"] <= r["test_hr@10_seen_kept"] <= 1
        assert 1 <= r["best_epoch"] <= r["epochs_run"] <= 3 and r["train_seconds"] >= 0
    mean = np.mean([r["test_ndcg@10_seen_kept"] for r in runs])
    assert summary["mean"]["test_ndcg@10_seen_kept"] == pytest.approx(mean)
    assert summary["ndcg_ratio"] == pytest.approx(mean / 0.05)
    assert summary["time_ratio_max"] == pytest.approx(
        max(r["train_seconds"] for r in runs) / 4000.0
    )
    md = (out / "report.md").read_text()
    assert "RecBole default (seed 2020)" in md and f"{summary['ndcg_ratio']:.3f}" in md
    assert "adrec seed 1" in md and "load average" in md


def test_a_sweep_scores_validation_only(tmp_path, monkeypatch):
    script = _script()
    data = _movielens(tmp_path / "ml")
    cands = tmp_path / "cands.jsonl"
    cands.write_text(json.dumps({"name": "a", **TINY}) + "\n"
                     + json.dumps({"name": "b", **TINY, "dim": 16}) + "\n")  # fmt: skip
    scored = []
    real = script.ranking_metrics
    monkeypatch.setattr(
        script, "ranking_metrics", lambda *a, **k: scored.append(1) or real(*a, **k)
    )
    out = tmp_path / "out"
    assert script.main(["--data", str(data), "--seeds", "0", "--out-dir", str(out),
                        "--sweep", str(cands)]) == 0  # fmt: skip
    rows = [json.loads(line) for line in (out / "sweep.jsonl").read_text().splitlines()]
    assert [r["name"] for r in rows] == ["a", "b"] and rows[1]["overrides"]["dim"] == 16
    assert all(0 <= r["mean_valid_ndcg@10"] <= 1 for r in rows)
    assert not scored and not (out / "report.json").exists()  # no test target was scored
