"""Write the pydocket fixture: what pydocket itself keeps in Redis for a handful of tasks.

    python -m venv /tmp/pdv && /tmp/pdv/bin/pip install 'pydocket==0.27.*'
    /tmp/pdv/bin/python tests/pydocket_import/write.py REDIS_URL OUTPUT.json

Run with pydocket's own venv, never strew's (strew's test environment has no pydocket: the
tests read the file this writes). It fills a docket named ``pydocket-import`` on REDIS_URL
(deleting its keys first) with:

- ``flaky`` (due now, fails its first attempt; its Retry puts attempt 2 an hour ahead) and
  ``running`` (due now, sleeps): a pydocket worker runs both in a child process that is
  killed while ``running`` runs, so ``running`` stays in the stream's pending entries;
- ``greet-now`` (due now, in the stream), a ``total`` call without a key (due now), and
  ``greet-later`` (an hour ahead, in the queue), with args and kwargs;
- ``far`` (2200-01-01, in the queue) with a Decimal and a datetime;
- ``path`` (due now) whose argument is a ``PurePosixPath``: not a plain value, so strew
  imports it only with --load-arguments.

then writes every key of the docket (type, value, time to live; a stream's entries, groups
and pending entries) to OUTPUT as JSON, base64 for every byte string, and deletes the keys.
"""
# mypy: ignore-errors

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import redis.asyncio as aioredis
from docket import Docket, Retry, Worker

NAME = "pydocket-import"


async def greet(name: str, punctuation: str = "!") -> None: ...


async def total(*numbers: int, scale: int = 1) -> None: ...


RETRY_IN_AN_HOUR = Retry(attempts=3, delay=timedelta(hours=1))


async def flaky(n: int, retry: Retry = RETRY_IN_AN_HOUR) -> None:
    raise RuntimeError(f"attempt {retry.attempt} fails")


async def running(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def far(amount: Decimal, since: datetime) -> None: ...


async def path(where: PurePosixPath) -> None: ...


TASKS = [greet, total, flaky, running, far, path]


def encode(value: bytes) -> str:
    return base64.b64encode(value).decode()


async def dump_key(client: aioredis.Redis, key: bytes) -> dict[str, Any]:
    kind = (await client.type(key)).decode()
    value: Any
    if kind == "string":
        value = encode(await client.get(key))
    elif kind == "hash":
        value = [[encode(k), encode(v)] for k, v in sorted((await client.hgetall(key)).items())]
    elif kind == "zset":
        value = [[encode(m), repr(s)] for m, s in await client.zrange(key, 0, -1, withscores=True)]
    elif kind == "set":
        value = sorted(encode(m) for m in await client.smembers(key))
    elif kind == "list":
        value = [encode(item) for item in await client.lrange(key, 0, -1)]
    elif kind == "stream":
        entries = await client.xrange(key)
        groups = []
        for group in await client.xinfo_groups(key):
            pending = await client.xpending_range(key, group["name"], "-", "+", 1000)
            groups.append(
                {
                    "name": encode(group["name"]),
                    "last-delivered-id": group["last-delivered-id"].decode(),
                    "pending": [[p["message_id"].decode(), encode(p["consumer"])] for p in pending],
                }
            )
        value = {
            "entries": [
                [entry_id.decode(), [[encode(f), encode(v)] for f, v in fields.items()]]
                for entry_id, fields in entries
            ],
            "groups": groups,
        }
    else:
        raise ValueError(f"{key!r} is a {kind}: the fixture does not know that type")
    return {"key": encode(key), "type": kind, "value": value, "pttl": await client.pttl(key)}


async def keys_of(client: aioredis.Redis) -> list[bytes]:
    return sorted([key async for key in client.scan_iter(match=f"{NAME}:*")])


async def work_until_running(url: str) -> None:
    """The child: a pydocket worker that runs ``flaky`` (which fails into its retry) and
    starts ``running``, then waits to be killed."""
    async with Docket(NAME, url) as docket:
        for task in TASKS:
            docket.register(task)
        async with Worker(docket, schedule_automatic_tasks=False) as worker:
            await worker.run_forever()


async def write(url: str) -> dict[str, Any]:
    client = aioredis.Redis.from_url(url)
    for key in await keys_of(client):
        await client.delete(key)
    async with Docket(NAME, url) as docket:
        for task in TASKS:
            docket.register(task)
        await docket.add(flaky, key="flaky")(7)
        await docket.add(running, key="running")(3600)
        child = await asyncio.create_subprocess_exec(sys.executable, __file__, "--work", url)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                state = await client.hget(f"{NAME}:runs:running", "state")
                retried = await client.zscore(f"{NAME}:queue", "flaky")
                if state == b"running" and retried is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the pydocket worker did not start the tasks")
        finally:
            os.kill(child.pid, signal.SIGKILL)  # leaves `running` in the pending entries
            await child.wait()
        now = datetime.now(UTC)
        await docket.add(greet, key="greet-now")("Ada")
        await docket.add(total)(1, 2, 3, scale=10)
        await docket.add(greet, when=now + timedelta(hours=1), key="greet-later")(
            "Grace", punctuation="?"
        )
        since = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
        await docket.add(far, when=datetime(2200, 1, 1, tzinfo=UTC), key="far")(
            Decimal("1.50"), since=since
        )
        await docket.add(path, key="path")(PurePosixPath("/srv/data"))
    keys = [await dump_key(client, key) for key in await keys_of(client)]
    for key in await keys_of(client):
        await client.delete(key)
    await client.aclose()
    from importlib.metadata import version

    return {
        "docket": NAME,
        "written_by": f"pydocket {version('pydocket')}",
        "written_at": now.isoformat(),
        "keys": keys,
    }


def main() -> None:
    if sys.argv[1] == "--work":
        asyncio.run(work_until_running(sys.argv[2]))
        return
    url, output = sys.argv[1], sys.argv[2]
    written = asyncio.run(write(url))
    with open(output, "w", encoding="utf-8") as file:
        json.dump(written, file, indent=1)
        file.write("\n")


if __name__ == "__main__":
    main()
