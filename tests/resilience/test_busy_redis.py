"""Redis busy running a long script answers every other command ``BUSY`` until the script
ends (another application's Lua, an operator's, a strew of an older version's one-script
commit). For strew that is "cannot answer right now": a worker started meanwhile waits it
out and then runs its tasks, and a producer's call says the store is unavailable."""

from __future__ import annotations

import asyncio
from contextlib import suppress

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from strew import Docket, Worker
from strew.stores.records import StoreUnavailable
from strew.testing import RedisServer

from ..helpers import wait_until

RAN: list[str] = []

# Spins until a key appears. Under a busy threshold of 50 ms every other client gets BUSY
# replies until then; SCRIPT KILL is how this test ends it (the script has written nothing).
SPIN = """
local t = redis.call('TIME')
local began = tonumber(t[1])
while true do
  local now = redis.call('TIME')
  if tonumber(now[1]) - began > 30 then return 'timed out' end
end
"""


async def greet(name: str) -> None:
    RAN.append(name)


async def busy_replies(url: str) -> bool:
    client = aioredis.Redis.from_url(url)
    try:
        await client.ping()
        return False
    except ResponseError as error:
        return str(error).startswith("BUSY")
    finally:
        await client.aclose()


async def kill_script(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        await client.script_kill()
    finally:
        await client.aclose()


async def test_a_worker_started_while_redis_is_busy_waits_it_out(
    redis_server: RedisServer, docket_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    RAN.clear()
    url = redis_server.url
    admin = aioredis.Redis.from_url(url)
    await admin.config_set("busy-reply-threshold", 50)
    async with Docket(name=docket_name, url=url) as docket:
        docket.register(greet)
        await docket.add(greet)("after the script")
        spinning = asyncio.ensure_future(admin.eval(SPIN, 0))
        try:
            await wait_until(lambda: busy_replies(url), message="BUSY replies")
            with pytest.raises(StoreUnavailable, match="BUSY"):
                await docket.add(greet)("while busy")
            worker = Worker(docket, concurrency=2)
            running = asyncio.ensure_future(worker.run_until_finished())
            # The worker subscribes into BUSY replies, and keeps at it.
            await wait_until(
                lambda: "lost the notification channel" in caplog.text or running.done(),
                message="the worker to meet a BUSY reply",
            )
            assert not running.done(), running
            await kill_script(url)
            await asyncio.wait_for(running, 30)
        finally:
            with suppress(ResponseError):
                await spinning
            await admin.aclose()
    assert RAN == ["after the script"]
