"""The dashboard page: one HTML template (static/index.html) with its script and style, and
Chart.js shipped in the package (static/vendor/chart.js, MIT).

Served (`page_html()`), the page links its assets under static/ and asks the JSON endpoints
for data. As a report (`report_html(...)`), the same template carries the assets inline and
every endpoint's answer as embedded JSON: one file that opens offline."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

STATIC = Path(__file__).parent / "static"
CHART_JS = "vendor/chart.js/chart.umd.min.js"
STATIC_FILES = {
    "dashboard.js": "dashboard.js",
    "dashboard.css": "dashboard.css",
    "chart.umd.min.js": CHART_JS,
}


def _read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _template() -> str:
    return _read("index.html")


def page_html() -> str:
    """The served page: assets from static/, data from the JSON endpoints."""
    return (
        _template()
        .replace("<!--STYLE-->", '<link rel="stylesheet" href="static/dashboard.css">')
        .replace("<!--DATA-->", "")
        .replace(
            "<!--SCRIPTS-->",
            '<script src="static/chart.umd.min.js"></script>\n'
            '<script src="static/dashboard.js"></script>',
        )
    )


def _json_script(element_id: str, value) -> str:
    """JSON in a <script> element: every "<" written as \\u003c (valid JSON, and nothing in
    it can end the element or open a comment)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _gzip_script(element_id: str, value) -> str:
    """JSON, gzip-compressed and base64-encoded (the browser's DecompressionStream reads it):
    a run's per-user series are about a tenth of their JSON size this way."""
    raw = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    text = base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")
    return (f'<script type="application/octet-stream" data-encoding="gzip+base64" '
            f'id="{element_id}">{text}</script>')  # fmt: skip


def embedded_json(html: str, element_id: str):
    """What report_html embedded under `element_id` (for tests and tools)."""
    start = html.index(f'id="{element_id}">') + len(f'id="{element_id}">')
    text = html[start : html.index("</script>", start)]
    if f'data-encoding="gzip+base64" id="{element_id}"' in html:
        return json.loads(gzip.decompress(base64.b64decode(text)))
    return json.loads(text)


def report_html(data: dict, users: dict) -> str:
    """The self-contained page: `data` holds the summary, population, accuracy and user
    index answers; `users` each user's series (compressed; unpacked by the page when a user
    is first shown)."""
    scripts = [_read(CHART_JS), _read("dashboard.js")]
    for s in scripts:
        if "</script" in s.lower() or "<!--" in s:
            raise ValueError("a script to inline contains '</script' or '<!--'")
    return (
        _template()
        .replace("<!--STYLE-->", f"<style>\n{_read('dashboard.css')}\n</style>")
        .replace(
            "<!--DATA-->",
            _json_script("adrec-data", data) + "\n" + _gzip_script("adrec-users", users),
        )  # fmt: skip
        .replace("<!--SCRIPTS-->", "\n".join(f"<script>\n{s}\n</script>" for s in scripts))
    )
