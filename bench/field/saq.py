"""saq: one ``Queue.enqueue`` per job (``map``/``apply`` wait for results), ``scheduled`` for
future times (checked by the worker's ``schedule`` timer, once a second by default), the
``saq`` command with ``concurrency`` N."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from saq import Queue

from bench.field import harness, record

DELAYED = None
CONCURRENCY = "async job; settings `concurrency = N`"

Enqueue = Callable[[Sequence[int], Sequence[float] | None], Awaitable[None]]

CONCURRENCY_VARIABLE = "FIELD_CONCURRENCY"


async def noop(ctx: dict[str, Any], *, i: int) -> None:
    record.record(i)


queue = Queue.from_url(record.url(), name="field")
settings = {
    "queue": queue,
    "functions": [noop],
    "concurrency": int(os.environ.get(CONCURRENCY_VARIABLE, "10")),
}


@asynccontextmanager
async def producer() -> AsyncIterator[Enqueue]:
    mine = Queue.from_url(record.url(), name="field")
    await mine.connect()

    async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
        if dues is None:
            for i in indices:
                await mine.enqueue("noop", i=i)
        else:
            for i, due in zip(indices, dues, strict=True):
                await mine.enqueue("noop", i=i, scheduled=due)

    try:
        yield enqueue
    finally:
        await mine.disconnect()


def worker_command(concurrency: int) -> list[str]:
    os.environ[CONCURRENCY_VARIABLE] = str(concurrency)
    return [harness.executable("saq"), "bench.field.saq.settings", "--workers", "1", "--quiet"]
