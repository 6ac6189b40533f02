"""`adrec bench recommend` scores held-out test targets through the saved engine: the same
split the fit step made, every variant from the engine's own sources and blends, intervals
that resample users, seeds pooled."""

from __future__ import annotations

import numpy as np
import pytest
from _adrec_helpers import interactions_from_events, tiny_fit_config

from adrec.bench.recommend import evaluate_runs, run_bench
from adrec.bench.recommend_eval import evaluate_engine
from adrec.bench.recommend_report import markdown, write_report
from adrec.data.splits import split_log
from adrec.metrics.ranking import full_ranks, hit_ndcg
from adrec.recommender.history import histories_at


def test_the_served_rule_is_scored_on_exactly_the_held_out_targets(fitted):
    inter, engine, _, _ = fitted
    result = evaluate_engine(engine, "leave_last_out", 5, n_bootstrap=200)
    test = split_log(inter, "leave_last_out", 5).test
    assert result["n_test_targets"] == len(test)
    rows = {(r["variant"], r["users"]): r for r in result["table"]}
    # recompute the served rule's NDCG@10 on all targets from the engine directly
    hist = histories_at(inter, test)
    weights = engine.blend_weights(hist, engine.anomaly(hist))["anomaly-aware rule"]
    probs = engine.sources.probs(hist)
    scores = np.einsum("ns,sni->ni", weights, probs)
    ndcg = hit_ndcg(full_ranks(scores, test.target, [h.items for h in hist]), 10)[1]
    assert rows[("anomaly-aware rule", "all")]["full_ndcg@10"] == pytest.approx(ndcg.mean())
    for name in engine.sources.names:
        assert (f"{name} only", "all") in rows
    pairs = {(c["a"], c["b"]) for c in result["ci_ndcg@10"]}
    assert ("anomaly-aware rule", "recency rule") in pairs
    assert all(c["low"] <= c["diff"] <= c["high"] for c in result["ci_ndcg@10"])


def test_seeds_are_pooled_over_the_same_targets_and_reported(tiny_sim, tmp_path):
    inter = interactions_from_events(tiny_sim[0])
    report = run_bench(inter, tiny_fit_config(), (0, 1), tmp_path, n_bootstrap=200,
                       log=lambda m: None)  # fmt: skip
    assert set(report["seeds"]) == {"0", "1"}
    pooled = {(c["a"], c["b"], c["users"]) for c in report["pooled_ci_ndcg@10"]}
    assert ("anomaly-aware rule", "best fixed blend", "all") in pooled
    js, md = write_report(report, tmp_path / "report")
    assert "All seeds pooled" in md.read_text() and js.exists()
    runs = [tmp_path / "runs" / "seed0", tmp_path / "runs" / "seed1"]
    one = evaluate_runs(runs[1:], n_bootstrap=200, log=lambda m: None)
    assert one["seeds"]["1"]["table"] == report["seeds"]["1"]["table"]
    assert "## Seed 1" in markdown(one) and "pooled_ci_ndcg@10" not in one
    # Saved runs pooled again give the fitting path's pooled intervals.
    both = evaluate_runs(runs, n_bootstrap=200, log=lambda m: None)
    assert both["pooled_ci_ndcg@10"] == report["pooled_ci_ndcg@10"]
    with pytest.raises(ValueError, match="seed 1"):
        evaluate_runs(runs[1:] * 2, n_bootstrap=200, log=lambda m: None)
