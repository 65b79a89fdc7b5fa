"""Faults: a worker killed mid-task, Redis restarted under a worker, graceful shutdown.

These need a real Redis shared between processes, so they run on Redis only. Workers in
other processes come from `tests/processes.py`; they leave their traces in files.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from strew import Docket, StoreUnavailable, Worker
from strew.testing import RedisServer, free_port

from .. import helpers
from ..conftest import leftover_keys
from ..helpers import wait_until
from ..processes import events, record, spawn

pytestmark = pytest.mark.slow


@pytest.fixture
async def docket(docket_name: str) -> AsyncIterator[Docket]:
    """A docket on the shared test Redis; its keys are gone afterwards."""
    url = helpers.test_redis_url()
    async with Docket(name=docket_name, url=url) as docket:
        yield docket
        await docket.store.destroy()
    assert await leftover_keys(url, docket_name) == []


def log_of(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def exited(process: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    await wait_until(lambda: process.poll() is not None, timeout=timeout, message="exit")
    return int(process.returncode)


# -- a worker killed mid-task --------------------------------------------------------------


async def test_a_task_whose_worker_is_killed_runs_again_once_on_another_worker(
    docket: Docket, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker = tmp_path / "block.events"
    await docket.add(_block_here, key="fragile")(str(marker))
    doomed = spawn(docket.name, docket.url, "--redelivery", "1.5", log=tmp_path / "doomed.log")
    processes.append(doomed)
    await wait_until(lambda: events(marker) == ["started"], message="the first run to start")

    os.kill(doomed.pid, signal.SIGKILL)
    assert await exited(doomed) == -signal.SIGKILL

    # The second worker knows the same task name, but its version finishes.
    docket.register(_finish_here, names=["block"])
    survivor = Worker(docket, redelivery_timeout=timedelta(seconds=1.5))
    await asyncio.wait_for(survivor.run_until_finished(), timeout=20)

    assert events(marker) == ["started", "started", "finished"]
    assert survivor.stats.redelivered == 1 and survivor.stats.succeeded == 1
    assert (await docket.snapshot()).total_tasks == 0


async def _block_here(marker: str) -> None:  # pragma: no cover - only its name is scheduled
    raise AssertionError("scheduled by name for the worker process")


_block_here.__name__ = "block"


async def _wait_for_file_here(marker: str, go: str) -> None:  # pragma: no cover
    raise AssertionError("scheduled by name for the worker process")


async def _finish_here(marker: str) -> None:
    record(marker, "started")
    record(marker, "finished")


# -- Redis restarted under a running worker -------------------------------------------------


async def test_a_worker_rides_out_a_redis_restart_and_loses_nothing(
    redis_server: RedisServer, docket_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[int] = []
    halfway = asyncio.Event()
    resume = asyncio.Event()

    async def work(i: int) -> None:
        if i == 10:
            halfway.set()
            await resume.wait()  # runs straight through the outage
        done.append(i)

    async with Docket(docket_name, url=redis_server.url) as docket:
        await docket.add_many([docket.call(work, key=f"w{i}")(i) for i in range(30)])
        worker = Worker(
            docket,
            concurrency=2,
            redelivery_timeout=timedelta(seconds=3),
            reconnection_delay=timedelta(milliseconds=200),
            poll_ceiling=timedelta(milliseconds=100),
        )
        run = asyncio.create_task(worker.run_forever())
        await asyncio.wait_for(halfway.wait(), timeout=10)

        redis_server.stop(kill=True)
        resume.set()
        await wait_until(
            lambda: "could not" in caplog.text, message="the worker to notice Redis is gone"
        )
        redis_server.start()

        await wait_until(lambda: len(done) == 30, timeout=20, message="all 30 tasks to run")
        await wait_until(lambda: not worker.state.finished, message="every acknowledgement to land")
        worker.stop()
        await asyncio.wait_for(run, timeout=10)

        assert sorted(done) == list(range(30))  # each exactly once: none lost, none doubled
        snapshot = await docket.snapshot()
        assert snapshot.total_tasks == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("could not" in r.getMessage() for r in warnings)
    # Backing off: a few attempts while Redis was down, not a busy loop of them.
    assert len(warnings) < 200


async def test_a_producer_fails_fast_when_redis_is_down_and_hides_the_password(
    docket_name: str,
) -> None:
    port = free_port()  # nothing listens here
    url = f"redis://someone:sekrit-pw@127.0.0.1:{port}/0"
    async with Docket(docket_name, url=url) as docket:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as raised:
            await docket.add(_finish_here)("marker")
        elapsed = time.monotonic() - started
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message
    assert "sekrit-pw" not in message and "someone" not in message
    assert elapsed < 3.0, f"took {elapsed:.2f}s to report that Redis is down"


async def test_a_producer_gives_up_on_a_redis_that_stopped_answering(
    redis_server: RedisServer, docket_name: str
) -> None:
    async with Docket(docket_name, url=redis_server.url) as docket:
        await docket.snapshot()  # connected
        assert redis_server.process is not None
        redis_server.process.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(docket.add(_finish_here)("marker"), timeout=5)
        finally:
            redis_server.process.send_signal(signal.SIGCONT)


# -- graceful shutdown ----------------------------------------------------------------------


async def test_sigterm_lets_the_running_task_finish_then_exits_cleanly(
    docket: Docket, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker, go, log = tmp_path / "task.events", tmp_path / "go", tmp_path / "worker.log"
    docket.register(_wait_for_file_here, names=["wait_for_file"])
    await docket.add("wait_for_file", key="running")(str(marker), str(go))
    worker = spawn(docket.name, docket.url, "--grace", "30", log=log)
    processes.append(worker)
    await wait_until(lambda: events(marker) == ["started"], message="the task to start")

    worker.send_signal(signal.SIGTERM)
    await wait_until(lambda: "got SIGTERM" in log_of(log), message="the worker to hear it")
    # It has a free slot, but a stopping worker claims nothing more.
    await docket.add("wait_for_file", key="after-sigterm")(str(tmp_path / "late"), str(go))
    go.touch()

    assert await exited(worker) == 0, log_of(log)
    assert events(marker) == ["started", "finished"]
    assert events(tmp_path / "late") == []
    snapshot = await docket.snapshot()
    assert [e.key for e in snapshot.future] == ["after-sigterm"]
    assert snapshot.running == [] and snapshot.workers == []
    await docket.clear()


async def test_sigterm_hands_back_a_task_that_outlives_the_grace(
    docket: Docket, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker, log = tmp_path / "block.events", tmp_path / "worker.log"
    await docket.add(_block_here, key="stubborn")(str(marker))
    # A long redelivery timeout: only a hand-back can get the task to the next worker in time.
    worker = spawn(docket.name, docket.url, "--grace", "0.2", "--redelivery", "300", log=log)
    processes.append(worker)
    await wait_until(lambda: events(marker) == ["started"], message="the task to start")

    worker.send_signal(signal.SIGTERM)
    assert await exited(worker) == 0, log_of(log)
    assert "hands back task stubborn" in log_of(log)
    snapshot = await docket.snapshot()
    assert [e.key for e in snapshot.future] == ["stubborn"] and snapshot.running == []

    docket.register(_finish_here, names=["block"])
    successor = Worker(docket, redelivery_timeout=timedelta(seconds=300))
    await asyncio.wait_for(successor.run_until_finished(), timeout=10)
    assert events(marker) == ["started", "started", "finished"]
    assert successor.stats.redelivered == 0  # released, not recovered from an expired lease


async def test_a_stop_asked_for_before_the_run_starts_is_not_lost(docket: Docket) -> None:
    worker = Worker(docket)
    run = asyncio.create_task(worker.run_forever())
    worker.stop()  # before the task above has had a chance to start
    await asyncio.wait_for(run, timeout=5)


async def test_a_second_sigterm_hands_running_tasks_back_at_once(
    docket: Docket, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    marker, log = tmp_path / "block.events", tmp_path / "worker.log"
    await docket.add(_block_here, key="stubborn")(str(marker))
    # A grace far longer than the test may take: only the second signal can end it early.
    worker = spawn(docket.name, docket.url, "--grace", "300", log=log)
    processes.append(worker)
    await wait_until(lambda: events(marker) == ["started"], message="the task to start")

    worker.send_signal(signal.SIGTERM)
    await wait_until(lambda: "got SIGTERM" in log_of(log), message="the worker to hear it")
    worker.send_signal(signal.SIGTERM)
    assert await exited(worker) == 0, log_of(log)
    assert "second signal" in log_of(log)
    snapshot = await docket.snapshot()
    assert [e.key for e in snapshot.future] == ["stubborn"] and snapshot.running == []
    await docket.clear()


async def test_a_worker_started_while_redis_is_down_waits_for_it(
    redis_server: RedisServer, docket_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[int] = []

    async def work(i: int) -> None:
        done.append(i)

    async with Docket(docket_name, url=redis_server.url) as docket:
        await docket.add_many([docket.call(work)(i) for i in range(5)])
        redis_server.stop(kill=True)
        worker = Worker(
            docket,
            reconnection_delay=timedelta(milliseconds=200),
            poll_ceiling=timedelta(milliseconds=100),
        )
        run = asyncio.create_task(worker.run_until_finished())
        await wait_until(lambda: "could not claim" in caplog.text, message="a failed claim")
        redis_server.start()
        await asyncio.wait_for(run, timeout=20)
        assert sorted(done) == list(range(5))
        assert (await docket.snapshot()).total_tasks == 0
