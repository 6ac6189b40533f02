"""The Markdown + JSON report of `adrec bench recommend`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from adrec.dashboard.series import accuracy_by_month


def rating_sessions(ratings: pd.DataFrame) -> dict:
    """Why windows count interactions: how many distinct days users rate on."""
    days = ratings.assign(day=ratings["timestamp"] // 86_400).groupby("user_id")["day"]
    n_days = days.nunique()
    per_day = ratings.groupby("user_id").size() / n_days
    return {
        "median_active_days_per_user": float(n_days.median()),
        "share_users_on_at_most_3_days": float((n_days <= 3).mean()),
        "median_ratings_per_active_day": float(per_day.median()),
    }


def summary_line(seed: int, result: dict) -> str:
    rows = {(r["variant"], r["users"]): r["full_ndcg@10"] for r in result["table"]}
    parts = [
        f"{v}={rows[(v, 'all')]:.4f}/{rows[(v, 'shifting')]:.4f}" for v, _ in rows if _ == "all"
    ]
    return f"seed {seed} full NDCG@10 all/shifting: " + ", ".join(parts)


def write_report(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "recommend.json"
    json_path.write_text(json.dumps(report, indent=2, default=float))
    md_path = out / "recommend.md"
    md_path.write_text(markdown(report))
    return json_path, md_path


def markdown(report: dict) -> str:
    lines = ["# adrec bench recommend", ""]
    d = report["data"]
    lines.append(
        f"{d['n_users']} training users, {d['n_valid_targets']} validation and "
        f"{d['n_test_targets']} test targets ({d.get('n_test_users', d['n_test_targets'])} "
        f"users, up to {d.get('targets_per_user', 1)} each, every one predicted from the "
        f"user's history before it), {d['n_items']} items, {d['n_ratings']} ratings; "
        f"split {report['split']}; long-term SASRec trainer {report.get('trainer', 'local')}; "
        f"torch threads {report['threads']['torch']}; wall "
        f"{report.get('wall_seconds', float('nan'))} s. Trending window (chosen on "
        f"validation): {report['trending_window_days']['chosen']} days."
    )
    for seed, res in report["seeds"].items():
        lines += ["", f"## Seed {seed}", ""]
        det = res["detector"]["chosen"]
        lines.append(
            f"Detector {det['name']} (chosen on validation; activity only: "
            f"{det['activity_only']}, input: {det['input']}); short-term source "
            f"{res['short_term_choice']['chosen']}; shifting at test: "
            f"{res['shifting'].get('test_targets', res['shifting']['test_users'])} targets of "
            f"{res['shifting']['test_users']} users; long-term model trained in "
            f"{res['train_seconds']} s."
        )
        lines += [
            "",
            "| variant | users | n | full HR@10 | full NDCG@10 | sampled-100 HR@10 "
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
        ]
        for c in res["ci_ndcg@10"]:
            lines.append(
                f"| {c['a']} - {c['b']} | {c['users']} | {c['n']} | {c.get('n_users', '')} | "
                f"{c['diff']:+.4f} | "
                f"[{c['low']:+.4f}, {c['high']:+.4f}] | {c['relative']:+.1%} |"
            )
        lines += [
            "",
            f"Rule (tuned on validation): calm {res['rule']['calm']}, "
            f"shifted {res['rule']['shifted']}",
        ]
    if report.get("pooled_ci_ndcg@10"):
        lines += [
            "",
            f"## All seeds pooled ({', '.join(report['seeds'])}): cluster bootstrap over users",
            "",
            "| A - B (full NDCG@10) | targets | target-seeds | distinct users | diff | 95% CI "
            "| relative |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in report["pooled_ci_ndcg@10"]:
            lines.append(
                f"| {c['a']} - {c['b']} | {c['users']} | {c['n_target_seeds']} | {c['n_users']} | "
                f"{c['diff']:+.4f} | [{c['low']:+.4f}, {c['high']:+.4f}] | {c['relative']:+.1%} |"
            )
    lines += [
        "",
        f"## adrec {report['config'].get('sequence_model', 'sasrec')} alone (test, full "
        f"ranking, {report['config'].get('loss', 'full')}-softmax training)",
        "",
        "| seed | train s | HR@10 seen excluded | NDCG@10 seen excluded | HR@10 seen kept "
        "| NDCG@10 seen kept |",
        "|---|---|---|---|---|---|",
    ]
    for seed, res in report["seeds"].items():
        q = res["sasrec"]
        lines.append(
            f"| {seed} | {res['train_seconds']} | {q['full_hr@10_seen_excluded']:.4f} | "
            f"{q['full_ndcg@10_seen_excluded']:.4f} | {q['full_hr@10_seen_kept']:.4f} | "
            f"{q['full_ndcg@10_seen_kept']:.4f} |"
        )
    lines += _over_time(report)
    if "recbole" in report:
        lines += _recbole(report)
    return "\n".join(lines) + "\n"


def _over_time(report: dict) -> list[str]:
    """Test NDCG@10 per calendar month of the target, mean over seeds (the dashboard's
    accuracy-over-time series)."""
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


def _recbole(report: dict) -> list[str]:
    rb = report["recbole"]
    lines = ["", "## SASRec: adrec vs RecBole (same leave-last-out split, seen items kept)", ""]
    if rb.get("status") != "ok":
        return [*lines, f"RecBole {rb.get('status')}: {rb.get('why', '')}"]
    ref = report.get("sasrec_reference")  # set when the blends used several targets per user
    runs = [ref] if ref else [{**r["sasrec"], "train_seconds": r["train_seconds"]}
                              for r in report["seeds"].values()]  # fmt: skip
    ours = [r["full_ndcg@10_seen_kept"] for r in runs]
    ours_hr = [r["full_hr@10_seen_kept"] for r in runs]
    ours_s = [r["train_seconds"] for r in runs]
    mean = sum(ours) / len(ours)
    who = f"seed {ref['seed']}, one test target per user" if ref else f"mean of {len(ours)} seeds"
    lines += [
        "| model | NDCG@10 | HR@10 | train s | epochs |",
        "|---|---|---|---|---|",
        f"| adrec SASRec ({who}) | {mean:.4f} | "
        f"{sum(ours_hr) / len(ours_hr):.4f} | {sum(ours_s) / len(ours_s):.1f} | "
        f"{report['config']['epochs']} |",
        f"| RecBole 1.2.1 SASRec | {rb['ndcg@10']:.4f} | {rb['hit@10']:.4f} | "
        f"{rb['train_seconds']} | {rb['epochs']} (early stopping on validation) |",
        "",
        f"adrec / RecBole NDCG@10: {mean / rb['ndcg@10']:.3f}. RecBole: {rb.get('protocol', '')};"
        f" command: `{rb.get('command', '')}`",
    ]
    return lines
