"""What admission controls show: the concurrency limits in a snapshot, in `strew snapshot`,
and as Prometheus gauges a worker's heartbeat refreshes."""

from __future__ import annotations

import asyncio
from typing import Annotated

from strew import ConcurrencyLimit, Docket, Worker
from strew.signals.metrics import sample
from strew.stores.records import LimitUsage

from ..cli.test_cli import strew
from ..helpers import wait_until

release = asyncio.Event()


async def exclusive(tenant: Annotated[str, ConcurrencyLimit(1, scope=None)]) -> None:
    await release.wait()


async def test_a_snapshot_the_cli_and_the_gauges_show_slots_held_and_tasks_waiting(
    redis_docket: Docket,
) -> None:
    docket = redis_docket
    release.clear()
    for _ in range(3):
        await docket.add(exclusive)("acme")
    async with Worker(docket, concurrency=4) as worker:
        running = asyncio.create_task(worker.run_until_finished())
        await wait_until(lambda: worker.stats.waited >= 2)
        taken = await docket.snapshot()
        assert taken.limits == [LimitUsage("tenant:acme", None, 1, 2)]

        shown = await strew("snapshot", "--url", docket.url, "--docket", docket.name)
        assert shown.code == 0, shown.err
        assert "Concurrency limits in use (1)" in shown.out
        assert "tenant:acme" in shown.out

        await worker.upkeep.beat()
        assert sample("strew_limit_slots_in_use", docket.name, limit="tenant:acme") == 1
        assert sample("strew_limit_waiting", docket.name, limit="tenant:acme") == 2

        release.set()
        await running
        await worker.upkeep.beat()
    assert (await docket.snapshot()).limits == []
    assert sample("strew_limit_slots_in_use", docket.name, limit="tenant:acme") is None
