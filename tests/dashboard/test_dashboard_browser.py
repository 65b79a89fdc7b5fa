"""The dashboard in a real browser (Debian's headless Chromium, driven by Playwright) against
a real uvicorn and a docket with real tasks and a real worker, on both stores: every page
loads and shows what the store holds, the running page follows a task live, and cancelling
from the task page asks first and then cancels in the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page

from strew import Docket, ExecutionState, Progress, Worker
from strew.dashboard import strew_dashboard
from strew.task.clock import utc_now

from .browser import MISSING, chromium, chromium_path
from .serving import served

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason=MISSING),
    pytest.mark.timeout(120),
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def test_every_page_shows_the_docket_and_a_cancel_is_confirmed_then_done(
    docket: Docket, browser: Browser
) -> None:
    reported, release = asyncio.Event(), asyncio.Event()

    async def crunch(rows: int, progress: Progress = Progress()) -> int:
        await progress.set_total(rows)
        await progress.increment(3)
        await progress.set_message("row 3")
        reported.set()
        await release.wait()
        return rows

    async def remind(text: str) -> None:
        """Only ever scheduled here."""

    docket.register(crunch)
    docket.register(remind)
    soon = utc_now() + timedelta(minutes=10)
    for i in range(3):
        await docket.add(remind, when=soon + timedelta(minutes=i), key=f"remind-{i}")(f"#{i}")
    await docket.add(crunch, key="crunch-1")(10)
    worker = Worker(docket, name="worker-a", poll_ceiling=timedelta(milliseconds=20))
    running = asyncio.create_task(worker.run_forever())
    try:
        await asyncio.wait_for(reported.wait(), 10)
        async with served(strew_dashboard(docket, refresh=0.5)) as base:
            page = await browser.new_page()
            await check_pages(page, base, docket.name)
            await cancel_from_the_task_page(page, base, docket)
            # The running page follows the task as it ends, without a reload.
            await page.goto(f"{base}/running")
            await page.get_by_text("crunch-1").wait_for()
            release.set()
            await page.get_by_text("Nothing is running right now.").wait_for()
    finally:
        release.set()
        worker.stop()
        await asyncio.wait_for(running, 10)


async def check_pages(page: Page, base: str, name: str) -> None:
    await page.goto(f"{base}/")
    assert await page.title() == f"Scatters · {name} · strew"
    await page.get_by_role("link", name="Load ahead").click()
    assert await page.title() == f"Load ahead · {name} · strew"
    totals = await page.locator("p.totals").inner_text()
    assert "3 due in the next hour" in totals and "1 running on 1 worker" in totals
    assert await page.locator("svg.histogram rect.bar").count() == 3

    await page.get_by_role("link", name="Running now").click()
    row = page.locator("tr", has_text="crunch-1")
    assert "crunch" in await row.inner_text() and "worker-a" in await row.inner_text()
    assert "3 / 10 (30%) row 3" in await row.inner_text()

    await page.get_by_role("link", name="Workers").click()
    assert "worker-a" in await page.locator("table").inner_text()

    await page.get_by_role("link", name="Strikes").click()
    await page.get_by_text("No strikes in force.").wait_for()

    await page.get_by_role("link", name="Held and quarantined").click()
    await page.get_by_text("No task is held.").wait_for()
    await page.get_by_text("The quarantine is empty.").wait_for()


async def cancel_from_the_task_page(page: Page, base: str, docket: Docket) -> None:
    await page.get_by_label("task key").fill("remind-1")
    await page.get_by_role("button", name="Open").click()
    await page.get_by_text("remind('#1')").wait_for()
    assert "scheduled" in await page.locator("dl.task").inner_text()
    await page.get_by_role("link", name="Cancel this task").click()
    await page.get_by_text("Cancel task remind-1 (remind, scheduled)?").wait_for()
    execution = await docket.get_execution("remind-1")
    assert execution is not None and execution.state is ExecutionState.SCHEDULED
    await page.get_by_role("button", name="Yes, do it").click()
    await page.locator("span.state.cancelled").wait_for()
    execution = await docket.get_execution("remind-1")
    assert execution is not None and execution.state is ExecutionState.CANCELLED
    assert page.url == f"{base}/tasks/remind-1"
