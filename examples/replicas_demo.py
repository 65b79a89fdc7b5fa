"""Durability across a failover: ``Docket(replicas=1)`` answers an add only once a replica has
it, and says so plainly when no replica confirms in time.

Starts its own master and replica on loopback ports (``redis-server`` on PATH; it never
touches a Redis you already run). Run it with ``.venv/bin/python examples/replicas_demo.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis

from strew import Docket, NotReplicated
from strew.testing import RedisServer


async def send_invoice(customer: int) -> None:
    print(f"invoice sent to customer {customer}")


async def replicas_become(master: aioredis.Redis, count: int) -> None:
    """Wait until ``master`` has ``count`` replicas in sync."""
    deadline = time.monotonic() + 20
    while await online(master) != count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the master did not reach {count} replica(s) in sync")
        await asyncio.sleep(0.05)


async def online(master: aioredis.Redis) -> int:
    replication = await master.info("replication")
    states = [v["state"] for k, v in replication.items() if k.startswith("slave")]
    return states.count("online")


async def main() -> dict[str, Any]:
    name = f"invoices-{uuid.uuid4().hex[:8]}"
    seen: dict[str, Any] = {}
    with RedisServer(appendonly=False) as master_server:
        follow = ["--replicaof", "127.0.0.1", str(master_server.port)]
        with RedisServer(appendonly=False, extra=follow) as replica_server:
            master = aioredis.Redis(port=master_server.port)
            replica = aioredis.Redis(port=replica_server.port)
            try:
                await replicas_become(master, 1)
                async with Docket(
                    name,
                    master_server.url,
                    replicas=1,  # or STREW_REPLICAS=1
                    # Long enough for a replica on a busy machine; the refusal below waits it.
                    replica_timeout=timedelta(seconds=2),
                ) as docket:
                    docket.register(send_invoice)
                    await docket.add(send_invoice, key="invoice-42")(42)
                    # Returned: the replica has it already, so a failover cannot lose it.
                    payloads = f"strew:{{{name}}}:payloads"
                    seen["on the replica"] = await replica.hexists(payloads, "invoice-42")

                    await replica.replicaof("NO", "ONE")  # the replica goes away
                    await replicas_become(master, 0)
                    try:
                        await docket.add(send_invoice, key="invoice-43")(43)
                    except NotReplicated as error:
                        seen["refused"] = str(error)
                    # On the master all the same: only a failover now could lose it.
                    seen["on the master"] = await master.hexists(payloads, "invoice-43")
                    await docket.store.destroy()
            finally:
                await master.aclose()
                await replica.aclose()
    return seen


if __name__ == "__main__":
    print(asyncio.run(main()))
