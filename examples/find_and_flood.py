"""Find and flood, without the flood: re-sync 200 customers spread evenly over a few seconds.

    python examples/find_and_flood.py            # in-process store, nothing to install
    STREW_URL=redis://localhost:6379/0 python examples/find_and_flood.py

A query finds every customer whose data is stale; instead of firing 200 calls at the CRM at
once, an `Agenda` scatters them over a window so the CRM sees a steady trickle. A worker in
this same process runs them as they fall due, and a summary shows how evenly they ran.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta

from strew import Agenda, Docket, Worker


@dataclass
class Crm:
    """Stands in for the remote system we must not flood: it records when each call lands."""

    calls: list[tuple[float, int]] = field(default_factory=list)

    async def resync(self, customer_id: int) -> None:
        self.calls.append((time.monotonic(), customer_id))


CRM = Crm()


async def resync_customer(customer_id: int, reason: str = "stale") -> None:
    """The task: push one customer's record to the CRM."""
    await CRM.resync(customer_id)


def find_stale_customers(count: int) -> list[int]:
    """The 'find' half: in real life, a database query."""
    return list(range(1000, 1000 + count))


def summarise(calls: list[tuple[float, int]], seconds: float, slices: int = 10) -> str:
    if not calls:
        return "no calls ran"
    first = min(at for at, _ in calls)
    counts = [0] * slices
    for at, _ in calls:
        index = min(slices - 1, int((at - first) / seconds * slices))
        counts[index] += 1
    width = max(counts)
    lines = [f"{len(calls)} calls over {max(at for at, _ in calls) - first:.2f}s:"]
    for i, n in enumerate(counts):
        lines.append(f"  {i * seconds / slices:5.2f}s {'#' * (40 * n // width):<40} {n}")
    return "\n".join(lines)


async def main(customers: int = 200, seconds: float = 3.0, url: str | None = None) -> Crm:
    CRM.calls.clear()
    url = url or os.environ.get("STREW_URL") or "memory://find-and-flood"
    async with Docket(name="find-and-flood", url=url) as docket:
        docket.register(resync_customer)

        agenda = Agenda()
        for customer_id in find_stale_customers(customers):
            # A key per customer: running this script twice never queues a customer twice.
            agenda.add(resync_customer, key=f"resync-{customer_id}")(customer_id)

        scattered = await agenda.scatter(docket, over=timedelta(seconds=seconds))
        print(
            f"scattered {len(scattered)} re-syncs over {seconds}s (scatter {scattered.scatter_id})"
        )

        async with Worker(docket, concurrency=20) as worker:
            await worker.run_until_finished()
        print(summarise(CRM.calls, seconds))
        await docket.store.destroy()
    return CRM


if __name__ == "__main__":
    asyncio.run(main())
