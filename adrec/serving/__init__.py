"""Serving: the HTTP models (models.py), the Ray-free service over a run directory
(service.py) and the Ray Serve graph with its typed builder (app.py)."""
