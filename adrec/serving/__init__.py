"""Serving: the HTTP models (models.py), the Ray-free service over a run directory
(service.py) and the plain FastAPI app (plain.py); the Ray Serve graph with its typed
builder (app.py) and the Serve application's metrics for the dashboard (serve_metrics.py)
are the only modules here that import Ray."""
