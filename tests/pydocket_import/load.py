"""Loading the fixture `write.py` made into a Redis, under a pydocket docket name of the
test's own, and listing (and removing) the keys of that docket afterwards."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

FIXTURE = Path(__file__).parent / "pydocket-0.27.2.json"


def written() -> dict[str, Any]:
    with FIXTURE.open(encoding="utf-8") as file:
        loaded: dict[str, Any] = json.load(file)
    return loaded


def decode(text: str) -> bytes:
    return base64.b64decode(text)


async def load(client: aioredis.Redis, name: str) -> dict[str, Any]:
    """Write the fixture's keys as docket ``name``'s; returns the fixture."""
    fixture = written()
    old, new = f"{fixture['docket']}:".encode(), f"{name}:".encode()
    for item in fixture["keys"]:
        key = new + decode(item["key"]).removeprefix(old)
        kind, value = item["type"], item["value"]
        if kind == "string":
            await client.set(key, decode(value))
        elif kind == "hash":
            await client.hset(key, mapping={decode(k): decode(v) for k, v in value})
        elif kind == "zset":
            await client.zadd(key, {decode(m): float(s) for m, s in value})
        elif kind == "set":
            await client.sadd(key, *[decode(m) for m in value])
        elif kind == "stream":
            await _load_stream(client, key, value)
        else:
            raise AssertionError(f"unknown type {kind} in the fixture")
        if item["pttl"] > 0:
            await client.pexpire(key, item["pttl"])
    return fixture


async def _load_stream(client: aioredis.Redis, key: bytes, value: dict[str, Any]) -> None:
    for entry_id, fields in value["entries"]:
        await client.xadd(key, {decode(f): decode(v) for f, v in fields}, id=entry_id)
    for group in value["groups"]:
        name = decode(group["name"])
        await client.xgroup_create(key, name, id=group["last-delivered-id"], mkstream=True)
        for entry_id, consumer in group["pending"]:
            # FORCE puts the entry in the group's pending entries as if that consumer read it.
            await client.xclaim(key, name, decode(consumer), 0, [entry_id], force=True)


async def keys_of(client: aioredis.Redis, name: str) -> list[bytes]:
    return sorted([key async for key in client.scan_iter(match=f"{name}:*")])


async def remove(client: aioredis.Redis, name: str) -> None:
    keys = await keys_of(client, name)
    if keys:
        await client.delete(*keys)
