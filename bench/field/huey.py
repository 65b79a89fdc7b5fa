"""huey: ``RedisHuey``, one ``enqueue`` per task (it has no batch add), ``huey_consumer``
with a thread pool and its fast-polling options."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from huey import RedisHuey

from bench.field import harness, record

DELAYED = None
CONCURRENCY = "sync task; consumer `-k thread -w N`"

Enqueue = Callable[[Sequence[int], Sequence[float] | None], Awaitable[None]]

huey = RedisHuey("field", url=record.url(), results=False)


@huey.task()
def noop(i: int) -> None:
    record.record(i)


@asynccontextmanager
async def producer() -> AsyncIterator[Enqueue]:
    async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
        if dues is None:
            for i in indices:
                noop(i)
        else:
            for i, due in zip(indices, dues, strict=True):
                noop.schedule(args=(i,), eta=datetime.fromtimestamp(due, UTC))

    yield enqueue


def worker_command(concurrency: int) -> list[str]:
    # -d/-m: poll every 1-10 ms when idle (huey's documented knobs; defaults 0.1 s / 10 s).
    return [
        harness.executable("huey_consumer"),
        "bench.field.huey.huey",
        "-k",
        "thread",
        "-w",
        str(concurrency),
        "-d",
        "0.001",
        "-b",
        "1.0",
        "-m",
        "0.01",
        "-n",
        "-q",
    ]
