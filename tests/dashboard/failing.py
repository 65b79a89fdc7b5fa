"""Tasks that fail, and a real worker that runs them until their failures are recorded: the
"Failed and retrying" page's material (some failed for good, some with a retry an hour
away, some with error messages meant to break a page)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from strew import Docket, Retry, Worker

from ..helpers import wait_until

HOSTILE = {
    "script": "<script>alert('x')</script><img src=x onerror=alert(1)> & \"quotes\"",
    "huge": "A" * 1_000_000 + "<b>end</b>",
    "bytes": "caf\udce9 \x00 \x1b[31m \ufffe \udcff\udcfe",
}


async def charge(customer: str) -> None:
    """Fails for good (no retry)."""
    raise KeyError(customer)


async def sync_crm(
    account: int, retry: Retry = Retry(attempts=3, delay=timedelta(hours=1))
) -> None:
    """Fails, with a retry an hour away."""
    raise ConnectionError(f"CRM unreachable for account {account}")


async def explode(kind: str) -> None:
    """Fails with a message made to break a page."""
    raise ValueError(HOSTILE[kind])


async def fail(docket: Docket, charges: int = 2, syncs: int = 1, hostile: bool = False) -> int:
    """Add the tasks, let a real worker run them until every one has failed once, stop it;
    returns how many failures are recorded."""
    for task in (charge, sync_crm, explode):
        docket.register(task)
    for i in range(charges):
        await docket.add(charge, key=f"charge-{i}")(f"customer {i}")
    for i in range(syncs):
        await docket.add(sync_crm, key=f"crm-{i}")(i)
    kinds = list(HOSTILE) if hostile else []
    for kind in kinds:
        await docket.add(explode, key=f"hostile-{kind}")(kind)
    expected = charges + syncs + len(kinds)
    worker = Worker(docket, name="failing-worker", poll_ceiling=timedelta(milliseconds=20))
    running = asyncio.create_task(worker.run_forever())
    try:

        async def recorded() -> bool:
            return len(await docket.failures(1000)) == expected

        await wait_until(recorded, message=f"{expected} failures recorded")
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
    return expected
