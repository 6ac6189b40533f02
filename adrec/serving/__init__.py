"""Serving without Ray: the HTTP models (models.py), the API (http.py), the service over a
run directory (service.py) and the plain FastAPI app (plain.py). The Ray Serve graph that
deploys them, and its metrics, are in adrec.distributed (serve_graph.py, serve_metrics.py)."""
