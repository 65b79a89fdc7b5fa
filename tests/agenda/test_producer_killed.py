"""A producer SIGKILLed at any point of an atomic scatter on Redis (issue 18 §1): before its
commit no task of it is ever scheduled or run; after it, every task runs exactly once, the
workers finishing the merge the producer did not (stores/redis/batches.py). The producer is a
real process (tests/agenda/producer_child.py), killed mid-call with its connection open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from strew import Docket, Worker
from strew.testing import RedisServer

from ..conftest import leftover_keys
from ..helpers import wait_until
from . import producer_child

COUNT = 6_000  # three chunks of 2,000, three merge steps of 2,000
RAN: Counter[int] = Counter()


async def tally(n: int) -> None:
    RAN[n] += 1


def start_producer(url: str, name: str, point: str, marker: Path) -> subprocess.Popen[bytes]:
    root = Path(__file__).parents[2]
    command = [sys.executable, "-m", "tests.agenda.producer_child", url, name, str(COUNT)]
    return subprocess.Popen(
        [*command, point, str(marker)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


@pytest.mark.parametrize("point", ["stage:1", "stage:2", "merge:0", "merge:1", "merge:2"])
async def test_a_producer_killed_mid_scatter_leaves_all_or_nothing(
    redis_server: RedisServer, docket_name: str, tmp_path: Path, point: str
) -> None:
    RAN.clear()
    marker = tmp_path / "marker"
    child = start_producer(redis_server.url, docket_name, point, marker)
    try:
        await wait_until(marker.exists, timeout=60, message=f"the producer to reach {point}")
        assert marker.read_text() == "here"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        # The same task, under the name the producer's payloads carry.
        docket.register(tally, names=[producer_child.tally.__name__])
        await Worker(docket, concurrency=100).run_until_finished()
        snapshot = await docket.store.snapshot(10)
        if point.startswith("stage"):
            assert Counter() == RAN  # never committed: nothing ran, nothing is scheduled
        else:
            assert Counter(range(COUNT)) == RAN  # committed: all of it, once each
        assert snapshot.scheduled_total == 0
        await docket.store.destroy()
    assert await leftover_keys(redis_server.url, docket_name) == []
