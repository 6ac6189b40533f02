"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium (or $ADREC_CHROMIUM)
driven by Playwright's Python package; `playwright install` is not needed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# as the machines' notes advise: no sandbox as root, and no background traffic to hosts a
# closed network refuses
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--disable-extensions",
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "reports" / "browser"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("ADREC_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):  # fmt: skip
        if candidate and Path(candidate).exists():
            return candidate
    return None


def launch_chromium():
    """(playwright, browser); skips the test where no Chromium is installed, unless
    ADREC_REQUIRE_BROWSER is set (then it fails)."""
    path = chromium_path()
    if path is None:
        message = "no Chromium: install Debian's chromium (.ci/run does) or set ADREC_CHROMIUM"
        if os.environ.get("ADREC_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    return playwright, browser


class Console:
    """Console messages and uncaught errors of a page; `errors` are the ones a test fails on."""

    def __init__(self, page):
        self.messages: list[tuple[str, str]] = []
        page.on("console", lambda m: self.messages.append((m.type, m.text)))
        page.on("pageerror", lambda e: self.messages.append(("pageerror", str(e))))
        page.on("requestfailed", lambda r: self.messages.append(
            ("requestfailed", f"{r.url} {r.failure}")))  # fmt: skip

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [m for m in self.messages if m[0] in ("error", "pageerror", "requestfailed")]


def screenshot(page, name: str) -> Path:
    """A full-page screenshot `name`.png under reports/browser/ (kept after the run, not
    committed), or under $ADREC_SCREENSHOT_DIR where set (relative to the repository root):
    `ADREC_SCREENSHOT_DIR=docs` refreshes the README's docs/dashboard-serve.png."""
    folder = Path(os.environ.get("ADREC_SCREENSHOT_DIR") or SCREENSHOTS)
    folder = folder if folder.is_absolute() else ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
