"""arq: one ``enqueue_job`` per job (arq has no batch add), ``_defer_until`` for future times,
the ``arq`` command with ``max_jobs`` = N. ``poll_delay`` is lowered from its 0.5 s default to
10 ms, as huey's polling is (arq reads the queue once per poll)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from arq import create_pool
from arq.connections import RedisSettings

from bench.field import harness, record

DELAYED = None
CONCURRENCY = "async job; `WorkerSettings.max_jobs = N`, `poll_delay = 0.01`"

Enqueue = Callable[[Sequence[int], Sequence[float] | None], Awaitable[None]]

CONCURRENCY_VARIABLE = "FIELD_CONCURRENCY"


async def noop(ctx: dict[str, Any], i: int) -> None:
    record.record(i)


class WorkerSettings:
    functions: ClassVar = [noop]
    redis_settings = RedisSettings.from_dsn(record.url())
    max_jobs = int(os.environ.get(CONCURRENCY_VARIABLE, "10"))
    poll_delay = 0.01
    keep_result = 0


@asynccontextmanager
async def producer() -> AsyncIterator[Enqueue]:
    pool = await create_pool(RedisSettings.from_dsn(record.url()))

    async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
        if dues is None:
            for i in indices:
                await pool.enqueue_job("noop", i)
        else:
            for i, due in zip(indices, dues, strict=True):
                await pool.enqueue_job("noop", i, _defer_until=datetime.fromtimestamp(due, UTC))

    try:
        yield enqueue
    finally:
        await pool.aclose()


def worker_command(concurrency: int) -> list[str]:
    os.environ[CONCURRENCY_VARIABLE] = str(concurrency)
    return [harness.executable("arq"), "bench.field.arq.WorkerSettings"]
