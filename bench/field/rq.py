"""rq: ``Queue.enqueue_many`` (one pipeline), ``enqueue_at`` for future times, and ``rq worker``
with ``SimpleWorker`` (no fork per job) and its scheduler. One job at a time: rq's worker has
no concurrency setting (a ``worker-pool`` is several processes). rq keeps a scheduled time in
whole seconds, rounded down, so its tasks can start up to a second *early*; the punctuality
figures are signed and show it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from redis import Redis
from rq import Queue

from bench.field import harness, record

DELAYED = None
CONCURRENCY = "sync job; one at a time (`SimpleWorker`; rq has no per-worker concurrency)"

Enqueue = Callable[[Sequence[int], Sequence[float] | None], Awaitable[None]]


def noop(i: int) -> None:
    record.record(i)


@asynccontextmanager
async def producer() -> AsyncIterator[Enqueue]:
    connection = Redis.from_url(record.url())
    queue = Queue("field", connection=connection)

    async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
        if dues is None:
            queue.enqueue_many([Queue.prepare_data(noop, (i,), result_ttl=0) for i in indices])
        else:
            for i, due in zip(indices, dues, strict=True):
                queue.enqueue_at(datetime.fromtimestamp(due, UTC), noop, i, result_ttl=0)

    try:
        yield enqueue
    finally:
        connection.close()


def worker_command(concurrency: int) -> list[str]:
    return [
        harness.executable("rq"),
        "worker",
        "--url",
        record.url(),
        "--worker-class",
        "rq.worker.SimpleWorker",
        "--with-scheduler",
        "--quiet",
        "field",
    ]
