"""Testing code that uses strew: the in-process store for fast tests, a throwaway Redis of the
test's own for the ones that need the real thing (here: a task survives a Redis crash).

Run it with ``.venv/bin/python examples/testing_demo.py`` (the second part needs
``redis-server`` on PATH; it never touches a Redis you already run).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from strew import Docket, Worker
from strew.testing import RedisServer, assert_no_tasks, assert_task_count, assert_task_scheduled

charged: list[str] = []


async def charge(order_id: str) -> None:
    charged.append(order_id)


async def unit_test_on_memory() -> list[str]:
    """Fast: memory:// (no server), a docket name of its own, a worker that drains and
    returns."""
    charged.clear()
    async with Docket(f"orders-{uuid.uuid4().hex[:8]}", "memory://") as docket:
        docket.register(charge)
        await docket.add(charge)("order-1")
        await docket.add(charge)("order-2")
        await assert_task_count(docket, charge, count=2)
        await assert_task_scheduled(docket, charge, args=("order-2",))
        async with Worker(docket) as worker:
            await worker.run_until_finished()
        await assert_no_tasks(docket)
    return list(charged)


async def survives_a_redis_crash() -> list[str]:
    """Real Redis: a server of the test's own (AOF on), killed with SIGKILL and started
    again; the task scheduled before the crash is still there and runs."""
    charged.clear()
    name = f"orders-{uuid.uuid4().hex[:8]}"
    with RedisServer() as server:
        async with Docket(name, server.url) as docket:
            docket.register(charge)
            soon = datetime.now(UTC) + timedelta(milliseconds=200)
            await docket.add(charge, when=soon, key="order-3")("order-3")
        server.stop(kill=True)
        server.start()  # same port, same directory: the AOF is replayed
        async with Docket(name, server.url) as docket:
            docket.register(charge)
            await assert_task_scheduled(docket, charge, key="order-3")
            async with Worker(docket) as worker:
                await worker.run_until_finished()
    return list(charged)


async def main() -> dict[str, list[str]]:
    results = {
        "memory": await unit_test_on_memory(),
        "redis, after a crash": await survives_a_redis_crash(),
    }
    for where, ran in results.items():
        print(f"{where}: charged {', '.join(ran)}")
    return results


if __name__ == "__main__":
    asyncio.run(main())
