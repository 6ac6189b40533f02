"""The ablation of `adrec bench recommend` on test targets: each blend tuned on validation,
scored with full-ranking and sampled metrics on all, shifting and other targets, with
bootstrap intervals that resample users, per seed and over all seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adrec.bench.recommend_blends import as_rule, fit_gate, mixed, tune_rule
from adrec.bench.recommend_config import SOURCE_NAMES, BenchConfig, SplitSources
from adrec.data.splits import ChronoSplit
from adrec.metrics.ranking import (
    cluster_bootstrap,
    full_ranks,
    hit_ndcg,
    sampled_ranks,
)

COMPARISONS = (
    ("anomaly-aware rule", "best fixed blend"),
    ("learned gate", "best fixed blend"),
    ("learned gate", "learned gate, no anomaly score"),
)


def pooled_cis(per_seed: list[dict], n_resamples: int) -> list[dict]:
    """A - B over all seeds at once: a cluster bootstrap that resamples users (each user's
    targets of every seed go together); a target is 'shifting' in the seeds where the
    detector of that seed flagged it."""
    users = per_seed[0]["users"]
    if any(not np.array_equal(p["users"], users) for p in per_seed):
        raise ValueError("every seed must score the same test targets")
    shifting = np.stack([p["shifting"] for p in per_seed])  # [seeds, targets]
    groups = {"all": np.ones_like(shifting), "shifting": shifting, "rest": ~shifting}
    out = []
    for a, b in COMPARISONS:
        d = np.stack([p["ndcg"][a] - p["ndcg"][b] for p in per_seed])
        base = np.stack([p["ndcg"][b] for p in per_seed])
        for g, mask in groups.items():
            if not mask.any():
                continue
            ci = cluster_bootstrap(d, mask, n_resamples, seed=0, clusters=users)
            base_mean = float(base[mask].mean())
            out.append(
                {
                    "a": a, "b": b, "users": g, "n_target_seeds": ci["n"], "n_users": ci["n_users"],
                    "diff": ci["diff"],
                    "low": ci["low"], "high": ci["high"],
                    "relative": ci["diff"] / base_mean if base_mean else float("nan"),
                }
            )  # fmt: skip
    return out


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


def compare_blends(
    split: ChronoSplit,
    valid: SplitSources,
    test: SplitSources,
    fixed_w: np.ndarray,
    fixed_val: float,
    cfg: BenchConfig,
    seed: int,
) -> dict:
    S = len(SOURCE_NAMES)
    shifted_w, rule_val = tune_rule(
        valid.probs, split.valid, valid.calibrated, fixed_w, cfg.k, cfg.grid_step
    )
    rule = as_rule(fixed_w, shifted_w)

    gate, gate_l2 = fit_gate(valid.gate_features, valid.probs, split.valid, fixed_w, cfg, seed)
    gate_plain, plain_l2 = fit_gate(
        valid.gate_features[:, 1:], valid.probs, split.valid, fixed_w, cfg, seed
    )
    c_test = np.clip(test.calibrated, 0, 1)[:, None]
    weights = {
        "long_term only": np.eye(S)[0],
        "short_term only": np.eye(S)[1],
        "best fixed blend": fixed_w,
        "anomaly-aware rule": (1 - c_test) * fixed_w + c_test * shifted_w,
        "learned gate": gate.weights(test.gate_features),
        "learned gate, no anomaly score": gate_plain.weights(test.gate_features[:, 1:]),
    }
    shifting = test.calibrated >= cfg.shift_level
    groups = {"all": np.ones_like(shifting), "shifting": shifting, "rest": ~shifting}
    per_user, table = {}, []
    for name, w in weights.items():
        scores = mixed(test.probs, w)
        full = full_ranks(scores, split.test.targets, split.test.histories)
        sampled = sampled_ranks(
            scores, split.test.targets, split.test.histories, cfg.n_negatives, seed
        )
        hit, ndcg = hit_ndcg(full, cfg.k)
        s_hit, s_ndcg = hit_ndcg(sampled, cfg.k)
        per_user[name] = ndcg
        for g, mask in groups.items():
            table.append(
                {
                    "variant": name,
                    "users": g,
                    "n": int(mask.sum()),
                    "full_hr@10": _mean(hit[mask]),
                    "full_ndcg@10": _mean(ndcg[mask]),
                    "sampled100_hr@10": _mean(s_hit[mask]),
                    "sampled100_ndcg@10": _mean(s_ndcg[mask]),
                }
            )
    cis = []
    for aware, base in COMPARISONS:
        d = (per_user[aware] - per_user[base])[None]
        for g, mask in groups.items():
            # resampling users, not targets: a user's several targets are not independent
            ci = cluster_bootstrap(d, mask[None], cfg.n_bootstrap, seed, split.test.users)
            base_mean = _mean(per_user[base][mask])
            rel = ci["diff"] / base_mean if base_mean else float("nan")
            cis.append({"a": aware, "b": base, "users": g, **ci, "relative": rel})
    months = pd.to_datetime(split.test.times, unit="s").strftime("%Y-%m").to_numpy()
    over_time = [
        {
            "month": m,
            "n": int((months == m).sum()),
            **{
                v: _mean(per_user[v][months == m])
                for v in ("best fixed blend", "anomaly-aware rule", "learned gate")
            },
        }
        for m in sorted(set(months))
    ]
    # Our SASRec alone under RecBole's sequential protocol (seen items not excluded) too.
    no_exclusion = [np.zeros(0, np.int64)] * len(split.test.targets)
    hit, ndcg = hit_ndcg(full_ranks(test.probs[0], split.test.targets, no_exclusion), cfg.k)
    sasrec = {
        "full_hr@10_seen_excluded": _mean(
            hit_ndcg(full_ranks(test.probs[0], split.test.targets, split.test.histories), cfg.k)[0]
        ),
        "full_ndcg@10_seen_excluded": _mean(per_user["long_term only"]),
        "full_hr@10_seen_kept": _mean(hit),
        "full_ndcg@10_seen_kept": _mean(ndcg),
    }
    return {
        "_per_user": {"ndcg": per_user, "shifting": shifting, "users": split.test.users},
        "sasrec": sasrec,
        "validation_ndcg@10": {"best fixed blend": fixed_val, "anomaly-aware rule": rule_val},
        "rule": {"calm": rule.calm, "shifted": rule.shifted},
        "gate_l2": {"learned gate": gate_l2, "learned gate, no anomaly score": plain_l2},
        "gate_mean_weights": {
            "learned gate": dict(
                zip(SOURCE_NAMES, weights["learned gate"].mean(0).round(4).tolist(), strict=True)
            ),
            "learned gate, no anomaly score": dict(
                zip(
                    SOURCE_NAMES,
                    weights["learned gate, no anomaly score"].mean(0).round(4).tolist(),
                    strict=True,
                )
            ),
        },
        "shifting": {
            "valid_targets": int((valid.calibrated >= cfg.shift_level).sum()),
            "test_targets": int(shifting.sum()),
            "test_users": len(np.unique(split.test.users[shifting])),
        },
        "table": table,
        "ci_ndcg@10": cis,
        "ndcg@10_by_month": over_time,
    }
