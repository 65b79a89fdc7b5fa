"""streaq: ``Worker.enqueue_many`` (one pipeline), ``.start(schedule=...)`` for future times,
``streaq run`` with the worker's ``concurrency``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from streaq import Worker

from bench.field import harness, record

DELAYED = None
CONCURRENCY = "async task; `Worker(concurrency=N)`"

Enqueue = Callable[[Sequence[int], Sequence[float] | None], Awaitable[None]]

CONCURRENCY_VARIABLE = "FIELD_CONCURRENCY"

worker = Worker(
    redis_url=record.url(),
    queue_name="field",
    concurrency=int(__import__("os").environ.get(CONCURRENCY_VARIABLE, "10")),
)


@worker.task
async def noop(i: int) -> None:
    record.record(i)


@asynccontextmanager
async def producer() -> AsyncIterator[Enqueue]:
    async with worker:

        async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
            if dues is None:
                await worker.enqueue_many([noop.enqueue(i) for i in indices])
            else:
                await worker.enqueue_many(
                    [
                        noop.enqueue(i).start(schedule=datetime.fromtimestamp(due, UTC))
                        for i, due in zip(indices, dues, strict=True)
                    ]
                )

        yield enqueue


def worker_command(concurrency: int) -> list[str]:
    import os

    os.environ[CONCURRENCY_VARIABLE] = str(concurrency)
    return [harness.executable("streaq"), "run", "bench.field.streaq:worker"]
