"""The record of failed tasks, runnable: a task fails for good, another fails once and waits
for its retry; both are listed, the waiting one is brought forward, the other retried as a
first attempt once its cause is fixed.

Uses the in-process store by default; point it at Redis with
``STREW_URL=redis://localhost:6379/0 .venv/bin/python examples/failures_demo.py``.
"""

# Dependency markers are calls in defaults by design (the pydocket spelling).

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

from strew import Docket, FailureRetention, Retry, Worker

PRICES: dict[str, int] = {}
SEEN: set[str] = set()


async def charge(customer: str) -> int:
    """Fails until its price is known (the cause an operator fixes before retrying)."""
    return PRICES[customer]


async def sync_crm(
    account: int, retry: Retry = Retry(attempts=3, delay=timedelta(hours=1))
) -> None:
    """Fails on its first attempt only; its retry is an hour away."""
    if account not in SEEN:
        SEEN.add(account)
        raise ConnectionError(f"CRM unreachable for account {account}")


async def settled(docket: Docket, failures: int) -> None:
    """Wait (up to ten seconds) until ``failures`` tasks are listed as failed."""
    for _ in range(1000):
        if len(await docket.failures()) == failures:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"expected {failures} failures")


async def main() -> list[str]:
    url = os.environ.get("STREW_URL", "memory://failures-demo")
    name = f"failures-demo-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    retention = FailureRetention(keep=1_000, max_age=timedelta(days=2))
    async with Docket(name, url, failure_retention=retention) as docket:
        try:
            await docket.add(charge, key="charge-ada")("ada")
            await docket.add(sync_crm, key="crm-7")(7)
            async with Worker(docket) as worker:
                running = asyncio.create_task(worker.run_forever())
                await settled(docket, 2)  # both have failed once

                for failure in await docket.failures(limit=10):
                    retrying = "retrying" if failure.retry_at else "failed for good"
                    lines.append(
                        f"{failure.key}: {failure.function_name} raised {failure.error_type} "
                        f"on attempt {failure.attempt} ({retrying})"
                    )

                PRICES["ada"] = 42  # the cause is fixed: run it again, as a first attempt
                outcomes = await docket.retry_failed(["charge-ada", "crm-7"])
                lines.append(f"retry: {outcomes}")
                await settled(docket, 0)  # both now succeed, which clears them
                lines.append("no failures left")
                worker.stop()
                await running
        finally:
            await docket.store.destroy()
    return lines


if __name__ == "__main__":
    for line in asyncio.run(main()):
        print(line)
