"""The README quickstart, runnable: add now, add later under a key, replace, cancel, run.

Uses the in-process store by default; point it at Redis with
``STREW_URL=redis://localhost:6379/0 .venv/bin/python examples/quickstart.py``.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from strew import Docket, Worker

greeted: list[str] = []


async def greet(name: str) -> None:
    greeted.append(name)
    print(f"Hello, {name}!")


async def main() -> list[str]:
    greeted.clear()
    url = os.environ.get("STREW_URL", "memory://quickstart")
    async with Docket(name="emails", url=url) as docket:
        docket.register(greet)
        await docket.add(greet)("Jane")  # now
        soon = datetime.now(UTC) + timedelta(seconds=1)
        execution = await docket.add(greet, when=soon, key="john")("John")  # later
        print(
            f"scheduled {execution.key} at {execution.when:%H:%M:%S}: {execution.disposition.name}"
        )
        await docket.replace(greet, when=soon, key="john")("Johnny")  # supersede
        await docket.add(greet, when=soon, key="nobody")("Nobody")
        await docket.cancel("nobody")  # never runs
        async with Worker(docket, concurrency=10) as worker:
            await worker.run_until_finished()
    return list(greeted)


if __name__ == "__main__":
    asyncio.run(main())
