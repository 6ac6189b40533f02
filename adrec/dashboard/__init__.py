"""The dashboard: anomaly scores and recommendation accuracy over time, as one static HTML page
(series.py computes the series, page.py draws them; no Ray, no JavaScript)."""

from adrec.dashboard.page import dashboard_html
from adrec.dashboard.series import accuracy_by_month, anomaly_by_day

__all__ = ["accuracy_by_month", "anomaly_by_day", "dashboard_html"]
