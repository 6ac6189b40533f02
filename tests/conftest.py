"""Loaded before any test module: the Ray setting adrec.distributed applies at import must be
in the environment before the first `import ray` (some test modules import Ray at collection)."""

import os

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


# -- the dashboard's tests: one small fitted run and one headless Chromium per session --------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def dashboard_run(tmp_path_factory):
    """A fitted, batch-scored run directory of a simulated log with planted life events (40
    users, 35 days; tests/dashboard_run.py). Tests must not change it (the dashboard writes
    its accuracy cache into it)."""
    from dashboard_run import make_run

    return make_run(tmp_path_factory.mktemp("dashboard") / "run", n_users=40, n_days=35,
                    n_items=100)  # fmt: skip


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium (Debian's, driven by Playwright's Python package), shared by a
    module's browser tests. Skipped where there is none, unless ADREC_REQUIRE_BROWSER is set
    (CI). Module scope: Playwright's sync API keeps an asyncio loop running in the main
    thread until it stops, and tests after it call asyncio.run and Serve's sync handles."""
    from browser_support import launch_chromium

    playwright, browser = launch_chromium()
    yield browser
    browser.close()
    playwright.stop()
