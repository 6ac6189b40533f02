"""The dashboard: anomaly scores and recommendation accuracy over time, and the live service.

data.py      RunData: JSON-ready views of a run directory (no Ray)
series.py    the per-day population series, score histogram, episodes
accuracy.py  NDCG@10 / HR@10 of the run's test targets per period, with intervals
live.py      request counters of a serving process (an ASGI middleware; no Ray)
router.py    the FastAPI router (page, assets, JSON endpoints); mount_dashboard(app, run)
page.py      the page (static/: index.html, dashboard.js, dashboard.css, Chart.js)
report.py    `adrec report`: the same page as one self-contained HTML file
"""

from adrec.dashboard.data import RunData
from adrec.dashboard.router import mount_dashboard
from adrec.dashboard.series import accuracy_by_month

__all__ = ["RunData", "accuracy_by_month", "mount_dashboard"]
