"""The Serve application's import path for configs and `serve run`: the graph itself lives in
adrec.distributed.serve_graph.

    serve run serve_apps.recommend_app:build_app run_dir=runs/demo
"""

from adrec.distributed.serve_graph import (
    AppArgs,
    Detector,
    Ingress,
    Recommender,
    build_app,
    deploy,
    undeploy,
)

__all__ = ["AppArgs", "Detector", "Ingress", "Recommender", "build_app", "deploy", "undeploy"]
