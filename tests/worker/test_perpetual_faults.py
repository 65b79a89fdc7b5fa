"""A perpetual task keeps exactly one chain through a worker SIGKILL and a Redis restart,
an automatic one comes back when a Redis restart lost it, and a run in flight during such a
restart is not doubled by its own worker.

Workers run in processes of their own (`tests/perpetual_worker.py`) against a Redis server
of the test's own, with its append-only file written on every change, so that it can be
killed and started again with its data.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from strew import Docket, Perpetual, Worker
from strew.stores.records import StoreError, TaskState
from strew.testing import RedisServer

from ..helpers import wait_until
from ..perpetual_worker import runs, spawn
from ..resilience.test_faults import log_of
from .test_perpetual_automatic import with_canary

pytestmark = pytest.mark.slow

MS = timedelta(milliseconds=1)


def ends(marker: Path) -> int:
    return sum(1 for event, _ in runs(marker) if event == "end")


def assert_one_chain(events: list[tuple[str, int]], killed: int) -> None:
    """Runs never overlap: every start is followed by the end of that same run, except a run
    whose worker was killed, which simply stops."""
    for (event, pid), (following, _) in itertools.pairwise(events):
        if event == "start" and pid != killed:
            assert following == "end", f"a run overlapped another: {events}"
        if event == "end":
            assert following == "start", f"an end without its start: {events}"


async def test_a_perpetual_task_keeps_one_chain_through_a_worker_kill_and_a_redis_restart(
    redis_server: RedisServer,
    docket_name: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    marker = tmp_path / "tick.events"
    url = redis_server.url
    doomed = spawn(docket_name, url, marker, "--redelivery", "1", log=tmp_path / "a.log")
    processes.append(doomed)
    await wait_until(lambda: ends(marker) >= 3, timeout=20, message="three runs on worker A")

    # Kill it in the middle of a run: that run's lease must lapse and pass to another worker.
    await wait_until(
        lambda: runs(marker)[-1] == ("start", doomed.pid), message="a run to be under way"
    )
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    before_kill = ends(marker)

    logs = [tmp_path / "b.log", tmp_path / "c.log"]
    for log in logs:
        processes.append(spawn(docket_name, url, marker, "--redelivery", "1", log=log))
    await wait_until(
        lambda: ends(marker) >= before_kill + 3, timeout=20, message="the chain to go on"
    )

    redis_server.stop(kill=True)
    await wait_until(
        lambda: any("could not" in log_of(log) for log in logs),
        message="a worker to notice Redis is gone",
    )
    redis_server.start()  # same directory: the append-only file brings the data back
    before_restart = ends(marker)
    await wait_until(
        lambda: ends(marker) >= before_restart + 3, timeout=20, message="runs after the restart"
    )

    for process in processes[1:]:
        process.send_signal(signal.SIGTERM)
    for process in processes[1:]:
        assert process.wait(timeout=15) == 0, log_of(logs[processes.index(process) - 1])

    # Worker A started the chain; B and C (and A's restarts) never needed to: the chain was
    # there all along, through the kill (as an expired lease) and the restart (in the AOF).
    started = "started the automatic task tick"
    assert log_of(tmp_path / "a.log").count(started) == 1
    assert all(started not in log_of(log) for log in logs)
    # The run cut short by the kill was taken over once its lease lapsed.
    assert any("redelivered" in log_of(log) for log in logs)

    events = runs(marker)
    assert_one_chain(events, killed=doomed.pid)
    assert {pid for _, pid in events} >= {doomed.pid}
    async with Docket(docket_name, url) as docket:
        snapshot = await docket.snapshot()
        assert [e.key for e in snapshot.future] == ["tick"]
        assert snapshot.running == []
        await docket.store.destroy()


async def test_an_automatic_chain_lost_with_the_redis_data_is_started_again(
    docket_name: str,
) -> None:
    server = RedisServer(appendonly=False)  # and no snapshots: a restart starts empty
    server.start()
    runs: list[str] = []

    async def sweep(
        perpetual: Perpetual = Perpetual(every=timedelta(hours=1), automatic=True),
    ) -> None:
        runs.append("sweep")

    try:
        async with Docket(docket_name, server.url, heartbeat_interval=MS * 50) as docket:
            docket.register(sweep)
            worker = Worker(
                docket,
                reconnection_delay=MS * 200,
                poll_ceiling=MS * 100,
                redelivery_timeout=timedelta(seconds=5),
            )
            run = asyncio.create_task(worker.run_forever())
            try:
                await wait_until(lambda: runs == ["sweep"], message="the first run")

                async def next_step_waiting() -> bool:
                    return [e.key for e in (await docket.snapshot()).future] == ["sweep"]

                await wait_until(next_step_waiting, message="the next step, an hour away")
                server.stop(kill=True)
                server.start()  # everything it held is gone, the chain included
                await wait_until(lambda: len(runs) == 2, timeout=20, message="a new chain")
                await wait_until(next_step_waiting, timeout=20, message="it to go on")
            finally:
                worker.stop()
                await asyncio.wait_for(run, timeout=10)
            await docket.store.destroy()
    finally:
        server.cleanup()


async def test_a_run_in_flight_when_redis_loses_its_data_is_not_doubled_by_its_own_worker(
    docket_name: str,
) -> None:
    """The restart wipes the run's lease: the worker running it must not put the chain back
    (and start a second copy) until that run has ended."""
    server = RedisServer(appendonly=False)  # and no snapshots: a restart starts empty
    server.start()
    release = asyncio.Event()
    started = 0
    in_flight = 0
    most = 0

    async def long(
        perpetual: Perpetual = Perpetual(every=timedelta(hours=1), automatic=True),
    ) -> None:
        nonlocal started, in_flight, most
        started += 1
        in_flight += 1
        most = max(most, in_flight)
        try:
            await release.wait()
        finally:
            in_flight -= 1

    try:
        async with Docket(docket_name, server.url, heartbeat_interval=MS * 50) as docket:
            docket.register(long)
            one_more_check = with_canary(docket)
            worker = Worker(docket, reconnection_delay=MS * 200, poll_ceiling=MS * 100)
            run = asyncio.create_task(worker.run_forever())
            try:
                await wait_until(lambda: started == 1, message="the run to be under way")
                await one_more_check()
                server.stop(kill=True)
                server.start()  # everything it held is gone, the run's lease included

                async def answers() -> bool:
                    try:
                        await docket.store.now()
                    except StoreError:
                        return False
                    return True

                await wait_until(answers, message="the restarted Redis to answer")
                await one_more_check()
                await one_more_check()
                states: list[TaskState] = []

                async def read_long() -> bool:
                    try:
                        states.append(await docket.store.task_state("long"))
                    except StoreError:
                        return False  # a pooled connection the restart closed
                    return True

                await wait_until(read_long, message="the state of the chain")
                assert (states[0].scheduled, states[0].running) == (None, None)
                assert started == 1
                release.set()
                await wait_until(lambda: started == 2, message="the chain back after the run")
            finally:
                worker.stop()
                await asyncio.wait_for(run, timeout=10)
            await docket.store.destroy()
    finally:
        server.cleanup()
    assert most == 1
