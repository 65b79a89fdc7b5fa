"""`run_forever` takes SIGINT and SIGTERM only when nobody else handles them: inside an
application that does (uvicorn under FastAPI), they stay the application's, so its Ctrl-C
still stops the server (and its shutdown stops the worker)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import pytest

from strew import Docket, Worker

from ..helpers import wait_until


@pytest.fixture
def app_handles_signals() -> Iterator[list[int]]:
    """An application's own SIGINT and SIGTERM handlers, for the test's duration."""
    caught: list[int] = []

    def handler(signum: int, frame: object) -> None:
        caught.append(signum)

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for signum in before:
        signal.signal(signum, handler)
    try:
        yield caught
    finally:
        for signum, previous in before.items():
            signal.signal(signum, previous)


async def test_a_worker_leaves_an_applications_signals_alone(
    docket: Docket, app_handles_signals: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    mine = signal.getsignal(signal.SIGTERM)
    async with Worker(docket) as worker:
        run = asyncio.create_task(worker.run_forever())
        await wait_until(lambda: "leaves SIGINT and SIGTERM to the application" in caplog.text)
        assert signal.getsignal(signal.SIGTERM) is mine
        signal.raise_signal(signal.SIGTERM)
        assert app_handles_signals == [signal.SIGTERM]  # the application's shutdown, not ours
        worker.stop()  # as the application's shutdown would
        await asyncio.wait_for(run, timeout=10)


async def test_a_worker_on_its_own_takes_them(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    free = signal.getsignal(signal.SIGTERM)
    async with Worker(docket) as worker:
        run = asyncio.create_task(worker.run_forever())
        await wait_until(lambda: "started on docket" in caplog.text)
        # The event loop's handler, through which the worker stops on a signal (the worker
        # process tests send it real ones: tests/cli).
        assert signal.getsignal(signal.SIGTERM) is not free
        worker.stop()
        await asyncio.wait_for(run, timeout=10)
    assert signal.getsignal(signal.SIGTERM) is free
    assert "leaves SIGINT and SIGTERM" not in caplog.text
