"""Headless Chromium for the dashboard's browser tests and screenshots: Debian's
``chromium`` (scripts/test installs it when missing), driven by Playwright. Playwright's own
browser downloads are never used."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator

from playwright.async_api import Browser, async_playwright


def chromium_path() -> str | None:
    """``$STREW_CHROMIUM``, else the first of Debian's chromium names on the PATH."""
    given = os.environ.get("STREW_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


MISSING = (
    "no chromium to drive: install Debian's (apt-get install -y chromium, as scripts/test "
    "does) or point STREW_CHROMIUM at one"
)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    path = chromium_path()
    assert path is not None, MISSING
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()
