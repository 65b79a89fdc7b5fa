"""The longest single Redis step of a re-spread of a million-task scatter (SLOWLOG).

A scatter of ``--tasks`` (1,000,000) planned 1 ms apart, its first tenth overdue, is
re-spread at twice the planned rate with ``after`` of 1 s (``speed=2``); then a second outage
re-spreads it again from 200 s on (its list is no longer in due order by then). For each,
SLOWLOG gives the number of scripts over 1 ms, the Redis time they took together and the
longest one: the issue 18 budget is 50 ms for any one step.

    .venv/bin/python -m bench.respread_steps [--tasks 1000000] [--url redis://...]

Without ``--url`` it starts a redis-server of its own; with one, it flushes that database.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable
from contextlib import suppress

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bench import common
from strew.stores import open_store
from strew.stores.records import Entry, Respread, StoreError

PLANNED = 1_000  # us between two tasks of the scatter
HOUR = 3_600_000_000


async def measure(client: aioredis.Redis, label: str, call: Awaitable[Respread]) -> None:
    await client.slowlog_reset()
    began = time.perf_counter()
    try:
        moved: object = (await call).moved
    except StoreError as error:  # a one-script version outlives the client's timeout
        moved = f"? ({error})"[:60]
        while True:  # Redis finishes the script all the same: wait for it
            with suppress(RedisError, OSError):
                await client.ping()
                break
            await asyncio.sleep(0.5)
    wall = time.perf_counter() - began
    log = await client.slowlog_get(1_000_000)
    scripts = [entry["duration"] for entry in log if entry["command"].startswith(b"EVALSHA")]
    print(
        f"{label}: moved {moved}, {wall:.2f} s; {len(scripts)} scripts over 1 ms, "
        f"{sum(scripts) / 1e6:.2f} s of Redis in them, the longest {max(scripts) / 1e3:.1f} ms"
    )


async def bench(url: str, tasks: int) -> None:
    client = aioredis.Redis.from_url(url, socket_timeout=120)
    await client.flushdb()
    store = open_store(url, "respread-steps")
    try:
        now = await store.now()
        base = now - tasks * PLANNED // 10
        for low in range(0, tasks, 10_000):
            entries = [
                Entry(f"t{i:07d}", base + i * PLANNED, b"x")
                for i in range(low, min(tasks, low + 10_000))
            ]
            await store.schedule_batch("b", entries, HOUR)
        await client.config_set("slowlog-log-slower-than", 1000)
        await client.config_set("slowlog-max-len", 1_000_000)
        late = store.respread_batch("b", now, PLANNED // 2, 1_000_000)
        await measure(client, "first re-spread (list in due order)", late)
        again = store.respread_batch("b", now + 200_000_000, PLANNED // 2, 1_000_000)
        await measure(client, "second re-spread (list in no order)", again)
    finally:
        await client.flushdb()
        await client.aclose()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    with common.redis_server(args.url) as url:
        asyncio.run(bench(url, args.tasks))


if __name__ == "__main__":
    main()
