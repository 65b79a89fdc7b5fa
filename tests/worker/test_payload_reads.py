"""Reading a claimed payload: whatever unpickling it raises or however long it takes, the
worker quarantines it (or runs it) and goes on running its other tasks.

A payload names what pickle calls as it reads it, so a planted one can raise anything
(SystemExit included) or block. These are planted as raw bytes, as a bad producer would.
"""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from strew import Docket, Worker
from strew.stores.records import Entry
from strew.task.envelope import ENVELOPE_VERSION, CorruptPayload, load_payload, read_payload

from .. import helpers
from ..helpers import wait_until
from ..processes import events, spawn

ran: list[str] = []


async def note(label: object) -> None:
    ran.append(str(label))


def _raise(kind: type[BaseException]) -> None:
    raise kind("raised while unpickling")


class Raises:
    """Unpickling it raises ``kind``."""

    def __init__(self, kind: type[BaseException]) -> None:
        self.kind = kind

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return _raise, (self.kind,)


class Exits:
    """Unpickling it calls ``sys.exit`` (any process can do that: nothing of the test's)."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return sys.exit, ("planted payload",)


release = threading.Event()
reading = threading.Event()


def _read_slowly(label: str) -> str:
    reading.set()
    release.wait(30)
    return label


class Slow:
    """Unpickling it blocks (in whatever thread reads it) until the test sets `release`."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return _read_slowly, (self.label,)


def envelope(argument: object, when: int, function: str = "note") -> bytes:
    return pickle.dumps((ENVELOPE_VERSION, function, (argument,), {}, when, 1, None))


async def plant(docket: Docket, key: str, payload: bytes) -> None:
    now = await docket.store.now()
    await docket.store.schedule([Entry(key, now - 1, payload)], replace=False)


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    ran.clear()
    release.clear()
    reading.clear()
    yield
    release.set()  # a read the test left blocked ends (its thread was abandoned)


KINDS = [SystemExit, KeyboardInterrupt, GeneratorExit, asyncio.CancelledError, ValueError]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
async def test_a_payload_raising_anything_as_it_is_read_is_quarantined(
    docket: Docket, kind: type[BaseException]
) -> None:
    docket.register(note)
    await plant(docket, "planted", envelope(Raises(kind), 0))
    await docket.add(note, key="normal")("normal")
    worker = Worker(docket, poll_ceiling=timedelta(milliseconds=20))
    await worker.run_until_finished()
    assert ran == ["normal"]
    assert worker.stats.quarantined == 1
    [task] = await docket.quarantined()
    assert task.key == "planted"
    assert kind.__name__ in task.reason and "raised while unpickling" in task.reason


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
async def test_snapshots_show_such_a_payload_as_unreadable(
    docket: Docket, kind: type[BaseException]
) -> None:
    await plant(docket, "planted", envelope(Raises(kind), 0))
    [shown] = (await docket.snapshot()).future
    assert (shown.key, shown.function_name) == ("planted", "<corrupt>")
    with pytest.raises(CorruptPayload, match=kind.__name__):
        docket.execution_from("planted", envelope(Raises(kind), 0))


async def test_a_slow_read_does_not_hold_the_other_tasks_of_the_worker(docket: Docket) -> None:
    docket.register(note)
    await plant(docket, "slow", envelope(Slow("slow"), 0))
    await docket.add(note, key="normal")("normal")
    worker = Worker(docket, poll_ceiling=timedelta(milliseconds=20))
    running = asyncio.create_task(worker.run_until_finished())
    try:
        await wait_until(lambda: ran == ["normal"], message="the normal task to run")
        assert reading.is_set() and not release.is_set()  # the slow read is still blocked
        release.set()
        await asyncio.wait_for(running, 10)
    finally:
        release.set()
        await asyncio.wait_for(running, 10)
    assert ran == ["normal", "slow"]  # once read, the slow one runs
    assert worker.stats.quarantined == 0


async def test_a_read_over_the_timeout_is_abandoned_and_quarantined(docket: Docket) -> None:
    docket.register(note)
    await plant(docket, "slow", envelope(Slow("slow"), 0))
    worker = Worker(
        docket,
        poll_ceiling=timedelta(milliseconds=20),
        payload_read_timeout=timedelta(milliseconds=100),
    )
    await worker.run_until_finished()  # does not wait for the blocked read
    assert not release.is_set()
    [task] = await docket.quarantined()
    assert task.key == "slow" and "took longer than 0.1s" in task.reason
    await docket.add(note, key="after")("after")
    await worker.run_until_finished()
    assert ran == ["after"]


async def test_reading_plain_and_other_payloads_gives_the_same_envelope() -> None:
    plain = envelope(("a", 1, 2.5, None, b"x"), 42)
    other = envelope(Path("/tmp"), 42)
    assert await read_payload(plain, 1.0) == load_payload(plain)
    assert await read_payload(other, 1.0) == load_payload(other)
    with pytest.raises(CorruptPayload, match="SystemExit"):
        await read_payload(envelope(Exits(), 0), 1.0)
    with pytest.raises(CorruptPayload, match="unreadable"):
        await read_payload(b"garbage", 1.0)


# -- a worker process ------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_worker_process_survives_a_payload_that_exits(
    docket_name: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    url = helpers.test_redis_url()
    async with Docket(name=docket_name, url=url) as docket:
        try:
            marker, go = tmp_path / "normal.events", tmp_path / "go"
            go.touch()
            worker = spawn(docket.name, url, log=tmp_path / "worker.log")
            processes.append(worker)
            await plant(docket, "planted", envelope(Exits(), 0, "wait_for_file"))
            await wait_until(
                lambda: _quarantined(docket), timeout=20, message="the quarantine of the payload"
            )
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            [task] = await docket.quarantined()
            assert "SystemExit" in task.reason and "planted payload" in task.reason

            docket.register(_wait_for_file_there, names=["wait_for_file"])
            await docket.add("wait_for_file", key="normal")(str(marker), str(go))
            await wait_until(
                lambda: events(marker) == ["started", "finished"],
                timeout=20,
                message="the normal task queued after it to run",
            )
            assert worker.poll() is None
        finally:
            await docket.store.destroy()


async def _wait_for_file_there(marker: str, go: str) -> None:  # pragma: no cover
    raise AssertionError("scheduled by name for the worker process")


async def _quarantined(docket: Docket) -> bool:
    return len(await docket.quarantined()) == 1
