"""What the browser tests share: Debian's headless Chromium driven by Playwright, the
``browser_ready`` fixture and the console's sign-in.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (``CHROMIUM_PATH``
overrides) through ``executable_path``. Without Playwright or Chromium a browser test is skipped on
a developer machine and fails in CI (``CI`` set), so CI cannot pass by silently not testing. The
fixture reaches the tests through ``tests/staff/conftest.py`` and ``tests/browser/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright Python package is not installed (pip install playwright)"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)) and not shutil.which(
        CHROMIUM
    ):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture
def browser_ready() -> None:
    problem = _missing()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; CI is set, so the browser test must run")
        pytest.skip(problem)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed on the way out."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(page: Any, login: str, password: str) -> None:
    """Fill and send the console's login form the page shows."""
    await page.get_by_label("Tên đăng nhập").fill(login)
    await page.get_by_label("Mật khẩu").fill(password)
    await page.get_by_role("button", name="Đăng nhập").click()


async def log_in(page: Any, url: str, password: str, login: str = "lan") -> None:
    """Open ``url``, sign in on the login page it sends a stranger to, and be back at ``url``."""
    from playwright.async_api import expect

    await page.goto(url)
    await sign_in(page, login, password)
    await expect(page).to_have_url(url)
