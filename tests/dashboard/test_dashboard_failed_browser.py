"""The "Failed and retrying" page in a real browser (Debian's headless Chromium, driven by
Playwright), on both stores, with failures a real worker recorded: it lists them (hostile
messages shown as text, never run), a retry and a drop of the ticked ones are confirmed and
then done in the store, a retrying task is cancelled, and read-only mode has no button and no
action route."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page

from strew import Docket, ExecutionState
from strew.dashboard import strew_dashboard

from .browser import MISSING, chromium, chromium_path
from .failing import fail
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


async def recorded(docket: Docket) -> set[str]:
    return {failure.key for failure in await docket.failures(1000)}


async def test_failures_are_listed_then_retried_dropped_and_cancelled_after_asking(
    docket: Docket, browser: Browser
) -> None:
    await fail(docket, charges=3, syncs=1, hostile=True)
    async with served(strew_dashboard(docket, refresh=0.5)) as base:
        page = await browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.goto(f"{base}/")
        await page.get_by_role("link", name="Failed and retrying").click()
        assert await page.title() == f"Failed and retrying · {docket.name} · strew"
        assert await page.locator("tbody tr").count() == 7
        script = await page.locator("tr", has_text="hostile-script").inner_text()
        assert "<script>alert('x')</script>" in script  # shown as text, not run
        crm = await page.locator("tr", has_text="crm-0").inner_text()
        assert "ConnectionError" in crm and "in 59m" in crm

        await retry_one(page, base, docket)
        await drop_ticked(page, base, docket)
        await cancel_a_retry(page, docket)
        assert dialogs == []


async def retry_one(page: Page, base: str, docket: Docket) -> None:
    await page.locator("tr", has_text="charge-0").get_by_role("link", name="Retry").click()
    await page.get_by_text("Run 1 failed task again now (charge-0)?").wait_for()
    assert "charge-0" in await recorded(docket)
    await page.get_by_role("button", name="Yes, do it").click()
    await page.get_by_role("status").get_by_text("Done: 1 retried;").wait_for()
    assert page.url.startswith(f"{base}/failed?did=")
    assert "charge-0" not in await recorded(docket)
    execution = await docket.get_execution("charge-0")
    assert execution is not None and execution.attempt == 1
    assert execution.state in (ExecutionState.SCHEDULED, ExecutionState.QUEUED)
    await page.locator("tr", has_text="charge-0").wait_for(state="detached")


async def drop_ticked(page: Page, base: str, docket: Docket) -> None:
    await page.get_by_label("select charge-1").check()
    await page.get_by_label("select hostile-huge").check()
    await page.get_by_role("button", name="Drop selected").click()
    await page.get_by_text("Forget the failures of 2 failed tasks").wait_for()
    await page.get_by_role("button", name="Yes, do it").click()
    await page.get_by_text("Done: 2 forgotten.").wait_for()
    assert await recorded(docket) == {
        "charge-2",
        "crm-0",
        "hostile-script",
        "hostile-bytes",
    }


async def cancel_a_retry(page: Page, docket: Docket) -> None:
    await page.locator("tr", has_text="crm-0").get_by_role("link", name="Cancel").click()
    await page.get_by_text("Cancel task crm-0 (sync_crm, scheduled)?").wait_for()
    await page.get_by_role("button", name="Yes, do it").click()
    await page.locator("span.state.cancelled").wait_for()
    execution = await docket.get_execution("crm-0")
    assert execution is not None and execution.state is ExecutionState.CANCELLED
    await page.get_by_role("heading", name="Latest failure").wait_for()


async def test_read_only_shows_failures_with_no_button_and_refuses_actions(
    docket: Docket, browser: Browser
) -> None:
    await fail(docket, charges=1, syncs=1)
    async with served(strew_dashboard(docket, read_only=True, refresh=0.5)) as base:
        page = await browser.new_page()
        await page.goto(f"{base}/failed")
        await page.locator("tr", has_text="crm-0").wait_for()
        assert await page.locator("main button").all_inner_texts() == ["Filter"]
        assert await page.locator("main input[type=checkbox]").count() == 0
        assert await page.locator("main a.button").count() == 0
        for path in ("/failed/retry", "/failed/drop"):
            asked = await page.request.get(f"{base}{path}?key=crm-0")
            posted = await page.request.post(f"{base}{path}", form={"keys": '["crm-0"]'})
            assert asked.status in (404, 405) and posted.status in (404, 405)
    assert await recorded(docket) == {"charge-0", "crm-0"}
