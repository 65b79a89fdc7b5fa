"""A Redis restart can lose a claim (AOF fsyncs once a second), and the store then hands the
same task out again, possibly to the worker that is still running it. That worker holds two
runs of one key; the first to finish must not take the other's lease with it.

Found by the chaos suite: a hanging task's first run ended, the worker stopped renewing the
lease of the second, and the task was claimed a third and a fourth time.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import redis.asyncio as aioredis

from strew import Docket, ExecutionState, Worker

from ..helpers import wait_until

starts: list[int] = []
gates: list[asyncio.Event] = []


async def hold() -> None:
    starts.append(len(starts))
    await gates[len(starts) - 1].wait()


async def forget_the_claim(client: aioredis.Redis, name: str, key: str) -> None:
    """Put the store back as it was before the claim, as an AOF that lost it would."""
    prefix = f"strew:{{{name}}}:"
    payload = await client.hget(prefix + "running", key)
    dues = await client.hget(prefix + "dues", key)  # "<due> <claimed at>"
    assert isinstance(payload, bytes) and isinstance(dues, bytes)
    due = int(dues.split()[0])
    async with client.pipeline(transaction=True) as pipe:
        pipe.zrem(prefix + "leases", key)
        pipe.hdel(prefix + "running", key)
        pipe.hdel(prefix + "tokens", key)
        pipe.hdel(prefix + "dues", key)
        pipe.zadd(prefix + "schedule", {key: due})
        pipe.hset(prefix + "payloads", key, payload)
        await pipe.execute()


async def test_a_lost_claim_handed_out_again_keeps_its_lease_after_the_first_run_ends(
    redis_docket: Docket, redis_url: str
) -> None:
    starts.clear()
    gates[:] = [asyncio.Event(), asyncio.Event()]
    lease = timedelta(milliseconds=400)
    client = aioredis.Redis.from_url(redis_url)
    leases = f"strew:{{{redis_docket.name}}}:leases"
    try:
        execution = await redis_docket.add(hold, key="held")()
        worker = Worker(
            redis_docket, redelivery_timeout=lease, poll_ceiling=timedelta(milliseconds=20)
        )
        running = asyncio.create_task(worker.run_until_finished())
        await wait_until(lambda: len(starts) == 1, message="the first run")
        await forget_the_claim(client, redis_docket.name, "held")
        await wait_until(lambda: len(starts) == 2, message="the claim handed out again")
        assert len(worker.state.runs_of("held")) == 2

        gates[0].set()  # the first run ends; its acknowledgement no longer counts
        await wait_until(lambda: worker.stats.lost_leases == 1, message="the stale ack")
        ended = await redis_docket.store.now()

        async def renewed() -> bool:
            deadline = await client.zscore(leases, "held")
            return deadline is not None and deadline > ended + lease / timedelta(microseconds=1)

        await wait_until(renewed, message="the second run's lease renewed")
        gates[1].set()
        await asyncio.wait_for(running, timeout=10)
        assert starts == [0, 1], "the second run's lease lapsed and the task ran again"
        assert await execution.sync() is ExecutionState.COMPLETED
    finally:
        await client.aclose()
