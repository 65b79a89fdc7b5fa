"""A producer for tests/agenda/test_producer_killed.py, run as its own process: it scatters
``count`` tasks of `tally` atomically and, at the point named on its command line, writes a
marker file and waits to be killed (SIGKILL: no clean-up of any kind runs).

    python -m tests.agenda.producer_child URL DOCKET COUNT POINT MARKER

POINT is ``stage:K`` (after the K-th chunk is staged, before the commit) or ``merge:K``
(after the commit and K merge steps)."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from strew import Agenda, Docket
from strew.docket.loops import LoopLocalStore
from strew.stores.redis import batches
from strew.stores.redis.store import RedisStore

CHUNK = 2_000


async def tally(n: int) -> None:
    """The task (the test's worker counts each run)."""


def mark(marker: Path, text: str) -> None:
    marker.write_text(text)


async def hang(marker: Path) -> None:
    mark(marker, "here")
    await asyncio.Event().wait()


async def main(url: str, name: str, count: int, point: str, marker: Path) -> None:
    phase, _, number = point.partition(":")
    at = int(number)
    async with Docket(name=name, url=url) as docket:
        docket.register(tally)
        store = docket.store
        assert isinstance(store, LoopLocalStore)
        redis_store = store.here()
        assert isinstance(redis_store, RedisStore)
        if phase == "merge":
            # One blob a step, none in the commit's own step: every point is reachable.
            batches.MERGE_STEP_MICROS = 0
            step = redis_store._merge_step
            done = 0

            async def counted(batch: str) -> int:
                nonlocal done
                if done == at:
                    await hang(marker)
                done += 1
                return await step(batch)

            redis_store._merge_step = counted  # type: ignore[method-assign]

        async def staged(sent: int, total: int) -> None:
            if phase == "stage" and sent >= at * CHUNK:
                await hang(marker)

        agenda = Agenda()
        for n in range(count):
            agenda.add(tally)(n)
        options: dict[str, Any] = {"chunk_size": CHUNK, "on_progress": staged}
        await agenda.scatter(docket, over=timedelta(seconds=1), **options)
        mark(marker, "finished without being killed")


if __name__ == "__main__":
    url, name, count, point, marker = sys.argv[1:]
    asyncio.run(main(url, name, int(count), point, Path(marker)))
