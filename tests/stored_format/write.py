"""Write the stored-format fixture with whichever strew is installed, through its public API.

    python -m tests.stored_format.write REDIS_URL OUTPUT.json

It fills a docket named ``stored-format`` on REDIS_URL (deleting it first) with one of each
thing strew keeps — a finished task's record, a task's progress, a task scheduled for later,
a strike and the task it holds, a scatter's tasks and members — then writes every key of
the docket (type, value, time to live) to OUTPUT as JSON and deletes the docket again.
tests/contract/test_stored_format.py loads such a file into a Redis and reads it with the
strew under test: run this with the previous main to prove a change to the layout still reads
what that main wrote (or migrates it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from strew import Agenda, Docket, Worker

from .tasks import TASKS, double, later, paused, progressing, scattered

NAME = "stored-format"
WHEN = datetime(2200, 1, 1, tzinfo=UTC)
"""Far ahead, so nothing written here is due when a test reads it."""


def encode(value: Any) -> str:
    """A value of the docket's (bytes, as the client answers without decoding), as text."""
    if not isinstance(value, bytes):
        raise TypeError(f"expected bytes from Redis, got {value!r}")
    return base64.b64encode(value).decode()


async def dump(client: aioredis.Redis) -> list[dict[str, Any]]:
    keys = sorted([key async for key in client.scan_iter(match=f"strew:{{{NAME}}}:*")])
    found: list[dict[str, Any]] = []
    for key in keys:
        reply = await client.type(key)
        kind = reply.decode() if isinstance(reply, bytes) else str(reply)
        value: Any
        if kind == "string":
            value = encode(await client.get(key))
        elif kind == "hash":
            pairs = await client.hgetall(key)
            value = [[encode(k), encode(v)] for k, v in sorted(pairs.items())]
        elif kind == "zset":
            members: list[Any] = await client.zrange(key, 0, -1, withscores=True)
            value = [[encode(m), repr(s)] for m, s in members]
        elif kind == "set":
            value = sorted(encode(m) for m in await client.smembers(key))
        elif kind == "list":
            value = [encode(item) for item in await client.lrange(key, 0, -1)]
        else:
            raise ValueError(f"{key!r} is a {kind}: the fixture does not know that type")
        found.append(
            {"key": encode(key), "type": kind, "value": value, "pttl": await client.pttl(key)}
        )
    return found


async def write(url: str) -> dict[str, Any]:
    async with Docket(NAME, url, execution_ttl=timedelta(days=30)) as docket:
        await docket.store.destroy()
        for task in TASKS:
            docket.register(task)
        await docket.add(double, key="done")(21)
        await docket.add(progressing, key="progressing")()
        await docket.add(paused, key="paused")(7)
        await docket.strike(paused)
        async with Worker(docket) as worker:
            await worker.run_until_finished()  # runs double and progressing, holds paused
        await docket.add(later, when=WHEN, key="later")("hello", n=3)
        agenda = Agenda()
        for n in range(5):
            agenda.add(scattered)(n)
        scatter = await agenda.scatter(docket, start=WHEN, over=timedelta(days=5))
        client = aioredis.Redis.from_url(url)
        try:
            keys = await dump(client)
        finally:
            await client.aclose()
        await docket.store.destroy()
    return {
        "docket": NAME,
        "scatter_id": scatter.scatter_id,
        "scatter_keys": [execution.key for execution in scatter],
        "keys": keys,
    }


def main() -> None:
    url, output = sys.argv[1], sys.argv[2]
    written = asyncio.run(write(url))
    written["written_by"] = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    with open(output, "w", encoding="utf-8") as file:
        json.dump(written, file, indent=1)
        file.write("\n")


if __name__ == "__main__":
    main()
