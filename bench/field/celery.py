"""celery: one producer connection for the batch (``apply_async(producer=...)``, celery's
documented way to send many), ``eta`` for future times, ``celery worker --pool threads``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from celery import Celery

from bench.field import harness, record

DELAYED = None
CONCURRENCY = "sync task; `worker --pool threads --concurrency N`"

Enqueue = Callable[[Sequence[int], Sequence[float] | None], Awaitable[None]]

app = Celery("field", broker=record.url())
app.conf.update(
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(ignore_result=True)
def noop(i: int) -> None:
    record.record(i)


@asynccontextmanager
async def producer() -> AsyncIterator[Enqueue]:
    async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
        with app.producer_or_acquire() as sender:
            if dues is None:
                for i in indices:
                    noop.apply_async((i,), producer=sender)
            else:
                for i, due in zip(indices, dues, strict=True):
                    eta = datetime.fromtimestamp(due, UTC)
                    noop.apply_async((i,), eta=eta, producer=sender)

    yield enqueue


def worker_command(concurrency: int) -> list[str]:
    return [
        harness.executable("celery"),
        "-A",
        "bench.field.celery",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "warning",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
