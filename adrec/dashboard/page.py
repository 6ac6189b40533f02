"""One self-contained HTML page of line charts (inline SVG) with the numbers in a table below
each chart, so it opens anywhere, offline, and reads without the pictures."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
WIDTH, HEIGHT, PAD = 720, 260, 44


def line_chart(frame: pd.DataFrame, columns: list[str], title: str, y_label: str) -> str:
    """An SVG line chart of `columns` of `frame` over its index (missing values break lines)."""
    values = frame[columns].to_numpy(np.float64)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    lo, hi = (lo - 0.5, hi + 0.5) if hi == lo else (lo, hi)
    n = len(frame)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - lo) / (hi - lo)

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#888"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<text x="4" y="{PAD - 10}" font-size="11">{html.escape(y_label)}</text>',
        f'<text x="{PAD - 4}" y="{y(hi) + 4:.1f}" font-size="10" text-anchor="end">{hi:.3g}</text>',
        f'<text x="{PAD - 4}" y="{y(lo) + 4:.1f}" font-size="10" text-anchor="end">{lo:.3g}</text>',
    ]
    labels = [_label(v) for v in frame.index]
    for i in sorted({0, n // 2, n - 1}) if n else []:
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - PAD + 16}" font-size="10" '
            f'text-anchor="middle">{html.escape(labels[i])}</text>'
        )
    for c, column in enumerate(columns):
        colour = COLOURS[c % len(COLOURS)]
        for run in _finite_runs(values[:, c]):
            points = " ".join(f"{x(i):.1f},{y(values[i, c]):.1f}" for i in run)
            if len(run) == 1:
                i = run[0]
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(values[i, c]):.1f}" r="2.5" '
                             f'fill="{colour}"/>')  # fmt: skip
            else:
                parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                             'stroke-width="1.8"/>')  # fmt: skip
        parts.append(
            f'<text x="{WIDTH - PAD - 146}" y="{PAD + 14 * c}" font-size="11" '
            f'fill="{colour}">{html.escape(column)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _finite_runs(column: np.ndarray) -> list[list[int]]:
    runs, current = [], []
    for i, v in enumerate(column):
        if np.isfinite(v):
            current.append(i)
        elif current:
            runs.append(current)
            current = []
    return [*runs, current] if current else runs


def _label(v) -> str:
    return v.strftime("%Y-%m-%d") if isinstance(v, pd.Timestamp) else str(v)


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [frame.index.name or "", *frame])
    rows = []
    for idx, row in frame.iterrows():
        cells = "".join(
            f"<td>{'' if pd.isna(v) else (f'{v:.4f}' if isinstance(v, float) else v)}</td>"
            for v in row
        )
        rows.append(f"<tr><td>{html.escape(_label(idx))}</td>{cells}</tr>")
    return f"<details><summary>numbers</summary><table><tr>{head}</tr>{''.join(rows)}</table>" \
           "</details>"  # fmt: skip


def dashboard_html(
    anomaly: pd.DataFrame | None, accuracy: pd.DataFrame | None, title: str = "adrec", notes=()
) -> str:
    """The page: anomaly scores over time (from a run), recommendation accuracy over time
    (from the benchmark), each present when given."""
    sections = []
    if anomaly is not None and not anomaly.empty:
        rates = [c for c in ("flagged_share", "recall", "false_alarm_rate") if c in anomaly]
        sections += [
            "<h2>Anomaly scores over time (test windows, by end day)</h2>",
            line_chart(anomaly, ["mean_calibrated"], "mean calibrated score", "mean calibrated"),
            line_chart(anomaly, rates, "flagged windows", "share flagged (calibrated >= 0.5)"),
            _table(anomaly),
        ]
    if accuracy is not None and not accuracy.empty:
        variants = [c for c in accuracy if c != "targets"]
        sections += [
            "<h2>Recommendation accuracy over time (test NDCG@10 by month, mean over seeds)</h2>",
            line_chart(accuracy, variants, "NDCG@10 by month", "NDCG@10"),
            _table(accuracy),
        ]
    if not sections:
        raise ValueError("nothing to show: give a run's scored windows or a benchmark report")
    body = "\n".join(sections)
    notes_html = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:780px;margin:2em auto}"
        "svg{width:100%;height:auto}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{notes_html}{body}</body></html>\n"
    )
