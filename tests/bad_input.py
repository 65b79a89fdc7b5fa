"""What the bad-input sweep modules share: a task to schedule, match patterns, and pictures
of a store's whole contents to compare before and after a refused call."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from strew import Agenda, Docket

WHEN = datetime(2030, 1, 1, tzinfo=UTC)


async def greet(name: str) -> None:
    """A task these tests schedule (it never runs unless a test starts a worker)."""


def says(*parts: str) -> str:
    """A `match` pattern requiring every part, in order, anywhere in the message."""
    return ".*".join(re.escape(part) for part in parts)


def agenda_of(count: int, function: Any = greet) -> Agenda:
    agenda = Agenda()
    for i in range(count):
        agenda.add(function)(f"n{i}")
    return agenda


async def raw_state(docket: Docket) -> tuple[object, ...]:
    """Everything in the store, byte for byte: scheduled, running, quarantined, and for Redis
    every key the docket has with its contents (a failed scatter must leave no stage behind,
    a refused strike no rule)."""
    snap = await docket.store.snapshot(100_000)
    contents: dict[bytes, object] = {}
    if docket.url.startswith("redis"):
        contents = await redis_contents(docket.url, docket.name)
    return (
        snap.scheduled_total,
        [(t.key, t.due, t.payload) for t in snap.scheduled],
        [(t.key, t.payload) for t in snap.running],
        [(t.key, t.payload, t.reason) for t in await docket.store.quarantined()],
        contents,
    )


async def redis_contents(url: str, name: str) -> dict[bytes, object]:
    """Every key of docket ``name`` in the Redis at ``url``, with its type and whole value
    (sorted sets with their scores), read with plain commands. Expiry times are left out:
    they move with the clock."""
    client = aioredis.Redis.from_url(url)
    try:
        found: dict[bytes, object] = {}
        async for key in client.scan_iter(match=f"strew:{{{name}}}:*"):
            raw = await client.type(key)
            kind = raw.decode() if isinstance(raw, bytes) else raw
            value: object
            if kind == "string":
                value = await client.get(key)
            elif kind == "hash":
                value = sorted((await client.hgetall(key)).items())
            elif kind == "zset":
                value = await client.zrange(key, 0, -1, withscores=True)
            elif kind == "set":
                value = sorted(await client.smembers(key))
            elif kind == "list":
                value = await client.lrange(key, 0, -1)
            elif kind == "stream":  # its length is enough to see a change
                value = await client.xlen(key)
            else:
                value = None
            found[key] = (kind, value)
        return dict(sorted(found.items()))
    finally:
        await client.aclose()
