"""A Redis server's own account of its steps: the slow log and the latency monitor.

`Observer` resets both before a workload and reads them after: the longest single step (one
command or one Lua script: while it runs, every other client waits), what it was, and the
steps over `LIMIT_MS`. An ``EVALSHA`` is named by its script: the SHA1 of each
``src/strew/stores/redis/lua/*.lua`` as the store loads it (``--#include`` lines expanded), so
scripts added or changed later are named too. Only for a redis-server of our own, whose slow
log is set to catch every step over `SLOW_US` (bench/redis_steps.py starts one).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from strew.stores.redis.common import _load_lua

LIMIT_MS = 50.0
"""The longest a single step may take (issue 18 §1)."""
SLOW_US = 1000
LATENCY_MS = 10
OWN_COMMANDS = {b"SLOWLOG", b"LATENCY", b"PING"}
"""Our own reads of the server, left out of the figures (resetting a long slow log
takes a few ms itself)."""
LUA_DIR = Path(__file__).resolve().parents[1] / "src" / "strew" / "stores" / "redis" / "lua"


# -- naming the scripts ----------------------------------------------------------------------


def script_names() -> dict[str, str]:
    """SHA1 -> script name, for every .lua file beside the store (as loaded, and raw)."""
    names: dict[str, str] = {}
    for path in sorted(LUA_DIR.glob("*.lua")):
        for text in (path.read_text("utf-8"), _load_lua(path.stem)):
            names[hashlib.sha1(text.encode()).hexdigest()] = path.stem
    return names


def describe(command: bytes, names: dict[str, str]) -> str:
    """``EVALSHA <script>.lua`` for a known script, else the command and its first args."""
    parts = command.split(b" ")
    verb = parts[0].decode(errors="replace").upper()
    if verb == "EVALSHA" and len(parts) > 1:
        sha = parts[1].decode(errors="replace").lower()
        return f"EVALSHA {names.get(sha, sha[:12])}"
    # A key of ours is named by what follows the docket's prefix: "ZRANGE {d}:held 0 -1".
    words = [re.sub(r"^strew:\{[^}]*\}", "{d}", p.decode(errors="replace")) for p in parts[:4]]
    return " ".join(word[:24] for word in words)


# -- the server's own account ----------------------------------------------------------------


async def patiently(call: Callable[[], Awaitable[Any]]) -> Any:
    """A read of our own, retried while Redis answers BUSY (a script past its time limit
    still running) or does not answer at all: the step in flight has to end first."""
    deadline = time.monotonic() + 600
    while True:
        try:
            return await call()
        except (BusyLoadingError, RedisTimeout):
            pass
        except ResponseError as error:
            if not str(error).startswith("BUSY"):
                raise
        if time.monotonic() > deadline:
            raise RuntimeError("Redis stayed busy for 10 minutes")
        await asyncio.sleep(0.05)


@dataclass
class Steps:
    """What one workload cost Redis, step by step."""

    wall_s: float
    longest_ms: float
    longest: str
    over_limit: int
    over_limit_ms: float
    logged: int
    latency_max_ms: float
    load_1m: float
    """The load average over the last minute when the workload ended (others on the
    machine skew every figure here but the step count)."""
    error: str = ""
    note: str = ""
    slowest: list[tuple[float, str]] = field(default_factory=list)
    """The five longest steps, ms and what they were."""


class Observer:
    """Our redis-server's slow log and latency monitor, reset before a workload, read after."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(url)
        self.names = script_names()

    async def reset(self) -> None:
        # A docket cleared before (UNLINK) may still be being freed in the background: it
        # would take a core from the workload and slow its steps down.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            memory = await patiently(lambda: self.client.info("memory"))
            if int(memory.get("lazyfree_pending_objects", 0)) == 0:
                break
            await asyncio.sleep(0.05)
        await patiently(self.client.slowlog_reset)
        await patiently(lambda: self.client.latency_reset())

    async def measure(self, action: Callable[[], Awaitable[str]]) -> Steps:
        await self.reset()
        error, note = "", ""
        began = time.perf_counter()
        try:
            note = await action()
        except Exception as failed:  # a measurement: report it, count its steps anyway
            # Without the URL: the port of a throwaway server says nothing.
            error = re.sub(r" at redis://\S+", "", f"{type(failed).__name__}: {failed}")[:160]
        wall = time.perf_counter() - began
        await patiently(self.client.ping)  # whatever step was still running has ended
        entries = await patiently(lambda: self.client.slowlog_get(-1))
        latest = await patiently(lambda: self.client.latency_latest())
        durations = [
            (int(e["duration"]) / 1000, bytes(e["command"]))
            for e in entries
            if bytes(e["command"]).split(b" ", 1)[0].upper() not in OWN_COMMANDS
        ]
        durations.sort(reverse=True)
        longest_ms, command = durations[0] if durations else (0.0, b"")
        over = [ms for ms, _ in durations if ms > LIMIT_MS]
        return Steps(
            wall_s=wall,
            longest_ms=longest_ms,
            longest=describe(command, self.names) if command else "-",
            over_limit=len(over),
            over_limit_ms=sum(over),
            logged=len(durations),
            latency_max_ms=float(max((int(row[3]) for row in latest), default=0)),
            load_1m=os.getloadavg()[0],
            error=error,
            note=note,
            slowest=[(ms, describe(c, self.names)) for ms, c in durations[:5]],
        )

    async def close(self) -> None:
        await self.client.aclose()
