"""A watcher killed outright (SIGKILL, no goodbye): a task that becomes due while its watch
is still held starts on another worker process once the watch lapses (docs/workers.md, "How
a fleet wakes"). Worker processes come from `tests/processes.py` (poll ceiling 200 ms)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from strew import Docket

from .. import helpers
from ..conftest import leftover_keys
from ..helpers import wait_until
from ..processes import events, spawn, wait_for_file

pytestmark = pytest.mark.slow


@pytest.fixture
async def docket(docket_name: str) -> AsyncIterator[Docket]:
    url = helpers.test_redis_url()
    async with Docket(name=docket_name, url=url) as docket:
        yield docket
        await docket.store.destroy()
    assert await leftover_keys(url, docket_name) == []


async def test_a_killed_watcher_process_is_replaced_and_the_due_task_still_starts(
    docket: Docket, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    docket.register(wait_for_file)
    client = aioredis.Redis.from_url(docket.url)
    watch, line = f"strew:{{{docket.name}}}:watch", f"strew:{{{docket.name}}}:standby"
    try:
        first = spawn(docket.name, docket.url, log=tmp_path / "first.log")
        processes.append(first)

        async def watching() -> bool:
            return await client.get(watch) is not None

        await wait_until(watching, timeout=20, message="the first process to watch")
        for n in range(2):
            processes.append(spawn(docket.name, docket.url, log=tmp_path / f"other{n}.log"))

        async def two_in_line() -> bool:
            return int(await client.zcard(line)) == 2

        await wait_until(two_in_line, timeout=20, message="the others to queue up")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        marker, go = tmp_path / "task.events", tmp_path / "go"
        await docket.add(wait_for_file)(str(marker), str(go))
        # Within the bound: WATCH_LEASE + STANDBY_CHECK ceilings, 1.2 s here.
        await wait_until(lambda: events(marker) == ["started"], message="the task to start")
        go.touch()
        await wait_until(lambda: events(marker) == ["started", "finished"], message="its end")
        pids = {int(line.split()[1]) for line in marker.read_text().splitlines()}
        assert first.pid not in pids
    finally:
        await client.aclose()
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
