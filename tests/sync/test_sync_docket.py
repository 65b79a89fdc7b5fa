"""`SyncDocket`: producers in synchronous code (request threads, pre-fork servers, scripts)
add, replace, cancel, scatter and read results through one private event loop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from strew import Agenda, Disposition, Docket, ResultUnavailable, Worker
from strew.stores.memory.store import _registry
from strew.sync import SyncDocket

from ..conftest import leftover_keys


async def double(n: int) -> int:
    return n * 2


async def fail(reason: str) -> None:
    raise ValueError(reason)


@pytest.fixture
def sync_docket(store_url: str, docket_name: str) -> Iterator[SyncDocket]:
    sync = SyncDocket(docket_name, url=store_url)
    sync.register(double)
    sync.register(fail)
    yield sync
    sync.run(sync.docket.store.destroy())
    sync.close()
    if store_url.startswith("redis"):
        assert asyncio.run(leftover_keys(store_url, docket_name)) == []
    _registry.pop((store_url, docket_name), None)


def run_worker(sync: SyncDocket) -> None:
    """Run every due task with a worker on a docket of its own, on a loop of its own."""

    async def work() -> None:
        async with Docket(sync.docket.name, url=sync.docket.url) as docket:
            docket.register(double)
            docket.register(fail)
            async with Worker(docket, schedule_automatic_tasks=False) as worker:
                await worker.run_until_finished()

    asyncio.run(work())


def test_a_sync_docket_adds_a_task_and_reads_its_result(sync_docket: SyncDocket) -> None:
    execution = sync_docket.add(double, key="double-21")(21)
    assert execution.disposition is Disposition.SCHEDULED
    again = sync_docket.add(double, key="double-21")(21)
    assert again.disposition is Disposition.ALREADY_SCHEDULED
    run_worker(sync_docket)
    assert sync_docket.get_result(execution, timeout=10) == 42
    assert sync_docket.get_result("double-21", timeout=10) == 42


def test_a_sync_docket_reraises_the_error_of_a_failed_task(sync_docket: SyncDocket) -> None:
    sync_docket.add(fail, key="failing")("no stock")
    run_worker(sync_docket)
    with pytest.raises(ValueError, match="no stock"):
        sync_docket.get_result("failing", timeout=10)


def test_a_sync_docket_says_when_nothing_is_known_about_a_key(sync_docket: SyncDocket) -> None:
    with pytest.raises(ResultUnavailable, match="never-added"):
        sync_docket.get_result("never-added", timeout=1)


def test_a_misspelt_keyword_is_refused_before_anything_is_written(
    sync_docket: SyncDocket,
) -> None:
    with pytest.raises(TypeError, match="nn"):
        sync_docket.add(double, key="typo")(nn=1)  # type: ignore[call-arg]
    assert sync_docket.get_execution("typo") is None


def test_a_sync_docket_replaces_and_cancels(sync_docket: SyncDocket) -> None:
    when = datetime.now(UTC) + timedelta(minutes=1)
    sync_docket.add(double, when=when, key="report")(1)
    sync_docket.replace(double, when=when, key="report")(2)
    replaced = sync_docket.get_execution("report")
    assert replaced is not None and replaced.args == (2,)
    sync_docket.cancel("report")
    assert sync_docket.snapshot().total_tasks == 0


def test_a_sync_docket_scatters_an_agenda(sync_docket: SyncDocket) -> None:
    agenda = Agenda()
    for n in range(10):
        agenda.add(double, key=f"n-{n}")(n)
    scattered = sync_docket.scatter(agenda, over=timedelta(minutes=5))
    assert [e.disposition for e in scattered] == [Disposition.SCHEDULED] * 10
    assert sync_docket.snapshot().total_tasks == 10


def test_request_threads_add_through_one_sync_docket_at_once(sync_docket: SyncDocket) -> None:
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def request(thread: int) -> None:
        try:
            start.wait()
            for n in range(10):
                sync_docket.add(double, key=f"t{thread}-{n}")(n)
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    threads = [threading.Thread(target=request, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sync_docket.snapshot().total_tasks == 80


def test_a_closed_sync_docket_starts_again_on_its_next_call(sync_docket: SyncDocket) -> None:
    sync_docket.add(double, key="before")(1)
    sync_docket.close()
    sync_docket.add(double, key="after")(2)
    assert sync_docket.snapshot().total_tasks == 2


@pytest.mark.parametrize("store_kind", ["redis"])
def test_a_forked_child_adds_on_connections_of_its_own(sync_docket: SyncDocket) -> None:
    # The parent has a running loop and open connections, as a preloaded gunicorn app does.
    sync_docket.add(double, key="parent-before")(1)
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process may deadlock: this test forks
        # one on purpose, as a pre-fork server does.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            execution = sync_docket.add(double, key="child")(2)
            code = 0 if execution.disposition is Disposition.SCHEDULED else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    sync_docket.add(double, key="parent-after")(3)
    assert sync_docket.snapshot().total_tasks == 3


def test_a_call_past_its_timeout_raises_and_is_cancelled_on_the_loop(
    sync_docket: SyncDocket,
) -> None:
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError, match=r"no answer within 0\.05 seconds"):
        sync_docket.run(forever(), timeout=0.05)
    assert cancelled.wait(10)


def test_calling_a_sync_docket_from_its_own_loop_is_refused_not_a_deadlock(
    sync_docket: SyncDocket,
) -> None:
    async def nested() -> object:
        return sync_docket.snapshot()

    with pytest.raises(RuntimeError, match="its own loop's thread"):
        sync_docket.run(nested())


@pytest.mark.parametrize("store_kind", ["redis"])
def test_a_script_that_never_closes_its_sync_docket_exits_cleanly(
    sync_docket: SyncDocket,
) -> None:
    script = (
        "from strew.sync import SyncDocket\n"
        "async def double(n: int) -> int:\n"
        "    return n * 2\n"
        f"docket = SyncDocket({sync_docket.docket.name!r}, url={sync_docket.docket.url!r})\n"
        "print(docket.add(double, key='from-a-script')(1).disposition.name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "SCHEDULED\n", "")
    assert sync_docket.snapshot().total_tasks == 1
