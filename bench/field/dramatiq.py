"""dramatiq: ``RedisBroker``, one ``send`` per message (``group`` sends them one by one too),
the ``dramatiq`` command with one process of N threads."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.field import harness, record

DELAYED = None
CONCURRENCY = "sync actor; `--processes 1 --threads N`"

Enqueue = Callable[[Sequence[int], Sequence[float] | None], Awaitable[None]]

broker = RedisBroker(url=record.url())
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="field", max_retries=0)
def noop(i: int) -> None:
    record.record(i)


@asynccontextmanager
async def producer() -> AsyncIterator[Enqueue]:
    async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
        if dues is None:
            for i in indices:
                noop.send(i)
        else:
            for i, due in zip(indices, dues, strict=True):
                delay = max(0, round((due - time.time()) * 1000))
                noop.send_with_options(args=(i,), delay=delay)

    yield enqueue


def worker_command(concurrency: int) -> list[str]:
    return [
        harness.executable("dramatiq"),
        "bench.field.dramatiq",
        "--processes",
        "1",
        "--threads",
        str(concurrency),
        "--queues",
        "field",
        "field.DQ",
    ]
