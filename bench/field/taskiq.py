"""taskiq with taskiq-redis: ``ListQueueBroker``, one ``kiq`` per task (no batch send), the
``taskiq worker`` command with one process and ``--max-async-tasks`` N."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from taskiq_redis import ListQueueBroker

from bench.field import harness, record

DELAYED = (
    "taskiq sends a task at a future time only through its separate scheduler process "
    "(`taskiq scheduler` with a schedule source), which checks schedules on whole-second "
    "ticks; the broker itself has no delayed send"
)
CONCURRENCY = "async task; `taskiq worker --workers 1 --max-async-tasks N`"

Enqueue = Callable[[Sequence[int], Sequence[float] | None], Awaitable[None]]

broker = ListQueueBroker(record.url(), queue_name="field")


@broker.task
async def noop(i: int) -> None:
    record.record(i)


@asynccontextmanager
async def producer() -> AsyncIterator[Enqueue]:
    await broker.startup()

    async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
        if dues is not None:
            raise ValueError(DELAYED)
        for i in indices:
            await noop.kiq(i)

    try:
        yield enqueue
    finally:
        await broker.shutdown()


def worker_command(concurrency: int) -> list[str]:
    return [
        harness.executable("taskiq"),
        "worker",
        "bench.field.taskiq:broker",
        "--workers",
        "1",
        "--max-async-tasks",
        str(concurrency),
        "--log-level",
        "WARNING",
    ]
