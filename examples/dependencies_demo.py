"""Task dependencies, runnable: context injection, a per-run resource, a worker-wide pool.

Uses the in-process store by default; point it at Redis with
``STREW_URL=redis://localhost:6379/0 .venv/bin/python examples/dependencies_demo.py``.
"""

# Dependency markers are calls in defaults by design (the pydocket spelling).

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator

from strew import (
    CurrentDocket,
    Depends,
    Docket,
    Shared,
    TaskArgument,
    TaskKey,
    TaskLogger,
    Worker,
)

events: list[str] = []


async def connection_pool(docket: Docket = CurrentDocket()) -> AsyncIterator[str]:
    """One per worker: opened on first use, closed when the worker stops."""
    events.append("pool opened")
    yield f"pool for {docket.name}"
    events.append("pool closed")


async def customer_session(
    customer_id: int = TaskArgument(), pool: str = Shared(connection_pool)
) -> AsyncIterator[str]:
    """One per run, from the task's own customer_id; closed after the task, even on failure."""
    events.append(f"session {customer_id} opened")
    yield f"session {customer_id} on {pool}"
    events.append(f"session {customer_id} closed")


async def sync_customer(
    customer_id: int,
    key: str = TaskKey(),
    session: str = Depends(customer_session),
    log: logging.LoggerAdapter[logging.Logger] = TaskLogger(),
) -> None:
    log.info("syncing with %s", session)
    events.append(f"synced {customer_id} ({key})")


async def main() -> list[str]:
    events.clear()
    url = os.environ.get("STREW_URL", "memory://dependencies-demo")
    name = f"dependencies-demo-{uuid.uuid4().hex[:8]}"
    async with Docket(name=name, url=url) as docket:
        try:
            await docket.add(sync_customer, key="customer-1")(1)
            await docket.add(sync_customer, key="customer-2")(2)
            async with Worker(docket, concurrency=1) as worker:
                await worker.run_until_finished()
        finally:
            await docket.store.destroy()
    return list(events)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    for event in asyncio.run(main()):
        print(event)
