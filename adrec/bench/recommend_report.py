"""The Markdown + JSON report of `adrec bench recommend`."""

from __future__ import annotations

import json
from pathlib import Path

from adrec.dashboard.series import accuracy_by_month
from adrec.recommender.run import _json_default


def write_report(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "recommend.json"
    json_path.write_text(json.dumps(report, indent=2, default=_json_default))
    md_path = out / "recommend.md"
    md_path.write_text(markdown(report))
    return json_path, md_path


def _ci_rows(cis: list[dict], n_key: str) -> list[str]:
    return [
        f"| {c['a']} - {c['b']} | {c['users']} | {c[n_key]} | {c.get('n_users', '')} | "
        f"{c['diff']:+.4f} | [{c['low']:+.4f}, {c['high']:+.4f}] | {c['relative']:+.1%} |"
        for c in cis
    ]


def markdown(report: dict) -> str:
    d, cfg = report["data"], report["config"]
    lines = [
        "# adrec bench recommend",
        "",
        f"Log: {d.get('source', '')} ({d.get('rows_used')} interactions used of "
        f"{d.get('rows_in')} read; rejected {d.get('rejected')}; {d.get('n_users')} users, "
        f"{d.get('n_items')} items, {d.get('n_categories')} categories). Split "
        f"{cfg['split']}, up to {cfg['targets_per_user']} test and validation targets per user, "
        f"each predicted from the user's whole history before it. Long-term model "
        f"{cfg['long_term']['kind']} ({report.get('trainer')} trainer); torch threads "
        f"{report['threads']['torch']}; wall {report.get('wall_seconds', 'n/a')} s. Every "
        "number below is the saved run's engine scoring its held-out test targets.",
    ]
    for seed, res in report["seeds"].items():
        fit = res["fit"]
        det = fit.get("detector")
        det_text = (
            f"{det['name']} over {det['window']} ({det['input']})" if det else "none (dropped)"
        )
        lines += ["", f"## Seed {seed} (run {res.get('run_dir', '')})", ""]
        lines.append(
            f"Chosen on validation: detector {det_text}; short-term source "
            f"{fit['sources']['short_term']['chosen']}; trending window "
            f"{fit['sources']['trending_days']['chosen']} days; served blend "
            f"{fit['blend']['served']}. Long-term model: best validation NDCG@10 "
            f"{fit['long_term'].get('best_valid_ndcg@10')} at epoch "
            f"{fit['long_term'].get('best_epoch')}, {fit['long_term'].get('train_seconds')} s. "
            f"Shifting at test: {res['shifting']['test_targets']} targets of "
            f"{res['shifting']['test_users']} users ({res['shifting']['targets_with_a_window']} "
            f"of {res['n_test_targets']} test targets had a behaviour window; the others get "
            "the calm blend)."
        )
        if fit.get("dropped"):
            lines += ["", "Dropped for lack of data: " + "; ".join(fit["dropped"]) + "."]
        lines += [
            "",
            "| variant | targets | n | full HR@10 | full NDCG@10 | sampled-100 HR@10 "
            "| sampled-100 NDCG@10 |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in res["table"]:
            lines.append(
                f"| {r['variant']} | {r['users']} | {r['n']} | {r['full_hr@10']:.4f} | "
                f"{r['full_ndcg@10']:.4f} | {r['sampled100_hr@10']:.4f} | "
                f"{r['sampled100_ndcg@10']:.4f} |"
            )
        lines += [
            "",
            "| A - B (full NDCG@10) | targets | n | distinct users | diff | 95% CI "
            "(resampling users) | relative |",
            "|---|---|---|---|---|---|---|",
            *_ci_rows(res["ci_ndcg@10"], "n"),
            "",
            f"Rule (tuned on validation): {fit['blend']['rule']}; recency control: "
            f"{fit['blend']['recency_rule']}",
        ]
    if report.get("pooled_ci_ndcg@10"):
        lines += [
            "",
            f"## All seeds pooled ({', '.join(report['seeds'])}): cluster bootstrap over users",
            "",
            "| A - B (full NDCG@10) | targets | target-seeds | distinct users | diff | 95% CI "
            "| relative |",
            "|---|---|---|---|---|---|---|",
            *_ci_rows(report["pooled_ci_ndcg@10"], "n_target_seeds"),
        ]
    lines += [
        "",
        f"## The long-term model alone ({cfg['long_term']['kind']}, test, full ranking)",
        "",
        "| seed | train s | epochs | HR@10 seen excluded | NDCG@10 seen excluded | HR@10 seen "
        "kept | NDCG@10 seen kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for seed, res in report["seeds"].items():
        q, lt = res["long_term_alone"], res["fit"]["long_term"]
        lines.append(
            f"| {seed} | {lt.get('train_seconds')} | {lt.get('epochs_run')} | "
            f"{q['full_hr@10_seen_excluded']:.4f} | {q['full_ndcg@10_seen_excluded']:.4f} | "
            f"{q['full_hr@10_seen_kept']:.4f} | {q['full_ndcg@10_seen_kept']:.4f} |"
        )
    lines += _over_time(report)
    return "\n".join(lines) + "\n"


def _over_time(report: dict) -> list[str]:
    table = accuracy_by_month(report)
    if table.empty:
        return []
    variants = [c for c in table if c != "targets"]
    lines = [
        "",
        "## Test NDCG@10 over time (month of the target, mean over seeds)",
        "",
        "| month | targets | " + " | ".join(variants) + " |",
        "|---|---|" + "---|" * len(variants),
    ]
    for month, r in table.iterrows():
        cells = " | ".join(f"{r[v]:.4f}" for v in variants)
        lines.append(f"| {month} | {int(r['targets'])} | {cells} |")
    return lines
