"""Strikes, runnable: pause one customer's orders, watch them wait, restore, watch them run.

Uses the in-process store by default; point it at Redis with
``STREW_URL=redis://localhost:6379/0 .venv/bin/python examples/strikes_demo.py``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

from strew import Disposition, Docket, Worker

log: list[str] = []


async def process_order(customer_id: int, order: str) -> None:
    log.append(f"processed {order} for customer {customer_id}")


async def drain(docket: Docket) -> None:
    """Run everything that can run now; held tasks wait."""
    async with Worker(docket, poll_ceiling=timedelta(milliseconds=50)) as worker:
        await worker.run_until_finished()


async def main() -> list[str]:
    log.clear()
    url = os.environ.get("STREW_URL", "memory://strikes-demo")
    name = f"strikes-demo-{uuid.uuid4().hex[:8]}"
    async with Docket(name=name, url=url) as docket:
        try:
            docket.register(process_order)
            # Two orders of customer 13 are already scheduled when trouble is spotted.
            await docket.add(process_order)(13, "A-1")
            await docket.add(process_order)(13, "A-2")
            await docket.add(process_order)(7, "B-1")

            # Customer 13's account is under review: pause their orders, and only theirs.
            await docket.strike(process_order, "customer_id", "==", 13)
            refused = await docket.add(process_order)(13, "A-3")
            log.append(f"a new order for customer 13 came back {refused.disposition.name}")
            assert refused.disposition is Disposition.STRUCK

            await drain(docket)  # B-1 runs; are held, not lost
            snapshot = await docket.snapshot()
            log.append(f"held while struck: {snapshot.held_total}")

            await docket.restore(process_order, "customer_id", "==", 13)
            await drain(docket)  # the held orders run now
        finally:
            await docket.store.destroy()
    return log


if __name__ == "__main__":
    for line in asyncio.run(main()):
        print(line)
