"""
Browser tests: a real `paperfeed` server (uvicorn in a thread, 127.0.0.1, a free
port) on a database loaded with the bundled sample corpus, driven by Playwright
in headless Chromium.  CI installs Debian's `chromium` and the `playwright`
Python package; Playwright's own browser download is never used.  Screenshots
go to `test-artifacts/`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("PAPERFEED_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the `playwright` Python package is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def new_tab(context, base: str):
    """A tab of `context` that records dialogs (then dismisses them) and console and page
    errors, for the tests to assert on; `tab.base` is the site's address."""
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.dialogs, tab.problems, tab.base = [], [], base
    tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
    tab.on("console", lambda m: tab.problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    return tab


@pytest.fixture
def page(browser, site):
    """A fresh tab (`new_tab`) on the module's `site` fixture, in a context of its own."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield new_tab(context, site)
    context.close()
