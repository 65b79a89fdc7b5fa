"""Retries and timeouts, runnable: a flaky call retried with back-off, a slow one cut off.

Uses the in-process store by default; point it at Redis with
``STREW_URL=redis://localhost:6379/0 .venv/bin/python examples/retry_demo.py``.
"""

# Dependency markers are calls in defaults by design (the pydocket spelling).

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

from strew import Docket, ExponentialRetry, Retry, Timeout, Worker

attempts: list[str] = []


async def flaky_call(
    retry: Retry = ExponentialRetry(
        attempts=4,
        minimum_delay=timedelta(milliseconds=10),
        maximum_delay=timedelta(milliseconds=40),
    ),
) -> None:
    """Fails twice, then succeeds: three runs, 10 ms then 20 ms apart."""
    attempts.append(f"flaky_call attempt {retry.attempt}")
    if retry.attempt < 3:
        raise ConnectionError("the service is busy")


async def slow_call(
    retry: Retry = Retry(attempts=2, delay=timedelta(milliseconds=10)),
    timeout: Timeout = Timeout(timedelta(milliseconds=50)),
) -> None:
    """Hangs on its first run (cut off after 50 ms, a failure), finishes on its second."""
    attempts.append(f"slow_call attempt {retry.attempt}")
    if retry.attempt == 1:
        await asyncio.Event().wait()


async def main() -> list[str]:
    attempts.clear()
    url = os.environ.get("STREW_URL", "memory://retry-demo")
    name = f"retry-demo-{uuid.uuid4().hex[:8]}"
    async with Docket(name=name, url=url) as docket:
        try:
            await docket.add(flaky_call)()
            await docket.add(slow_call)()
            async with Worker(docket, concurrency=1) as worker:
                await worker.run_until_finished()
        finally:
            await docket.store.destroy()
    return sorted(attempts)


if __name__ == "__main__":
    for line in asyncio.run(main()):
        print(line)
