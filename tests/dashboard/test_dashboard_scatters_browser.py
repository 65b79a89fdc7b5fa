"""Scatters, punctuality and workers in a real browser (Debian's headless Chromium, driven by
Playwright) against a real uvicorn, a real scatter and a real Worker running the part of it
that is due, on both stores: the front page lists the scatter, its page draws started bars,
the punctuality page draws what the worker reported, and cancelling the scatter asks first
and then removes its waiting tasks from the store; read-only draws no cancel and serves no
route for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser

from strew import Agenda, Docket, Worker
from strew.dashboard import strew_dashboard

from ..helpers import wait_until
from .browser import MISSING, chromium, chromium_path
from .serving import served

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason=MISSING),
    pytest.mark.timeout(120),
]

COUNT = 10


async def ping(n: int) -> None:
    """Scattered here: half of them are due when the test starts."""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def test_a_scatter_is_listed_drawn_and_cancelled_while_a_worker_runs_it(
    docket: Docket, browser: Browser
) -> None:
    docket.register(ping)
    agenda = Agenda()
    for n in range(COUNT):
        agenda.add(ping, key=f"ping-{n}")(n)
    # A task every 66 seconds from five minutes ago: five are due, five wait.
    now = datetime.now(UTC)
    done = await agenda.scatter(
        docket, over=timedelta(minutes=10), start=now - timedelta(minutes=5)
    )
    scatter_id = done.scatter_id
    assert scatter_id is not None

    async def started() -> bool:
        progress = await docket.scatter_progress(scatter_id)
        return progress is not None and progress.started_total == COUNT // 2

    async def reported() -> bool:
        return bool(await docket.punctuality())

    worker = Worker(docket, name="worker-s", concurrency=4, poll_ceiling=timedelta(milliseconds=20))
    running = asyncio.create_task(worker.run_forever())
    try:
        await wait_until(started, timeout=20, message="the worker to start the due half")
        async with served(strew_dashboard(docket, refresh=0.5)) as base:
            page = await browser.new_page()
            await page.goto(f"{base}/")
            row = page.locator("tr", has_text=scatter_id)
            assert "ping" in await row.inner_text()
            await page.get_by_role("link", name=scatter_id).click()
            assert await page.title() == f"Scatter {scatter_id} · {docket.name} · strew"
            assert await page.locator("svg.scatter rect.planned").count() == COUNT
            assert await page.locator("svg.scatter rect.started").count() == COUNT // 2

            await page.get_by_role("link", name="Workers").click()
            assert "worker-s" in await page.locator("table").inner_text()

            # A worker sums up each 10-second interval once it is over.
            await wait_until(reported, timeout=30, message="the worker to report punctuality")
            await page.get_by_role("link", name="Punctuality").click()
            await page.locator("svg.lines circle.dot").first.wait_for()
            assert f"<b>{COUNT // 2}</b> tasks started" in await page.content()

            await page.goto(f"{base}/scatters/{scatter_id}")
            await page.get_by_role("link", name="Cancel scatter").click()
            await page.get_by_text(
                f"Cancel scatter {scatter_id} (ping)? This removes its {COUNT // 2} waiting"
            ).wait_for()
            assert (await docket.store.task_state(f"ping-{COUNT - 1}")).scheduled is not None
            await page.get_by_role("button", name="Yes, do it").click()
            await page.locator("dd span.state.cancelled").wait_for()
            for n in range(COUNT):
                assert (await docket.store.task_state(f"ping-{n}")).scheduled is None

            hostile = await page.goto(f"{base}/scatters/%7B%2A%7D")
            assert hostile is not None and hostile.status == 400
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)


async def test_read_only_draws_no_cancel_and_the_route_is_not_there(
    docket: Docket, browser: Browser
) -> None:
    docket.register(ping)
    agenda = Agenda()
    agenda.add(ping, key="later")(1)
    done = await agenda.scatter(
        docket, over=timedelta(minutes=1), start=datetime.now(UTC) + timedelta(hours=1)
    )
    assert done.scatter_id is not None
    async with served(strew_dashboard(docket, read_only=True)) as base:
        page = await browser.new_page()
        await page.goto(f"{base}/scatters/{done.scatter_id}")
        await page.get_by_text("Waiting").wait_for()
        assert await page.get_by_role("link", name="Cancel scatter").count() == 0
        answer = await page.request.post(f"{base}/cancel-scatter", form={"id": done.scatter_id})
        assert answer.status in (404, 405)
    assert (await docket.store.task_state("later")).scheduled is not None
