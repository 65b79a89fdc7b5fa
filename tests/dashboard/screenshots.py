"""The screenshots in docs/images/dashboard-*.png, taken with the browser tests' machinery
(Debian's headless Chromium through Playwright, a real uvicorn, a real worker) of a docket on
a redis-server of their own: ``scripts/screenshots``."""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import timedelta
from pathlib import Path

from strew import Agenda, Docket, Progress, Retry, Worker
from strew.dashboard import strew_dashboard
from strew.stores.records import Entry
from strew.stores.views import LatenessSummary
from strew.task.clock import utc_now
from strew.testing import RedisServer

from .browser import chromium
from .serving import served

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
PAGES = {
    "scatters": "/",
    "load": "/load",
    "running": "/running",
    "workers": "/workers",
    "punctuality": "/punctuality",
    "strikes": "/strikes",
    "held": "/held",
    "failed": "/failed",
    "task": "/tasks/invoice-1042",
    "cancel": "/cancel?key=reminder-7",
}


async def send_invoice(customer: int, progress: Progress = Progress()) -> None:
    await progress.set_total(200)
    await progress.increment(customer % 150 + 20)
    await progress.set_message(f"page {customer % 7 + 1} of 8")
    await asyncio.Event().wait()  # runs until the screenshots are taken


async def send_reminder(user: str) -> None:
    """Only ever scheduled here."""


async def send_digest(user: int) -> None:
    """Scattered from ten minutes ago: the worker has run the half that is due."""


async def send_newsletter(edition: int) -> None:
    """Struck before it can run."""


class CardDeclined(Exception):
    """What a payment provider says."""


async def charge_card(order: int) -> None:
    """Fails for good: the card is declined."""
    raise CardDeclined(f"order {order}: card declined (insufficient funds)")


async def sync_crm(
    account: int, retry: Retry = Retry(attempts=5, delay=timedelta(minutes=10))
) -> None:
    """Fails, and will be retried in ten minutes."""
    raise ConnectionError(f"crm.example.com:443 refused the connection (account {account})")


FAILING = 5


async def populate(docket: Docket) -> tuple[Worker, str]:
    """The docket's tasks, and the id of the scatter the worker is running through."""
    for task in (send_invoice, send_reminder, send_digest, send_newsletter, charge_card, sync_crm):
        docket.register(task)
    now = utc_now()
    pick = random.Random(7)
    # A morning's load: a steady trickle, and a batch scattered over twenty minutes.
    calls = [
        docket.call(
            send_reminder, when=now + timedelta(seconds=pick.uniform(60, 3600)), key=f"reminder-{i}"
        )(f"user-{i}")
        for i in range(400)
    ]
    await docket.add_many(calls)
    batch = Agenda()
    for i in range(1000):
        batch.add(send_reminder)(f"batch-{i}")
    await batch.scatter(docket, over=timedelta(minutes=20), start=now + timedelta(minutes=20))
    digests = Agenda()
    for user in range(600):
        digests.add(send_digest, key=f"digest-{user}")(user)
    running = await digests.scatter(
        docket, over=timedelta(minutes=20), start=now - timedelta(minutes=10)
    )
    assert running.scatter_id is not None
    # An hour of start lateness as a worker reports it (one summary per 10 s): a real
    # worker's first summary comes only after its first 10 seconds.
    clock = await docket.store.now()
    await docket.store.record_lateness(
        [
            LatenessSummary(
                clock - clock % 10_000_000 - i * 10_000_000,
                "web-1#4182",
                5 + pick.randrange(30),
                2_000 + pick.randrange(6_000),
                20_000 + pick.randrange(60_000),
                80_000 + pick.randrange(400_000 if i % 37 else 2_400_000),
            )
            for i in range(1, 360)
        ],
        86_400_000_000,
    )
    for edition in range(3):
        await docket.add(send_newsletter, key=f"newsletter-{edition}")(edition)
    # Struck once scheduled (a stricken add writes nothing): the worker holds them.
    await docket.strike(send_newsletter)
    for customer in (1042, 1043, 1044):
        await docket.add(send_invoice, key=f"invoice-{customer}")(customer)
    for order in (5120, 5121, 5133):
        await docket.add(charge_card, key=f"charge-{order}")(order)
    for account in (88, 91):
        await docket.add(sync_crm, key=f"crm-sync-{account}")(account)
    await docket.store.schedule(
        [Entry("import-7731", (await docket.store.now()) - 1, b"\x80\x05not a pickle")],
        replace=False,
    )
    worker = Worker(
        docket, name="web-1#4182", concurrency=4, poll_ceiling=timedelta(milliseconds=50)
    )
    return worker, running.scatter_id


async def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with RedisServer(appendonly=False) as server:
        async with Docket("shop", server.url) as docket:
            worker, scatter_id = await populate(docket)
            pages = {**PAGES, "scatter": f"/scatters/{scatter_id}"}
            running = asyncio.create_task(worker.run_forever())
            for _ in range(600):  # the invoices running, the newsletters held, one quarantined
                taken = await docket.snapshot(0)
                settled = len(taken.running) == 3 and taken.held_total == 3
                progress = await docket.scatter_progress(scatter_id)
                settled = settled and progress is not None and progress.started_total >= 290
                if settled and taken.quarantined and len(await docket.failures()) == FAILING:
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"the docket never got to the state to show: {taken}")
            async with served(strew_dashboard(docket)) as base, chromium() as browser:
                page = await browser.new_page(viewport={"width": 1100, "height": 640})
                for name, path in pages.items():
                    await page.goto(base + path)
                    target = IMAGES / f"dashboard-{name}.png"
                    await page.screenshot(path=str(target), full_page=True)
                    print(f"wrote {target.relative_to(IMAGES.parents[1])}", file=sys.stderr)
            worker.stop()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await docket.store.destroy()


if __name__ == "__main__":
    asyncio.run(main())
