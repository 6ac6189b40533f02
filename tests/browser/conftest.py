"""The browser tests' served app: the plain FastAPI app (adrec.serving.plain, no Ray) with the
dashboard mounted, over a run of 10,000 users (tests/dashboard_run.py: the session's small
fitted run widened), served by uvicorn in a thread for the whole session."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def wide_run(dashboard_run, tmp_path_factory):
    from dashboard_run import widen_run

    return widen_run(dashboard_run, tmp_path_factory.mktemp("wide") / "run", 10_000)


@pytest.fixture(scope="session")
def plain_app(wide_run):
    """(base URL, app) of the plain app serving the 10,000-user run, dashboard mounted."""
    import torch
    import uvicorn

    from adrec.serving.plain import app_from_env

    torch.set_num_threads(1)
    before = os.environ.get("ADREC_RUN_DIR")
    os.environ["ADREC_RUN_DIR"] = str(wide_run)
    try:
        app = app_from_env()  # the plain app as uvicorn --factory serves it
    finally:
        if before is None:
            os.environ.pop("ADREC_RUN_DIR")
        else:
            os.environ["ADREC_RUN_DIR"] = before
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="plain-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the plain app did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(chromium):
    """A fresh page (1400 x 900) in the session's browser, with its console recorded."""
    from browser_support import Console

    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.console = Console(page)
    yield page
    context.close()
